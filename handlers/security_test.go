package handlers_test

import (
	"context"
	"crypto/sha256"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/handlers"
	"github.com/banq-checkout/checkout/live"
	"github.com/banq-checkout/checkout/store"
)

func sessionKeys(secret string) [][]byte {
	hash := sha256.Sum256([]byte("hash " + secret))
	block := sha256.Sum256([]byte("block " + secret))
	return [][]byte{hash[:], block[:]}
}

// serve runs the handlers on a real store in memory of the test, with one user.
func serve(t *testing.T, publicURL string) *echo.Echo {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if _, err := db.CreateUser(context.Background(), checkout.User{Email: "staff@shop.test", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	h := handlers.New(handlers.Config{PublicURL: publicURL, SessionKeys: sessionKeys("k"),
		WebhookSecrets: func() []string { return []string{"s"} }}, db, nil, nil, live.NewHub())
	e := echo.New()
	h.Routes(e)
	return e
}

func request(e *echo.Echo, method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn signs the user in and returns the answer to the sign-in and its session cookie.
func signIn(t *testing.T, e *echo.Echo) (*httptest.ResponseRecorder, *http.Cookie) {
	t.Helper()
	page := request(e, http.MethodGet, "/login", nil)
	csrf := cookieNamed(page, "checkout_csrf")
	m := csrfField.FindStringSubmatch(page.Body.String())
	if csrf == nil || m == nil {
		t.Fatalf("the sign-in page has no CSRF cookie or token (status %d)", page.Code)
	}
	rec := request(e, http.MethodPost, "/login", url.Values{"email": {"staff@shop.test"},
		"password": {"correct horse battery"}, "_csrf": {m[1]}}, csrf)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in: got %d, want 303: %s", rec.Code, rec.Body)
	}
	s := cookieNamed(rec, "checkout_session")
	if s == nil {
		t.Fatal("sign in set no session cookie")
	}
	return rec, s
}

func TestHTTPSMakesCookiesSecureAndSendsHSTS(t *testing.T) {
	for _, tt := range []struct {
		publicURL string
		secure    bool
	}{
		{"https://pay.example.test", true},
		{"http://localhost:8080", false},
	} {
		t.Run(tt.publicURL, func(t *testing.T) {
			e := serve(t, tt.publicURL)
			page := request(e, http.MethodGet, "/login", nil)
			hsts := page.Header().Get("Strict-Transport-Security")
			if tt.secure != strings.HasPrefix(hsts, "max-age=") {
				t.Errorf("Strict-Transport-Security %q with public URL %s", hsts, tt.publicURL)
			}
			for _, r := range []*httptest.ResponseRecorder{request(e, http.MethodGet, "/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil),
				request(e, http.MethodGet, "/healthz", nil)} {
				if got := r.Header().Get("Strict-Transport-Security"); got != hsts {
					t.Errorf("Strict-Transport-Security %q on another route, want %q as everywhere", got, hsts)
				}
			}
			csrf := cookieNamed(page, "checkout_csrf")
			if csrf == nil || csrf.Secure != tt.secure || !csrf.HttpOnly {
				t.Errorf("CSRF cookie %+v, want Secure=%v and HttpOnly", csrf, tt.secure)
			}
			_, s := signIn(t, e)
			if s.Secure != tt.secure || !s.HttpOnly || s.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie Secure=%v HttpOnly=%v SameSite=%v, want Secure=%v, HttpOnly, Lax",
					s.Secure, s.HttpOnly, s.SameSite, tt.secure)
			}
		})
	}
}

func TestSessionIDUnknownToTheServerIsRefused(t *testing.T) {
	e := serve(t, "http://localhost")
	other := serve(t, "http://localhost") // the same key, another database: a well-formed cookie naming a session this server never made
	_, s := signIn(t, other)
	if rec := request(e, http.MethodGet, "/orders", nil, s); rec.Code != http.StatusSeeOther {
		t.Errorf("a session cookie naming a session this server never made: got %d, want 303 to /login", rec.Code)
	}
	_, mine := signIn(t, e)
	if rec := request(e, http.MethodGet, "/orders", nil, mine); rec.Code != http.StatusOK {
		t.Errorf("the genuine cookie: got %d, want 200", rec.Code)
	}
}

// unsafeTempl names the templ and html/template calls that put text into a page unescaped or
// mark it as trusted.
var unsafeTempl = map[string]map[string]bool{
	"templ": {"Raw": true, "SafeURL": true, "SafeCSS": true, "SafeCSSProperty": true, "SafeClass": true,
		"FromGoHTML": true, "JSUnsafeFuncCall": true, "ComponentScript": true},
	"template": {"HTML": true, "HTMLAttr": true, "JS": true, "JSStr": true, "CSS": true, "URL": true, "Srcset": true},
}

// unsafeUses returns every call (or conversion, or composite literal) of unsafeTempl in the Go
// file, as "file:line: pkg.Name".
func unsafeUses(fset *token.FileSet, f *ast.File) []string {
	var found []string
	check := func(n ast.Node, x ast.Expr) {
		sel, ok := x.(*ast.SelectorExpr)
		if !ok {
			return
		}
		if pkg, ok := sel.X.(*ast.Ident); ok && unsafeTempl[pkg.Name][sel.Sel.Name] {
			found = append(found, fset.Position(n.Pos()).String()+": "+pkg.Name+"."+sel.Sel.Name)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			check(n, n.Fun)
		case *ast.CompositeLit:
			check(n, n.Type)
		}
		return true
	})
	return found
}

// TestNoUnescapedOutput walks every Go file of the module that is not a test, the generated
// views included: templ escapes every expression it renders, unless told not to by one of these.
func TestNoUnescapedOutput(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	fset := token.NewFileSet()
	files, templFiles := 0, 0
	var found []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, ".templ"):
			// Also the sources, in case a generated file is stale.
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			templFiles++
			for _, bad := range []string{"templ.Raw(", "templ.SafeURL(", "templ.SafeCSS(", "templ.FromGoHTML(", "templ.JSUnsafeFuncCall(", "@templ.Raw"} {
				if strings.Contains(string(b), bad) {
					found = append(found, path+": "+bad)
				}
			}
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			found = append(found, unsafeUses(fset, f)...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 || templFiles < 3 {
		t.Fatalf("walked %d Go files and %d templ files under %s, want the whole module", files, templFiles, root)
	}
	for _, f := range found {
		t.Errorf("unescaped output: %s", f)
	}
}

func TestUnsafeUsesFindsRaw(t *testing.T) {
	// The walker itself must see what it looks for, in the shape templ generates.
	src := `package views
import "github.com/a-h/templ"
func x(s string) templ.SafeURL {
	templ_Err = templ.Raw(s).Render(ctx, w)
	_ = templ.ComponentScript{Call: s}
	return templ.SafeURL(s)
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := unsafeUses(fset, f)
	if len(got) != 3 {
		t.Fatalf("found %v, want templ.Raw, templ.ComponentScript and templ.SafeURL (not the result type)", got)
	}
}
