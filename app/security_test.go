package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/handlers"
)

// The security tests: each shows a protection failing closed. See docs/security.md.

const (
	sessionCookie = "checkout_session"
	csrfCookie    = "checkout_csrf"
)

// clock is the handlers' clock in a test: it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs the app with cheap password hashes: bcrypt at its default cost takes about 0.6 s a
// hash under the race detector, and these tests sign in a lot.
func start(tb testing.TB, opt apptest.Options) *apptest.App {
	tb.Helper()
	cfg := opt.Config
	opt.Config = func(c *app.Config) {
		c.PasswordCost = bcrypt.MinCost
		if cfg != nil {
			cfg(c)
		}
	}
	return apptest.Start(tb, opt)
}

// reply is what a request answered, headers and cookies included.
type reply struct {
	Status  int
	Header  http.Header
	Cookies []*http.Cookie
	Body    string
}

func (r reply) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// bare is a client that keeps no cookies and follows no redirects.
var bare = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func do(tb testing.TB, client *http.Client, req *http.Request) reply {
	tb.Helper()
	if client == nil {
		client = bare
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Cookies: resp.Cookies(), Body: string(body)}
}

func newRequest(tb testing.TB, method, u string, form url.Values, cookies ...*http.Cookie) *http.Request {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return req
}

func get(tb testing.TB, u string, cookies ...*http.Cookie) reply {
	tb.Helper()
	return do(tb, nil, newRequest(tb, http.MethodGet, u, nil, cookies...))
}

// jarCookie returns the named cookie the merchant's client holds for the app.
func jarCookie(tb testing.TB, a *apptest.App, m *apptest.Merchant, name string) *http.Cookie {
	tb.Helper()
	u, _ := url.Parse(a.URL)
	for _, c := range m.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("the client holds no %s cookie", name)
	return nil
}

// signedIn reports whether cookies open the order list (200) rather than being sent to sign in.
func signedIn(tb testing.TB, a *apptest.App, cookies ...*http.Cookie) bool {
	tb.Helper()
	r := get(tb, a.URL+"/orders", cookies...)
	switch {
	case r.Status == http.StatusOK:
		return true
	case r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/login":
		return false
	}
	tb.Fatalf("GET /orders: got %d to %q, want 200 or 303 to /login", r.Status, r.Header.Get("Location"))
	return false
}

func countOrders(tb testing.TB, a *apptest.App) int {
	tb.Helper()
	orders, _, err := a.DB.ListOrders(context.Background(), checkout.OrderFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return len(orders)
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.NewMerchant()
	token := m.CSRF(t, "/login")
	r := do(t, m.Client, newRequest(t, http.MethodPost, a.URL+"/login",
		url.Values{"email": {app.DemoEmail}, "password": {a.DemoPassword(t)}, "_csrf": {token}}))
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign in: got %d, want 303", r.Status)
	}
	c := r.cookie(sessionCookie)
	if c == nil {
		t.Fatal("sign in set no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%v Path=%q Secure=%v, want HttpOnly, Lax, /, not Secure on http",
			c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	if c.MaxAge <= 0 || c.MaxAge > 12*3600 {
		t.Errorf("session cookie Max-Age %d, want within the 12h absolute lifetime", c.MaxAge)
	}
	if strings.Contains(c.Value, app.DemoEmail) {
		t.Error("the session cookie shows the user's email: it must hold only an opaque, encrypted session id")
	}
	login := get(t, a.URL+"/login")
	cc := login.cookie(csrfCookie)
	if cc == nil || !cc.HttpOnly || cc.SameSite != http.SameSiteLaxMode {
		t.Errorf("CSRF cookie %+v, want HttpOnly and SameSite=Lax", cc)
	}
}

func TestForgedSessionCookieIsSignedOut(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	other := start(t, apptest.Options{}) // another key: its cookies are forgeries here
	m := a.SignIn(t)
	good := jarCookie(t, a, m, sessionCookie)
	foreign := jarCookie(t, other, other.SignIn(t), sessionCookie)
	if !signedIn(t, a, good) {
		t.Fatal("the genuine cookie does not sign in")
	}

	flip := []byte(good.Value)
	if i := len(flip) / 2; flip[i] == 'A' {
		flip[i] = 'B'
	} else {
		flip[i] = 'A'
	}
	forged := map[string]string{
		"one character changed": string(flip),
		"truncated":             good.Value[:len(good.Value)-4],
		"signed by another key": foreign.Value,
		"made up":               "MTcwMDAwMDAwMHxzaWQ9YWRtaW58",
		"empty":                 "",
	}
	for name, v := range forged {
		t.Run(name, func(t *testing.T) {
			c := &http.Cookie{Name: sessionCookie, Value: v}
			if signedIn(t, a, c) {
				t.Fatalf("a forged cookie (%s) signed in", name)
			}
			// A state-changing request with a valid CSRF pair but the forged session: refused.
			before := countOrders(t, a)
			f := a.NewMerchant()
			token := f.CSRF(t, "/login")
			u, _ := url.Parse(a.URL)
			f.Client.Jar.SetCookies(u, []*http.Cookie{c})
			r := do(t, f.Client, newRequest(t, http.MethodPost, a.URL+"/orders",
				url.Values{"amount": {"1.00"}, "description": {"forged"}, "customer": {"x"}, "_csrf": {token}}))
			if r.Status != http.StatusUnauthorized {
				t.Errorf("POST /orders with a forged session: got %d, want 401", r.Status)
			}
			if n := countOrders(t, a); n != before {
				t.Errorf("orders: got %d, want %d (nothing created)", n, before)
			}
		})
	}
}

func TestSignOutEndsTheSessionOnTheServer(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	old := jarCookie(t, a, m, sessionCookie)
	r := m.PostForm(t, "/orders", "/logout", url.Values{})
	if r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("sign out: got %d to %q, want 303 to /login", r.Status, r.Location)
	}
	if m.Get(t, "/orders").Status != http.StatusSeeOther {
		t.Error("the signing-out client is still signed in")
	}
	// The old cookie replayed, as someone who copied it would: the server ended the session.
	if signedIn(t, a, old) {
		t.Fatal("the cookie from before sign-out still signs in")
	}
	if r := get(t, a.URL+"/orders/events", old); r.Status != http.StatusUnauthorized {
		t.Errorf("GET /orders/events with the old cookie: got %d, want 401", r.Status)
	}
	replay := a.NewMerchant()
	token := replay.CSRF(t, "/login")
	u, _ := url.Parse(a.URL)
	replay.Client.Jar.SetCookies(u, []*http.Cookie{old})
	r2 := do(t, replay.Client, newRequest(t, http.MethodPost, a.URL+"/orders",
		url.Values{"amount": {"1.00"}, "description": {"replayed"}, "customer": {"x"}, "_csrf": {token}}))
	if r2.Status != http.StatusUnauthorized || countOrders(t, a) != 0 {
		t.Errorf("POST /orders with the old cookie: got %d and %d orders, want 401 and none", r2.Status, countOrders(t, a))
	}
}

func TestSignInStartsANewSession(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	first := jarCookie(t, a, m, sessionCookie)
	// The same browser signs in again, presenting its current cookie.
	r := m.PostForm(t, "/orders", "/login", url.Values{"email": {app.DemoEmail}, "password": {a.DemoPassword(t)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("second sign in: got %d, want 303", r.Status)
	}
	second := jarCookie(t, a, m, sessionCookie)
	if second.Value == first.Value {
		t.Fatal("sign-in kept the session cookie it was given")
	}
	if signedIn(t, a, first) {
		t.Error("the session from before the sign-in is still valid: a planted session would survive")
	}
	if !signedIn(t, a, second) {
		t.Error("the new session does not sign in")
	}
}

func TestSessionIdleAndAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := start(t, apptest.Options{Config: func(c *app.Config) { c.Now = clk.Now }})

	t.Run("idle", func(t *testing.T) {
		m := a.SignIn(t)
		c := jarCookie(t, a, m, sessionCookie)
		for i := 0; i < 3; i++ { // used every 1h55m: alive past the idle limit in total
			clk.Add(time.Hour + 55*time.Minute)
			if !signedIn(t, a, c) {
				t.Fatalf("signed out after %d × 1h55m of regular use, want still signed in (idle limit 2h)", i+1)
			}
		}
		clk.Add(2*time.Hour + 2*time.Minute)
		if signedIn(t, a, c) {
			t.Fatal("still signed in after 2h02m without use, want signed out (idle limit 2h)")
		}
		clk.Add(-time.Hour) // even if the clock steps back, the ended session stays ended
		if signedIn(t, a, c) {
			t.Fatal("an idled-out session came back")
		}
		clk.Add(time.Hour)
	})
	t.Run("absolute", func(t *testing.T) {
		m := a.SignIn(t)
		c := jarCookie(t, a, m, sessionCookie)
		for i := 1; i <= 8; i++ { // used every 85 minutes, up to 11h20m after sign-in
			clk.Add(85 * time.Minute)
			if !signedIn(t, a, c) {
				t.Fatalf("signed out %v after sign-in while in use, want signed in until 12h", time.Duration(i)*85*time.Minute)
			}
		}
		clk.Add(45 * time.Minute) // 12h05m after sign-in, last used 45 minutes ago
		if signedIn(t, a, c) {
			t.Fatal("still signed in 12h05m after sign-in, want signed out (absolute limit 12h)")
		}
	})
}

func TestSessionKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const oldKey = "old-session-key-0123456789abcdef-0123"
	const newKey = "new-session-key-fedcba9876543210-4567"
	run := func(key, previous string) *apptest.App {
		return start(t, apptest.Options{Dir: dir, Config: func(c *app.Config) {
			c.SessionKey, c.SessionOld = key, previous
		}})
	}

	a1 := run(oldKey, "")
	written := jarCookie(t, a1, a1.SignIn(t), sessionCookie)
	if err := a1.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restarted mid-rotation: the old cookie is still read, and written again under the new key.
	a2 := run(newKey, oldKey)
	r := get(t, a2.URL+"/orders", written)
	if r.Status != http.StatusOK {
		t.Fatalf("the cookie written under the previous key: got %d, want 200 (still signed in)", r.Status)
	}
	rewritten := r.cookie(sessionCookie)
	if rewritten == nil || rewritten.Value == written.Value || rewritten.MaxAge <= 0 {
		t.Fatalf("the old-key cookie was not written again under the new key: %+v", rewritten)
	}
	if r := get(t, a2.URL+"/orders", rewritten); r.Status != http.StatusOK || r.cookie(sessionCookie) != nil {
		t.Errorf("the rewritten cookie: got %d with a new cookie %v, want 200 and no rewrite", r.Status, r.cookie(sessionCookie) != nil)
	}
	if err := a2.Stop(); err != nil {
		t.Fatal(err)
	}

	// Rotation over: the previous key is dropped. The rewritten cookie lives on, the old one does not.
	a3 := run(newKey, "")
	if !signedIn(t, a3, rewritten) {
		t.Error("the cookie rewritten under the new key does not sign in once the previous key is dropped")
	}
	if signedIn(t, a3, written) {
		t.Error("a cookie under a key no longer configured still signs in")
	}
}

func TestStartRefusesWithoutSessionKeyOutsideSandbox(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BANQ_API_URL": "https://api.banq.example", "BANQ_AUTH_URL": "https://auth.banq.example",
		"BANQ_CLIENT_ID": "c", "BANQ_USERNAME": "u", "BANQ_PASSWORD": "p",
		"CHECKOUT_PUBLIC_URL": "https://pay.example",
	}
	_, err := app.ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CHECKOUT_SESSION_KEY is required") {
		t.Errorf("ParseConfig without CHECKOUT_SESSION_KEY: got %v, want an error naming it", err)
	}
	env["CHECKOUT_SESSION_KEY"] = "short"
	if _, err := app.ParseConfig(nil, func(k string) string { return env[k] }, io.Discard); err == nil {
		t.Error("ParseConfig accepted a 5-character session key")
	}
	// app.New guards too, whoever builds the Config.
	dir := t.TempDir()
	cfg := app.Config{Addr: "127.0.0.1:0", DB: dir + "/c.db", BanqAPIURL: "http://127.0.0.1:9", BanqAuthURL: "http://127.0.0.1:9",
		BanqClientID: "c", BanqUsername: "u", BanqPassword: "p", PublicURL: "https://pay.example", ShutdownTimeout: time.Second}
	a, err := app.New(context.Background(), cfg, discardLogger(), io.Discard)
	if err == nil {
		a.Run(canceled())
		t.Fatal("app.New started with real Banq credentials and no session key")
	}
	if !strings.Contains(err.Error(), "CHECKOUT_SESSION_KEY") {
		t.Errorf("app.New: got %v, want an error naming CHECKOUT_SESSION_KEY", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// forms returns the POST forms of doc, each as its action and the value of its _csrf field
// ("" when it has none).
func forms(tb testing.TB, doc string) map[string]string {
	tb.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	var walk func(n *html.Node, form *html.Node)
	walk = func(n *html.Node, form *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") {
			form = n
			out[attr(n, "action")] = ""
		}
		if form != nil && n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == "_csrf" {
			out[attr(form, "action")] = attr(n, "value")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(root, nil)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestEveryMerchantFormCarriesCSRFToken(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.00", "Tea", a.PayerBanqs(t)[0].GUID)
	check := func(t *testing.T, m *apptest.Merchant, path string) {
		// As a current browser asks: with Sec-Fetch-Site. echo's CSRF middleware would then
		// render a fixed dummy token; the real one must be in the form.
		req := newRequest(t, http.MethodGet, a.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		r := do(t, m.Client, req)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: got %d, want 200", path, r.Status)
		}
		fs := forms(t, r.Body)
		if len(fs) == 0 {
			t.Fatalf("%s has no POST form", path)
		}
		want := jarCookie(t, a, m, csrfCookie).Value
		for action, token := range fs {
			if token == "" || token != want {
				t.Errorf("%s: the form posting to %q carries _csrf %q, want the token of the CSRF cookie", path, action, token)
			}
		}
	}
	for _, path := range []string{"/orders", "/orders/new", "/account", "/orders/" + strconv.FormatInt(o.ID, 10)} {
		t.Run(path, func(t *testing.T) { check(t, m, path) })
	}
	t.Run("/login", func(t *testing.T) {
		out := a.NewMerchant()
		out.Get(t, "/login") // gets its CSRF cookie
		check(t, out, "/login")
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	payer := a.PayerBanqs(t)[0].GUID
	m := a.SignIn(t)
	token := m.CSRF(t, "/orders/new")
	other := a.SignIn(t).CSRF(t, "/orders/new") // valid, but for another browser's cookie
	// The right token with its first character changed (to one it surely is not).
	wrong := "x" + token[1:]
	if token[0] == 'x' {
		wrong = "y" + token[1:]
	}
	order := func(csrf string) url.Values {
		v := url.Values{"amount": {"4.20"}, "description": {"CSRF probe"}, "customer": {payer}}
		if csrf != "" {
			v.Set("_csrf", csrf)
		}
		return v
	}
	post := func(t *testing.T, client *http.Client, form url.Values, header map[string]string) reply {
		req := newRequest(t, http.MethodPost, a.URL+"/orders", form)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return do(t, client, req)
	}

	refused := []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"non-browser client, no token, no Sec-Fetch-Site", order(""), nil},
		{"wrong token", order(wrong), nil},
		{"another browser's token", order(other), nil},
		{"empty token", url.Values{"_csrf": {""}, "amount": {"1.00"}, "description": {"x"}, "customer": {payer}}, nil},
		{"forged cross-site post with the right token", order(token), map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"cross-site post without a token", order(""), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site post with the right token", order(token), map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"non-browser claiming same-origin, no token", order(""), map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"non-browser claiming none, no token", order(""), map[string]string{"Sec-Fetch-Site": "none"}},
		{"non-browser claiming same-origin, echo's dummy token", order("_echo_csrf_using_sec_fetch_site_"), map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"wrong token in the header", order(""), map[string]string{"X-CSRF-Token": other}},
		// Browsers without Fetch Metadata still send Origin: a foreign one is refused whatever
		// the token (http.CrossOriginProtection).
		{"foreign Origin with the right token", order(token), map[string]string{"Origin": "https://evil.example"}},
		{"foreign Origin, same host on another port, with the right token", order(token), map[string]string{"Origin": "http://127.0.0.1:1"}},
		{"Origin null with the right token", order(token), map[string]string{"Origin": "null"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, m.Client, tt.form, tt.header)
			if r.Status != http.StatusForbidden {
				t.Fatalf("got %d, want 403", r.Status)
			}
			if n := countOrders(t, a); n != 0 {
				t.Fatalf("%d orders exist, want none: a refused request changed something", n)
			}
		})
	}
	t.Run("no CSRF cookie at all", func(t *testing.T) {
		// A token, however obtained, and the session cookie, but no CSRF cookie to match.
		req := newRequest(t, http.MethodPost, a.URL+"/orders", order(token), jarCookie(t, a, m, sessionCookie))
		r := do(t, nil, req)
		if r.Status != http.StatusForbidden || countOrders(t, a) != 0 {
			t.Fatalf("got %d with %d orders, want 403 and none", r.Status, countOrders(t, a))
		}
	})
	t.Run("sign-out, password change and sign-in need it too", func(t *testing.T) {
		for _, p := range []struct {
			path string
			form url.Values
		}{
			{"/logout", url.Values{}},
			{"/account/password", url.Values{"current": {a.DemoPassword(t)}, "new": {"a-brand-new-password"}}},
			{"/login", url.Values{"email": {app.DemoEmail}, "password": {a.DemoPassword(t)}}},
		} {
			r := do(t, m.Client, newRequest(t, http.MethodPost, a.URL+p.path, p.form))
			if r.Status != http.StatusForbidden {
				t.Errorf("POST %s without a token: got %d, want 403", p.path, r.Status)
			}
			if r.cookie(sessionCookie) != nil {
				t.Errorf("POST %s without a token set a session cookie", p.path)
			}
		}
		if m.Get(t, "/orders").Status != http.StatusOK {
			t.Error("a sign-out without token signed the merchant out")
		}
		if u, err := a.DB.UserByEmail(context.Background(), app.DemoEmail); err != nil || !u.Demo || !u.PasswordChangedAt.IsZero() {
			t.Errorf("a password change without token changed the password (%+v, %v)", u, err)
		}
	})

	// The same requests with the token go through: the refusals above were for the token.
	if r := post(t, m.Client, order(token), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("with the form token: got %d, want 303: %s", r.Status, r.Body)
	}
	if r := post(t, m.Client, order(""), map[string]string{"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"}); r.Status != http.StatusSeeOther {
		t.Fatalf("with the header token from the same origin: got %d, want 303", r.Status)
	}
	if r := post(t, m.Client, order(token), map[string]string{"Origin": a.URL}); r.Status != http.StatusSeeOther {
		t.Fatalf("with the form token and the app's own Origin: got %d, want 303", r.Status)
	}
	if n := countOrders(t, a); n != 3 {
		t.Fatalf("got %d orders, want 3", n)
	}
}

// inlineCode returns what in doc a CSP without 'unsafe-inline' would block: script elements
// without src, style elements, style attributes and on* handler attributes.
func inlineCode(doc string) []string {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return []string{err.Error()}
	}
	var found []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "script" && attr(n, "src") == "":
				found = append(found, "<script> without src")
			case n.Data == "style":
				found = append(found, "<style>")
			}
			for _, a := range n.Attr {
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					found = append(found, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return found
}

func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[strings.ToLower(f[0])] = f[1:]
		}
	}
	return out
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "5.00", "Scone", a.PayerBanqs(t)[0].GUID)
	id := strconv.FormatInt(o.ID, 10)
	session := jarCookie(t, a, m, sessionCookie)
	webhook := func() reply {
		req := newRequest(t, http.MethodPost, a.URL+"/webhooks/banq", nil)
		return do(t, nil, req)
	}
	pages := []struct {
		name     string
		r        reply
		status   int
		pay      bool // a payment link: no referrer at all
		merchant bool // a merchant page: never cached
	}{
		{"sign-in page", get(t, a.URL+"/login"), 200, false, true},
		{"order list", get(t, a.URL+"/orders", session), 200, false, true},
		{"new order", get(t, a.URL+"/orders/new", session), 200, false, true},
		{"order page", get(t, a.URL+"/orders/"+id, session), 200, false, true},
		{"account", get(t, a.URL+"/account", session), 200, false, true},
		{"unknown order", get(t, a.URL+"/orders/999999", session), 404, false, true},
		{"payment page", get(t, a.URL+"/pay/"+o.Token), 200, true, false},
		{"unknown payment link", get(t, a.URL+"/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 404, true, false},
		{"unknown payment link's stream", get(t, a.URL+"/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/events"), 404, true, false},
		{"no such route", get(t, a.URL+"/no/such/page", session), 404, false, true},
		{"stylesheet", get(t, a.URL+"/static/app.css"), 200, false, false},
		{"health", get(t, a.URL+"/healthz"), 200, false, false},
		{"webhook refused", webhook(), 401, false, false},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if p.r.Status != p.status {
				t.Fatalf("got %d, want %d", p.r.Status, p.status)
			}
			h := p.r.Header
			csp := h.Get("Content-Security-Policy")
			d := cspDirectives(csp)
			if !slices.Equal(d["default-src"], []string{"'self'"}) || !slices.Equal(d["frame-ancestors"], []string{"'none'"}) {
				t.Errorf("Content-Security-Policy %q, want default-src 'self' and frame-ancestors 'none'", csp)
			}
			for _, dir := range []string{"script-src", "style-src"} {
				if v, ok := d[dir]; ok && !slices.Equal(v, []string{"'self'"}) {
					t.Errorf("%s %v, want 'self' only", dir, v)
				}
			}
			if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") {
				t.Errorf("Content-Security-Policy %q allows unsafe or wildcard sources", csp)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			wantRef := "same-origin"
			if p.pay {
				wantRef = "no-referrer"
			}
			if got := h.Get("Referrer-Policy"); got != wantRef {
				t.Errorf("Referrer-Policy %q, want %q", got, wantRef)
			}
			if got := h.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("Strict-Transport-Security %q on plain http, want none", got)
			}
			if p.merchant || p.pay && p.status == 200 {
				if got := h.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", got)
				}
			}
			if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				if inl := inlineCode(p.r.Body); len(inl) > 0 {
					t.Errorf("inline code the CSP would block: %v", inl)
				}
			}
		})
	}
}

func TestSignInBruteForceIsLimited(t *testing.T) {
	t.Parallel()
	clk := newClock()
	// The per-account limit is the default (5); the per-address one is lowered from 20 to
	// keep bcrypt's cost down.
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.Now = clk.Now
		c.SignInLimits = handlers.SignInLimits{PerAddress: 8}
	}})
	signIn := func(t *testing.T, email, password string, header map[string]string) reply {
		t.Helper()
		m := a.NewMerchant()
		token := m.CSRF(t, "/login")
		req := newRequest(t, http.MethodPost, a.URL+"/login", url.Values{"email": {email}, "password": {password}, "_csrf": {token}})
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return do(t, m.Client, req)
	}
	wantRefused := func(t *testing.T, r reply, status int, msg string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("got %d, want %d", r.Status, status)
		}
		if got := apptest.Text(r.Body, "login-error"); !strings.Contains(got, msg) {
			t.Fatalf("message %q, want one with %q", got, msg)
		}
		if r.cookie(sessionCookie) != nil {
			t.Fatal("a refused sign-in set a session cookie")
		}
	}
	password := a.DemoPassword(t)

	for i := 0; i < 5; i++ {
		wantRefused(t, signIn(t, app.DemoEmail, "guess-"+strconv.Itoa(i), nil), http.StatusUnauthorized, "The email or password is wrong.")
	}
	// The account is locked here for a while: even the right password is refused, and the page
	// says why.
	r := signIn(t, strings.ToUpper(app.DemoEmail), password, nil)
	wantRefused(t, r, http.StatusTooManyRequests, "Too many failed sign-ins")
	if got := apptest.Text(r.Body, "login-error"); !strings.Contains(got, "Try again in 1 minute") {
		t.Errorf("message %q, want it to say when to try again (1 minute)", got)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q, want 1..60 seconds", r.Header.Get("Retry-After"))
	}

	// The address: 3 more failures on other accounts make 8, the lowered per-address limit.
	for i := 0; i < 3; i++ {
		wantRefused(t, signIn(t, fmt.Sprintf("nobody%d@example.test", i), "guess", nil), http.StatusUnauthorized, "wrong")
	}
	wantRefused(t, signIn(t, "someone-else@example.test", "guess", nil), http.StatusTooManyRequests, "Too many failed sign-ins")
	// X-Forwarded-For is anyone's to write: without a trusted proxy it changes nothing.
	wantRefused(t, signIn(t, "someone-else@example.test", "guess", map[string]string{"X-Forwarded-For": "203.0.113.9"}),
		http.StatusTooManyRequests, "Too many failed sign-ins")

	clk.Add(15*time.Minute + time.Second)
	if r := signIn(t, app.DemoEmail, password, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window: got %d, want 303 (signed in)", r.Status)
	}
}

// A stranger guessing the owner's password from another address does not lock the owner out;
// the stranger's own lock grows with each further failure.
func TestSignInLockoutIsPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	clk := newClock()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.Now = clk.Now
		c.TrustedProxies = []*net.IPNet{loopback}
	}})
	password := a.DemoPassword(t)
	signIn := func(client, password string) reply {
		m := a.NewMerchant()
		token := m.CSRF(t, "/login")
		req := newRequest(t, http.MethodPost, a.URL+"/login", url.Values{"email": {app.DemoEmail}, "password": {password}, "_csrf": {token}})
		req.Header.Set("X-Forwarded-For", client)
		return do(t, m.Client, req)
	}
	const stranger, owner = "203.0.113.66", "198.51.100.7"
	for i := 0; i < 5; i++ {
		if got := signIn(stranger, "guess-"+strconv.Itoa(i)).Status; got != http.StatusUnauthorized {
			t.Fatalf("stranger's failure %d: got %d, want 401", i+1, got)
		}
	}
	if got := signIn(stranger, password).Status; got != http.StatusTooManyRequests {
		t.Fatalf("stranger after 5 failures, right password: got %d, want 429", got)
	}
	if got := signIn(owner, password).Status; got != http.StatusSeeOther {
		t.Fatalf("the owner from elsewhere after a stranger's 5 failures: got %d, want 303 (signed in)", got)
	}
	// Growing delays: 1 minute, then 2 after one more failure.
	clk.Add(time.Minute + time.Second)
	if got := signIn(stranger, "guess-again").Status; got != http.StatusUnauthorized {
		t.Fatalf("stranger after the first lock: got %d, want 401", got)
	}
	r := signIn(stranger, password)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || err != nil || ra <= 60 || ra > 120 {
		t.Fatalf("stranger after a 6th failure: got %d with Retry-After %q, want 429 with 61..120 seconds", r.Status, r.Header.Get("Retry-After"))
	}
}

func TestSignInLimitPerClientBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.TrustedProxies = []*net.IPNet{loopback}
		c.SignInLimits = handlers.SignInLimits{PerAddress: 2, PerAccount: 100}
	}})
	signIn := func(client string) int {
		m := a.NewMerchant()
		token := m.CSRF(t, "/login")
		req := newRequest(t, http.MethodPost, a.URL+"/login", url.Values{"email": {"x@example.test"}, "password": {"guess"}, "_csrf": {token}})
		req.Header.Set("X-Forwarded-For", client)
		return do(t, m.Client, req).Status
	}
	for i := 0; i < 2; i++ {
		if got := signIn("203.0.113.1"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i+1, got)
		}
	}
	if got := signIn("203.0.113.1"); got != http.StatusTooManyRequests {
		t.Fatalf("third failure from the same client: got %d, want 429", got)
	}
	if got := signIn("203.0.113.2"); got != http.StatusUnauthorized {
		t.Fatalf("another client behind the same proxy: got %d, want 401 (not limited)", got)
	}
}

func TestSignInTimingUnknownUserVsWrongPassword(t *testing.T) {
	// Not parallel: the other tests' bcrypt work would blur the timing.
	clk := newClock()
	// bcrypt at its default cost, as in production (not start's cheap hashes).
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.Now = clk.Now }})
	m := a.NewMerchant()
	token := m.CSRF(t, "/login")
	attempt := func(email string) time.Duration {
		clk.Add(16 * time.Minute) // past the limiter's window: every attempt is a real one
		req := newRequest(t, http.MethodPost, a.URL+"/login", url.Values{"email": {email}, "password": {"wrong password"}, "_csrf": {token}})
		start := time.Now()
		r := do(t, m.Client, req)
		d := time.Since(start)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("sign in as %s: got %d, want 401", email, r.Status)
		}
		return d
	}
	attempt("warm-up@example.test")
	const n = 5
	var unknown, wrong []time.Duration
	for i := 0; i < n; i++ {
		unknown = append(unknown, attempt(fmt.Sprintf("nobody%d@example.test", i)))
		wrong = append(wrong, attempt(app.DemoEmail))
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("median sign-in: unknown user %v, wrong password %v, ratio %.2f", mu, mw, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown user %v vs wrong password %v: ratio %.2f, want within 0.5–2 (the answer time tells which emails exist)", mu, mw, ratio)
	}
}

func TestMerchantRoutesRequireSignIn(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "6.00", "Bagel", a.PayerBanqs(t)[0].GUID)
	public := map[string]bool{
		"GET /healthz": true, "GET /readyz": true, "GET /static/*": true,
		"GET /pay/:token": true, "GET /pay/:token/events": true, "GET /pay/:token/qr.svg": true,
		"GET /brand.css": true, "GET /brand/logo": true,
		"GET /": true, "GET /login": true, "POST /login": true, "POST /logout": true,
		"GET /pay/:token/banq-qr.svg": true, "GET /api/openapi.yaml": true,
		"GET /invite/:token": true, "POST /invite/:token": true, // the token is the key (TestInviteLinkIsOneTimeAndExpires)
	}
	// A signed-out browser with a valid CSRF pair: only the missing session can refuse it.
	out := a.NewMerchant()
	token := out.CSRF(t, "/login")
	checked := 0
	for _, rt := range a.Echo.Routes() {
		key := rt.Method + " " + rt.Path
		// Everything under /webhooks/ is Banq's, signed instead of signed in (see
		// TestWebhookURLAnswersLikeAnAPI).
		if public[key] || rt.Method == "echo_route_not_found" || strings.HasPrefix(rt.Path, "/webhooks/") {
			continue
		}
		checked++
		path := strings.ReplaceAll(rt.Path, ":id", strconv.FormatInt(o.ID, 10))
		var r reply
		if rt.Method == http.MethodGet {
			r = do(t, out.Client, newRequest(t, http.MethodGet, a.URL+path, nil))
		} else {
			r = do(t, out.Client, newRequest(t, rt.Method, a.URL+path, url.Values{"_csrf": {token}}))
		}
		switch {
		case strings.HasPrefix(path, "/api/v1/"): // the shop API: a key, not a session
			if r.Status != http.StatusUnauthorized || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("signed out %s: got %d %s, want a 401 problem", key, r.Status, r.Header.Get("Content-Type"))
			}
		case rt.Method == http.MethodGet && strings.HasSuffix(path, "/events"):
			if r.Status != http.StatusUnauthorized {
				t.Errorf("signed out %s: got %d, want 401", key, r.Status)
			}
		case rt.Method == http.MethodGet:
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
				t.Errorf("signed out %s: got %d to %q, want 303 to /login", key, r.Status, r.Header.Get("Location"))
			}
		default:
			if r.Status != http.StatusUnauthorized {
				t.Errorf("signed out %s: got %d, want 401", key, r.Status)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("checked %d merchant routes, want every one of them (at least 8)", checked)
	}
	if n := countOrders(t, a); n != 1 {
		t.Errorf("signed-out requests changed the orders: %d, want 1", n)
	}
	// Signed out, an order that does not exist looks like one that does.
	for _, id := range []string{"1", "999999"} {
		if r := get(t, a.URL+"/orders/"+id); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("signed out GET /orders/%s: got %d to %q, want 303 to /login", id, r.Status, r.Header.Get("Location"))
		}
	}
}

func TestEnumeratedIDsAndTokensGet404(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "7.00", "Muffin", a.PayerBanqs(t)[0].GUID)
	for _, id := range []string{"999999", "0", "-1", "abc", "1e3", strconv.FormatInt(o.ID+1, 10), "999999/events"} {
		r := m.Get(t, "/orders/"+id)
		if r.Status != http.StatusNotFound {
			t.Errorf("signed in GET /orders/%s: got %d, want 404", id, r.Status)
		}
	}
	if r := m.Get(t, "/orders/"+strconv.FormatInt(o.ID, 10)); r.Status != http.StatusOK {
		t.Fatalf("the existing order: got %d, want 200", r.Status)
	}

	// Payment links: random tokens of the real shape and others, the order id, a near miss.
	near := []byte(o.Token)
	near[len(near)-1] ^= 1
	probes := []string{string(near), strconv.FormatInt(o.ID, 10), o.IdempotencyKey, "x", strings.Repeat("A", 65)}
	for i := 0; i < 20; i++ {
		probes = append(probes, randomToken(t))
	}
	var first string
	for _, p := range probes {
		for _, suffix := range []string{"", "/events"} {
			r := get(t, a.URL+"/pay/"+url.PathEscape(p)+suffix)
			if r.Status != http.StatusNotFound {
				t.Fatalf("GET /pay/%s%s: got %d, want 404", p, suffix, r.Status)
			}
			if suffix == "" {
				if first == "" {
					first = r.Body
				} else if r.Body != first {
					t.Errorf("GET /pay/%s answers differently from other unknown tokens: the answer tells them apart", p)
				}
			}
		}
	}
	if r := get(t, a.URL+"/pay/"+o.Token); r.Status != http.StatusOK {
		t.Fatalf("the real payment link: got %d, want 200", r.Status)
	}
}

// randomToken has the shape of a real payment token: 24 random bytes, base64url.
func randomToken(tb testing.TB) string {
	tb.Helper()
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func TestPaymentLinkRevealsOneOrder(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	mine := m.MustCreateOrder(t, "8.00", "Flat white for Ada", payers[0].GUID)
	theirs := m.MustCreateOrder(t, "99.00", "Secret catering for the board", payers[1].GUID)
	r := get(t, a.URL+"/pay/"+mine.Token)
	if r.Status != http.StatusOK {
		t.Fatalf("payment page: got %d, want 200", r.Status)
	}
	if got := apptest.Text(r.Body, "description"); got != mine.Description {
		t.Fatalf("payment page describes %q, want %q", got, mine.Description)
	}
	for what, s := range map[string]string{
		"the other order's description": theirs.Description, "the other order's customer": theirs.CustomerName,
		"the other order's link": theirs.Token, "the other order's amount": "99.00",
		"the other order's Banq payment": theirs.PaymentID, "the idempotency key": mine.IdempotencyKey,
		"the merchant's login": app.DemoEmail, "a merchant link": `href="/orders`, "a CSRF token": "_csrf",
		"the account page": "/account",
	} {
		if s != "" && (strings.Contains(r.Body, s) || strings.Contains(pageText(t, r.Body), s)) {
			t.Errorf("the payment page shows %s (%q)", what, s)
		}
	}
	if r.cookie(sessionCookie) != nil || r.cookie(csrfCookie) != nil {
		t.Error("the payment page sets merchant cookies")
	}
}

// webhookBody is a well-formed webhook about a payment the app does not know.
func webhookBody(id string) []byte {
	b, _ := json.Marshal(banq.Webhook{ID: id, ResourceType: banq.ResourcePayment, Action: banq.ActionCreated,
		ResourceID: "pay-" + id, AccountSpaceID: 1, CreatedAtUTC: time.Now().UTC()})
	return b
}

func postWebhook(tb testing.TB, a *apptest.App, body []byte, signature string) reply {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, a.URL+"/webhooks/banq", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(banq.HeaderWebhookHMAC, signature)
	}
	return do(tb, nil, req)
}

func stored(tb testing.TB, a *apptest.App, id string) bool {
	tb.Helper()
	_, err := a.DB.Webhook(context.Background(), id)
	if err != nil && checkout.ErrorCode(err) != checkout.ENotFound {
		tb.Fatal(err)
	}
	return err == nil
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	const current, previous = "webhook-secret-current-0123456789", "webhook-secret-previous-0123456789"
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.WebhookSecret, c.WebhookSecretPrev = current, previous
	}})
	refused := []struct {
		name   string
		sign   func(body []byte) string
		status int
	}{
		{"missing signature", func([]byte) string { return "" }, 401},
		{"blank signature", func([]byte) string { return "   " }, 401},
		{"not base64", func([]byte) string { return "not a signature!" }, 401},
		{"signed with an unknown secret", func(b []byte) string { return banq.Sign(b, "guessed-secret") }, 401},
		{"signature of another body", func([]byte) string { return banq.Sign(webhookBody("other"), current) }, 401},
		{"signature truncated", func(b []byte) string { return banq.Sign(b, current)[:20] }, 401},
		{"signature in hex", func(b []byte) string { return fmt.Sprintf("%x", []byte(banq.Sign(b, current))) }, 401},
	}
	for i, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			id := "wh-refused-" + strconv.Itoa(i)
			body := webhookBody(id)
			if r := postWebhook(t, a, body, tt.sign(body)); r.Status != tt.status {
				t.Fatalf("got %d, want %d", r.Status, tt.status)
			}
			if stored(t, a, id) {
				t.Fatal("a refused webhook was stored")
			}
		})
	}
	t.Run("too large, even signed", func(t *testing.T) {
		body := append(webhookBody("wh-large"), bytes.Repeat([]byte(" "), 65<<10)...)
		if r := postWebhook(t, a, body, banq.Sign(body, current)); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d, want 413", r.Status)
		}
		if stored(t, a, "wh-large") {
			t.Fatal("an oversized webhook was stored")
		}
	})
	for name, secret := range map[string]string{"current": current, "previous (rotation)": previous} {
		t.Run("signed with the "+name+" secret", func(t *testing.T) {
			id := "wh-" + strings.Fields(name)[0]
			body := webhookBody(id)
			if r := postWebhook(t, a, body, banq.Sign(body, secret)); r.Status != http.StatusOK {
				t.Fatalf("got %d, want 200: %s", r.Status, r.Body)
			}
			if !stored(t, a, id) {
				t.Fatal("an accepted webhook is not in the inbox")
			}
		})
	}
}

func TestWebhookRateLimitAnswers429(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const secret = "webhook-secret-for-rate-limits-0123"
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.Now, c.WebhookSecret = clk.Now, secret
		c.WebhookRate = handlers.Rate{PerSecond: 1, Burst: 5}
		c.WebhookBadRate = handlers.Rate{PerSecond: 1.0 / 60, Burst: 3}
	}})
	send := func(id string) reply {
		body := webhookBody(id)
		return postWebhook(t, a, body, banq.Sign(body, secret))
	}
	retryAfter := func(t *testing.T, r reply) time.Duration {
		t.Helper()
		s, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || s < 1 {
			t.Fatalf("429 with Retry-After %q, want a number of seconds ≥ 1", r.Header.Get("Retry-After"))
		}
		return time.Duration(s) * time.Second
	}

	t.Run("a flood of valid webhooks", func(t *testing.T) {
		var pending []string
		for i := 0; i < 12; i++ {
			pending = append(pending, "wh-flood-"+strconv.Itoa(i))
		}
		accepted, limited := 0, 0
		for round := 0; len(pending) > 0; round++ {
			if round > 10 {
				t.Fatalf("%d webhooks still refused after 10 rounds of retries", len(pending))
			}
			var again []string
			var wait time.Duration
			for _, id := range pending {
				switch r := send(id); r.Status {
				case http.StatusOK:
					accepted++
					if !stored(t, a, id) {
						t.Fatalf("webhook %s answered 200 but is not stored", id)
					}
				case http.StatusTooManyRequests:
					limited++
					wait = retryAfter(t, r)
					if stored(t, a, id) {
						t.Fatalf("webhook %s answered 429 but was stored", id)
					}
					again = append(again, id)
				default:
					t.Fatalf("webhook %s: got %d, want 200 or 429 (never another answer, never silence)", id, r.Status)
				}
			}
			if round == 0 && accepted != 5 {
				t.Fatalf("first round: %d accepted, want 5 (the burst)", accepted)
			}
			pending = again
			clk.Add(wait * 5) // Banq comes back after Retry-After (here long enough for 5)
		}
		if limited == 0 || accepted != 12 {
			t.Fatalf("accepted %d of 12 after %d refusals; want all 12, some after a 429", accepted, limited)
		}
	})

	t.Run("bad signatures are limited strictly", func(t *testing.T) {
		clk.Add(time.Minute) // the general bucket is full again
		for i := 0; i < 3; i++ {
			body := webhookBody("wh-bad-" + strconv.Itoa(i))
			if r := postWebhook(t, a, body, banq.Sign(body, "wrong")); r.Status != http.StatusUnauthorized {
				t.Fatalf("bad signature %d: got %d, want 401", i+1, r.Status)
			}
		}
		body := webhookBody("wh-bad-4")
		r := postWebhook(t, a, body, banq.Sign(body, "wrong"))
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("fourth bad signature: got %d, want 429", r.Status)
		}
		if wait := retryAfter(t, r); wait > time.Minute+time.Second {
			t.Errorf("Retry-After %v, want about a minute (one bad signature a minute refills)", wait)
		}
		// Banq's real webhooks from the same address (a stranger behind the same proxy) are
		// never refused for the stranger's bad signatures.
		if r := send("wh-after-bad"); r.Status != http.StatusOK || !stored(t, a, "wh-after-bad") {
			t.Fatalf("valid webhook from an address over its bad-signature limit: got %d, want 200 and stored", r.Status)
		}
		body = webhookBody("wh-bad-5")
		if r := postWebhook(t, a, body, banq.Sign(body, "wrong")); r.Status != http.StatusTooManyRequests {
			t.Fatalf("bad signature after a valid one: got %d, want 429 (still over the limit)", r.Status)
		}
	})
}

func TestUserTextIsEscaped(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	const desc = `<script>alert("d")</script><img src=x onerror=alert(1)> & "quoted" 'single'`
	const name = `<b onmouseover=alert(2)>Mallory</b><script src=//evil.example/x.js></script>`
	// The payer's name comes from Banq's directory (see TestPayerIsABanqGUIDNamedByBanq), where
	// anyone can choose their own.
	payer, err := a.Sandbox.AddPayer(context.Background(), name, "@mallory")
	if err != nil {
		t.Fatal(err)
	}
	r := m.PostForm(t, "/orders/new", "/orders", url.Values{
		"amount": {"9.99"}, "description": {desc}, "customer": {payer.GUID},
	})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create order: got %d, want 303: %s", r.Status, r.Body)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(r.Location, "/orders/"), 10, 64)
	o, err := a.DB.Order(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Description != desc || o.CustomerName != name {
		t.Fatalf("stored %q / %q, want the text as typed", o.Description, o.CustomerName)
	}

	pages := map[string]struct {
		body    string
		testids map[string]string
		also    []string // texts that must appear as text somewhere
	}{
		"merchant order page": {m.Get(t, r.Location).Body, map[string]string{"order-description": desc}, []string{name}},
		"merchant order list": {m.Get(t, "/orders").Body, nil, []string{name}},
		"customer page":       {get(t, a.URL+"/pay/"+o.Token).Body, map[string]string{"description": desc}, nil},
	}
	for page, p := range pages {
		t.Run(page, func(t *testing.T) {
			for testid, want := range p.testids {
				if got := apptest.Text(p.body, testid); got != strings.Join(strings.Fields(want), " ") {
					t.Errorf("%s shows %q, want the text %q", testid, got, want)
				}
			}
			text := pageText(t, p.body)
			for _, want := range p.also {
				if !strings.Contains(text, want) {
					t.Errorf("the text %q is not shown as text", want)
				}
			}
			for _, bad := range []string{"<script>alert", "<script src=//evil", "<img src=x", "<b onmouseover"} {
				if strings.Contains(p.body, bad) {
					t.Errorf("the markup holds %q unescaped", bad)
				}
			}
			if inl := inlineCode(p.body); len(inl) > 0 {
				t.Errorf("user text became markup: %v", inl)
			}
			// The pages' own picture, the payment link's QR code, is no user text.
			if n := countElements(t, p.body, "img", "b") - countImages(t, p.body, "/pay/"+o.Token+"/qr.svg"); n > 0 {
				t.Errorf("%d <img>/<b> elements, want none: user text became markup", n)
			}
			if n := countElements(t, p.body, "script"); n != 1 {
				t.Errorf("%d <script> elements, want 1 (app.js or pay.js): user text became markup", n)
			}
		})
	}
}

// pageText is the text of doc's body, whitespace collapsed.
func pageText(tb testing.TB, doc string) string {
	tb.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return strings.Join(strings.Fields(b.String()), " ")
}

func countElements(tb testing.TB, doc string, names ...string) int {
	tb.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	var walk func(*html.Node)
	walk = func(x *html.Node) {
		if x.Type == html.ElementNode && slices.Contains(names, x.Data) {
			n++
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return n
}

// countImages counts the <img> elements of doc whose src is src.
func countImages(tb testing.TB, doc, src string) int {
	tb.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	var walk func(*html.Node)
	walk = func(x *html.Node) {
		if x.Type == html.ElementNode && x.Data == "img" {
			for _, a := range x.Attr {
				if a.Key == "src" && a.Val == src {
					n++
				}
			}
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return n
}

func TestSecretsNeverLoggedOrShown(t *testing.T) {
	t.Parallel()
	const (
		banqPassword  = "banq-password-Zq81-never-shown"
		sessionKey    = "session-key-current-Zq81-never-shown"
		sessionOld    = "session-key-previous-Zq81-never-shown"
		webhookSecret = "webhook-secret-current-Zq81-never-shown"
		webhookOld    = "webhook-secret-previous-Zq81-never-shown"
		userPassword  = "user-password-Zq81"
	)
	// Real-Banq mode against a sandbox started apart: BANQ_PASSWORD is configured as in production.
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Config{Password: banqPassword, StepDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	logs := &syncBuffer{}
	a := start(t, apptest.Options{Log: logs, Config: func(c *app.Config) {
		c.BanqAPIURL, c.BanqAuthURL = sb.URL, sb.URL
		c.BanqClientID, c.BanqUsername, c.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, banqPassword
		c.SessionKey, c.SessionOld = sessionKey, sessionOld
		c.WebhookSecret, c.WebhookSecretPrev = webhookSecret, webhookOld
	}})
	if a.Sandbox != nil {
		t.Fatal("the app runs its own sandbox, want real-Banq mode")
	}
	a.SandboxURL = sb.URL
	hash, _ := bcrypt.GenerateFromPassword([]byte(userPassword), bcrypt.MinCost)
	if _, err := a.DB.CreateUser(context.Background(), checkout.User{Email: "staff@shop.test", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}

	var bodies []string
	m := a.NewMerchant()
	for _, pw := range []string{"wrong password", userPassword} {
		r := m.PostForm(t, "/login", "/login", url.Values{"email": {"staff@shop.test"}, "password": {pw}})
		bodies = append(bodies, r.Body)
	}
	if r := m.Get(t, "/orders"); r.Status != http.StatusOK {
		t.Fatalf("sign in as staff: /orders got %d, want 200", r.Status)
	}
	banqs, err := a.Banq.Banqs(context.Background(), banq.BanqQuery{Page: 1, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	payer := ""
	for _, b := range banqs.Data {
		if b.GUID != sb.MerchantBanq().GUID && payer == "" {
			payer = b.GUID
		}
	}
	o := m.MustCreateOrder(t, "10.00", "Lunch", payer)
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	bad := webhookBody("wh-bad-secret")
	postWebhook(t, a, bad, banq.Sign(bad, "wrong"))
	for _, p := range []string{"/orders", "/orders/new", "/account", "/orders/" + strconv.FormatInt(o.ID, 10)} {
		bodies = append(bodies, m.Get(t, p).Body)
	}
	bodies = append(bodies, get(t, a.URL+"/pay/"+o.Token).Body, get(t, a.URL+"/readyz").Body)
	m.PostForm(t, "/account", "/account/password", url.Values{"current": {"nope"}, "new": {"short"}})

	// Stored only where it must be: the database holds no secret that is configured.
	for _, key := range []string{"session_key", "webhook_secret", "banq_password"} {
		if v, err := a.DB.Setting(context.Background(), key); err == nil {
			t.Errorf("the database keeps setting %s (%d characters) although it is configured", key, len(v))
		}
	}
	if err := a.Stop(); err != nil { // flush everything the app logs while stopping
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "webhook rejected") || !strings.Contains(logs.String(), "signed in") {
		t.Fatal("the logs lack the events of the run: the check below would prove nothing")
	}
	secrets := map[string]string{
		"BANQ_PASSWORD": banqPassword, "CHECKOUT_SESSION_KEY": sessionKey, "CHECKOUT_SESSION_KEY_PREVIOUS": sessionOld,
		"BANQ_WEBHOOK_SECRET": webhookSecret, "BANQ_WEBHOOK_SECRET_PREVIOUS": webhookOld, "a user's password": userPassword,
	}
	for name, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs show %s", name)
		}
		if strings.Contains(a.Stdout.String(), s) {
			t.Errorf("stdout shows %s", name)
		}
		for _, b := range bodies {
			if strings.Contains(b, s) {
				t.Errorf("a page shows %s", name)
				break
			}
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestTrustedProxiesConfig(t *testing.T) {
	t.Parallel()
	parse := func(v string) (app.Config, error) {
		return app.ParseConfig(nil, func(k string) string {
			if k == "CHECKOUT_TRUSTED_PROXIES" {
				return v
			}
			return ""
		}, io.Discard)
	}
	c, err := parse("127.0.0.1, 10.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.TrustedProxies {
		got = append(got, n.String())
	}
	if want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128"}; !slices.Equal(got, want) {
		t.Errorf("trusted proxies %v, want %v", got, want)
	}
	if _, err := parse("10.0.0.0/8, proxy.example"); err == nil || !strings.Contains(err.Error(), "CHECKOUT_TRUSTED_PROXIES") {
		t.Errorf("a host name: got %v, want an error naming CHECKOUT_TRUSTED_PROXIES", err)
	}
}
