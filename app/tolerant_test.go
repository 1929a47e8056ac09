package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// rewritingBanq stands between the app and a sandbox playing Banq, and rewrites the sandbox's
// users/me answer as rewrite says: Banq's own answers may differ from the sandbox's in
// whatever its description leaves open.
type rewritingBanq struct {
	*sandbox.Running
	URL     string
	rewrite atomic.Pointer[func(map[string]any)]
}

func startRewritingBanq(t *testing.T) *rewritingBanq {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Config{DBPath: t.TempDir() + "/banq.db", StepDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	target, _ := url.Parse(sb.URL)
	rb := &rewritingBanq{Running: sb}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		fn := rb.rewrite.Load()
		if resp.Request.URL.Path != banq.PathMe || resp.StatusCode != http.StatusOK || fn == nil {
			return nil
		}
		var me map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
			return err
		}
		resp.Body.Close()
		(*fn)(me)
		b, _ := json.Marshal(me)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	rb.URL = srv.URL
	return rb
}

func (rb *rewritingBanq) set(fn func(map[string]any)) { rb.rewrite.Store(&fn) }

// startOnBanq starts the app on rb as on real Banq, with a staff user signed in.
func startOnBanq(t *testing.T, rb *rewritingBanq) (*apptest.App, *apptest.Merchant) {
	t.Helper()
	a := start(t, apptest.Options{Config: func(c *app.Config) {
		c.BanqAPIURL, c.BanqAuthURL = rb.URL, rb.URL
		c.BanqClientID, c.BanqUsername, c.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
		c.PublicURL = "http://127.0.0.1:9" // the reconciler asks Banq; no webhook is needed
		c.SessionKey = strings.Repeat("s", 32)
		c.MetricsToken = readyToken
	}})
	hash, _ := bcrypt.GenerateFromPassword([]byte("a long password"), bcrypt.MinCost)
	if _, err := a.DB.CreateUser(context.Background(), checkout.User{Email: "staff@shop.test", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	m := a.NewMerchant()
	if r := m.PostForm(t, "/login", "/login", url.Values{"email": {"staff@shop.test"}, "password": {"a long password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("sign in: got %d", r.Status)
	}
	return a, m
}

// TestBanqAnswersReadTolerantly: users/me with a numeric id (its type is not published), fields
// the checkout does not know and nulls must not stop the checkout from working with Banq.
func TestBanqAnswersReadTolerantly(t *testing.T) {
	t.Parallel()
	rb := startRewritingBanq(t)
	rb.set(func(me map[string]any) {
		me["id"] = 7
		me["email"] = nil
		me["preferences"] = map[string]any{"locale": "en", "theme": nil}
		for _, s := range me["accountSpaces"].([]any) {
			s.(map[string]any)["id"] = strconv.Itoa(int(s.(map[string]any)["id"].(float64)))
			s.(map[string]any)["owner"] = nil
		}
	})
	a, m := startOnBanq(t, rb)
	waitReadyz(t, a.URL, http.StatusOK, 10*time.Second)
	payers, err := rb.PayerBanqs(context.Background())
	if err != nil || len(payers) == 0 {
		t.Fatalf("payers: %v", err)
	}
	r := m.CreateOrder(t, "4.20", "Read tolerantly", payers[0].GUID)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create order: got %d, want 303: %s", r.Status, pageText(t, r.Body))
	}
	orders, _, err := a.DB.ListOrders(context.Background(), checkout.OrderFilter{})
	if err != nil || len(orders) != 1 || orders[0].State != checkout.StateWaiting {
		t.Fatalf("got %+v, %v; want one order waiting for the payer", orders, err)
	}
}

// TestNotConnectedSaysWhy: when Banq's users/me cannot be used, the start-up log, /readyz (for
// operators) and the order the merchant creates all say what is wrong, not that Banq did not
// answer in time.
func TestNotConnectedSaysWhy(t *testing.T) {
	t.Parallel()
	rb := startRewritingBanq(t)
	rb.set(func(me map[string]any) { me["accountSpaces"] = nil })
	a, m := startOnBanq(t, rb)
	status, body := readyzAs(t, a.URL, "Bearer "+readyToken)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "no account space") {
		t.Errorf("/readyz: got %d %q, want 503 saying the Banq user has no account space", status, body)
	}
	payers, err := rb.PayerBanqs(context.Background())
	if err != nil || len(payers) == 0 {
		t.Fatalf("payers: %v", err)
	}
	r := m.CreateOrder(t, "4.20", "Not connected", payers[0].GUID)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("create order: got %d, want 503", r.Status)
	}
	orders, _, err := a.DB.ListOrders(context.Background(), checkout.OrderFilter{})
	if err != nil || len(orders) != 1 {
		t.Fatalf("got %+v, %v; want one order", orders, err)
	}
	for where, text := range map[string]string{"the form": pageText(t, r.Body), "the order": orders[0].CreateError} {
		if strings.Contains(text, "did not answer in time") || !strings.Contains(text, "no account space") {
			t.Errorf("%s says %q, want why the checkout is not connected (no account space)", where, text)
		}
	}
}
