package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
)

const testSecret = "test-shared-secret-0123456789"

// fastConfig is a config whose flows and retries take milliseconds.
func fastConfig() sandbox.Config {
	return sandbox.Config{StepDelay: 20 * time.Millisecond, DeliveryBackoff: 20 * time.Millisecond}
}

// mustStart runs a sandbox on a loopback port for the test.
func mustStart(tb testing.TB, cfg sandbox.Config) *sandbox.Running {
	tb.Helper()
	r, err := sandbox.Start(context.Background(), "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}

// call makes one HTTP request; body is marshalled to JSON unless it is a string or nil.
func call(tb testing.TB, method, u, token string, body any, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, b
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func mustDecode[T any](tb testing.TB, b []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

func wantStatus(tb testing.TB, resp *http.Response, body []byte, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("%s %s: got status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

func tokenRequest() banq.TokenRequest {
	return banq.TokenRequest{
		ClientID: sandbox.DefaultClientID, Username: sandbox.DefaultUsername, Password: sandbox.DefaultPassword,
		Audience: banq.DefaultAudience, GrantType: "password",
	}
}

func mustToken(tb testing.TB, base string) string {
	tb.Helper()
	resp, body := call(tb, "POST", base+banq.PathToken, "", tokenRequest())
	wantStatus(tb, resp, body, http.StatusOK)
	return mustDecode[banq.TokenResponse](tb, body).AccessToken
}

// client is a test's view of one sandbox: its URL and a token.
type client struct {
	tb    testing.TB
	base  string
	token string
}

func newClient(tb testing.TB, base string) *client {
	return &client{tb: tb, base: base, token: mustToken(tb, base)}
}

func (c *client) do(method, path string, body any, headers ...string) (*http.Response, []byte) {
	c.tb.Helper()
	return call(c.tb, method, c.base+path, c.token, body, headers...)
}

func (c *client) payers() []banq.Banq {
	c.tb.Helper()
	resp, body := c.do("GET", banq.PathBanqs+"?pageSize=100", nil)
	wantStatus(c.tb, resp, body, http.StatusOK)
	var out []banq.Banq
	for _, b := range mustDecode[banq.Page[banq.Banq]](c.tb, body).Data {
		if b.OwnerType == "Personal" {
			out = append(out, b)
		}
	}
	return out
}

func (c *client) configureWebhooks(u string, retryCount int) {
	c.tb.Helper()
	resp, body := c.do("POST", "/api/v1/account-spaces/1/webhook-config", banq.WebhookConfig{
		URL: u, Enabled: true, RetryCount: retryCount,
		WebHookTypes: []banq.ResourceType{"payment", "transaction"}, SharedSecret: testSecret,
	})
	wantStatus(c.tb, resp, body, http.StatusCreated)
}

func (c *client) createDirect(merchant, payer, order string, headers ...string) banq.Payment {
	c.tb.Helper()
	resp, body := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, order), headers...)
	wantStatus(c.tb, resp, body, http.StatusCreated)
	return mustDecode[banq.Payment](c.tb, body)
}

func directBody(merchant, payer, order string) map[string]any {
	return map[string]any{
		"destination":       map[string]string{"banqGuid": merchant},
		"source":            map[string]string{"banqGuid": payer},
		"funds":             json.Number("12.50"),
		"comment":           "2 croissants",
		"externalOrderCode": order,
		"frequency":         "once",
	}
}

// control calls a control endpoint (no token needed).
func (c *client) control(method, path string, body any) (*http.Response, []byte) {
	c.tb.Helper()
	return call(c.tb, method, c.base+path, "", body)
}

func (c *client) paymentsByOrder(order string) []banq.Payment {
	c.tb.Helper()
	resp, body := c.control("GET", "/sandbox/payments?externalOrderCode="+url.QueryEscape(order), nil)
	wantStatus(c.tb, resp, body, http.StatusOK)
	return mustDecode[[]banq.Payment](c.tb, body)
}

// received is one webhook as the receiver saw it.
type received struct {
	hook     banq.Webhook
	sigValid bool
	at       time.Time
}

// receiver is a webhook endpoint that records what arrives and answers status(n) to the n-th call.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int
}

func newReceiver(tb testing.TB, status func(n int) int) *receiver {
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hook, err := banq.ParseWebhook(body)
		if err != nil {
			tb.Errorf("receiver: %v", err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			tb.Errorf("receiver: got Content-Type %q, want application/json", ct)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{
			hook:     hook,
			sigValid: banq.VerifySignature(body, r.Header.Get(banq.HeaderWebhookHMAC), testSecret) == nil,
			at:       time.Now(),
		})
		n := len(rc.got)
		rc.mu.Unlock()
		code := http.StatusNoContent
		if rc.status != nil {
			code = rc.status(n)
		}
		w.WriteHeader(code)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events lists "Type/Action" of the webhooks about the given resources, in arrival order.
func events(rs []received, ids ...string) []string {
	var out []string
	for _, r := range rs {
		for _, id := range ids {
			if r.hook.ResourceID == id {
				out = append(out, string(r.hook.ResourceType)+"/"+string(r.hook.Action))
			}
		}
	}
	return out
}
