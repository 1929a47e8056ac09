package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// postWebhook sends body to the app's webhook receiver, signed with secret unless it is "",
// and returns the status code.
func postSignedWebhook(t *testing.T, a *apptest.App, body []byte, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/webhooks/banq", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(banq.HeaderWebhookHMAC, banq.Sign(body, secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func received(outcome, reason string) string {
	return series("checkout_webhooks_received_total", "outcome", outcome, "reason", reason)
}

func TestMetricsCountWebhooksOfEveryOutcome(t *testing.T) {
	t.Parallel()
	const token = "scrape-token-0123456789"
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.MetricsAddr, c.MetricsToken = "127.0.0.1:0", token
	}})
	// A second app in the same process: each has a registry of its own.
	other := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.MetricsAddr = "127.0.0.1:0" }})
	ctx := context.Background()

	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "9.99", "Metrics", a.PayerBanqs(t)[0].GUID)
	stream := openRaw(t, nil, a.URL+"/pay/"+o.Token+"/events")
	open := series("checkout_sse_streams_open")
	eventually(t, 3*time.Second, func() bool { return scrape(t, a.MetricsURL(), token)[open] == 1 },
		func() string { return fmt.Sprintf("%s = %v, want 1", open, scrape(t, a.MetricsURL(), token)[open]) })
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	stream.body.Close()
	eventually(t, 3*time.Second, func() bool { return scrape(t, a.MetricsURL(), token)[open] == 0 },
		func() string {
			return fmt.Sprintf("%s = %v, want 0 after the client left", open, scrape(t, a.MetricsURL(), token)[open])
		})

	// Every webhook the sandbox delivered is counted as stored, once the deliveries are over.
	delivered := func() []string {
		ds, err := a.Sandbox.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range ds {
			if d.Outcome == "delivered" {
				ids = append(ids, d.WebhookID)
			}
		}
		return ids
	}
	stored := received(checkout.WebhookStored, "")
	eventually(t, 5*time.Second, func() bool {
		s := scrape(t, a.MetricsURL(), token)
		return len(delivered()) >= 3 && s[stored] == float64(len(delivered())) &&
			s[series("checkout_webhook_inbox_pending")] == 0
	}, func() string {
		s := scrape(t, a.MetricsURL(), token)
		return fmt.Sprintf("stored %v, pending %v; the sandbox delivered %d (want 3 or more, all stored and done)",
			s[stored], s[series("checkout_webhook_inbox_pending")], len(delivered()))
	})
	before := scrape(t, a.MetricsURL(), token)

	// One of each other outcome, by hand.
	secret, err := a.DB.Setting(ctx, "webhook_secret")
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.DB.Webhook(ctx, delivered()[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := postSignedWebhook(t, a, first.Body, secret); got != http.StatusOK {
		t.Fatalf("duplicate webhook: got %d, want 200", got)
	}
	if got := postSignedWebhook(t, a, first.Body, "not-the-secret"); got != http.StatusUnauthorized {
		t.Fatalf("webhook with a wrong signature: got %d, want 401", got)
	}
	if got := postSignedWebhook(t, a, []byte(`{"id":"x","resourceType":`), secret); got != http.StatusBadRequest {
		t.Fatalf("malformed webhook: got %d, want 400", got)
	}
	if got := postSignedWebhook(t, a, bytes.Repeat([]byte(" "), 65<<10), secret); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized webhook: got %d, want 413", got)
	}
	after := scrape(t, a.MetricsURL(), token)
	for _, tt := range []struct {
		series string
		delta  float64
	}{
		{stored, 0},
		{received(checkout.WebhookDuplicate, ""), 1},
		{received(checkout.WebhookRejected, checkout.ReasonSignature), 1},
		{received(checkout.WebhookRejected, checkout.ReasonMalformed), 1},
		{received(checkout.WebhookRejected, checkout.ReasonTooLarge), 1},
		{received(checkout.WebhookError, ""), 0},
		{series("checkout_http_requests_total", "route", "/webhooks/banq", "method", "POST", "code", "401"), 1},
		{series("checkout_http_requests_total", "route", "/webhooks/banq", "method", "POST", "code", "413"), 1},
	} {
		if _, ok := after[tt.series]; !ok {
			t.Errorf("%s is missing from the scrape", tt.series)
		} else if got := after[tt.series] - before[tt.series]; got != tt.delta {
			t.Errorf("%s went up by %v, want %v", tt.series, got, tt.delta)
		}
	}

	// The rest of what an operator watches.
	if r := m.Get(t, "/no/such/page"); r.Status != http.StatusNotFound {
		t.Fatalf("GET /no/such/page: got %d, want 404", r.Status)
	}
	s := scrape(t, a.MetricsURL(), token)
	streamSeries := series("checkout_http_requests_total", "route", "/pay/:token/events", "method", "GET", "code", "200")
	for _, tt := range []struct {
		series string
		check  func(float64) bool
		want   string
	}{
		{series("checkout_orders", "state", "paid"), func(v float64) bool { return v == 1 }, "1"},
		{series("checkout_orders", "state", "declined"), func(v float64) bool { return v == 0 }, "0"},
		{series("checkout_banq_requests_total", "endpoint", "payments.get-paid-direct", "code", "201"), func(v float64) bool { return v == 1 }, "1"},
		{series("checkout_banq_request_duration_seconds_count", "endpoint", "payments.get"), func(v float64) bool { return v >= 1 }, ">= 1"},
		{series("checkout_webhook_processing_seconds_count", "result", "applied"), func(v float64) bool { return v >= 3 }, ">= 3"},
		{series("checkout_webhook_delay_seconds_count"), func(v float64) bool { return v >= 3 }, ">= 3"},
		{series("checkout_webhook_inbox_oldest_pending_seconds"), func(v float64) bool { return v == 0 }, "0"},
		{series("checkout_http_request_duration_seconds_count", "route", "/orders", "method", "POST"), func(v float64) bool { return v == 1 }, "1"},
		{streamSeries, func(v float64) bool { return v == 1 }, "1"},
		{series("checkout_http_requests_total", "route", "unmatched", "method", "GET", "code", "404"), func(v float64) bool { return v == 1 }, "1"},
	} {
		if v, ok := s[tt.series]; !ok || !tt.check(v) {
			t.Errorf("%s = %v (present %v), want %s", tt.series, v, ok, tt.want)
		}
	}
	for name := range s {
		if strings.Contains(name, "/no/such/page") || strings.Contains(name, o.Token) {
			t.Errorf("a path became a label value: %s", name)
		}
		if strings.HasPrefix(name, "checkout_http_request_duration_seconds") && strings.Contains(name, "/events") {
			t.Errorf("a stream's lifetime was recorded as a latency: %s", name)
		}
	}

	// The other app counted none of it.
	so := scrape(t, other.MetricsURL(), "")
	if v := so[received(checkout.WebhookDuplicate, "")]; v != 0 {
		t.Errorf("the other app counts %v duplicates, want 0 (registries must not be shared)", v)
	}
	if v := so[series("checkout_orders", "state", "paid")]; v != 0 {
		t.Errorf("the other app counts %v paid orders, want 0", v)
	}
}

func TestMetricsAreClosedToThePublic(t *testing.T) {
	t.Parallel()
	const token = "scrape-token-0123456789"
	withToken := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.MetricsAddr, c.MetricsToken = "127.0.0.1:0", token
	}})
	listenerOnly := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.MetricsAddr = "127.0.0.1:0" }})
	none := apptest.Start(t, apptest.Options{})

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url, bearer string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const notServed = 0 // no route: whatever the app answers an unknown path (a redirect to sign in)
	for _, tt := range []struct {
		name, url, bearer string
		want              int
	}{
		{"public listener, no token configured", listenerOnly.URL + "/metrics", "", notServed},
		{"public listener, token configured, none sent", withToken.URL + "/metrics", "", http.StatusUnauthorized},
		{"public listener, wrong token", withToken.URL + "/metrics", token + "x", http.StatusUnauthorized},
		{"public listener, right token", withToken.URL + "/metrics", token, http.StatusOK},
		{"metrics listener, token configured, none sent", withToken.MetricsURL(), "", http.StatusUnauthorized},
		{"metrics listener, right token", withToken.MetricsURL(), token, http.StatusOK},
		{"metrics listener, no token configured", listenerOnly.MetricsURL(), "", http.StatusOK},
		{"metrics off", none.URL + "/metrics", "", notServed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(tt.url, tt.bearer)
			if tt.want == notServed {
				if status == http.StatusOK || strings.Contains(body, "checkout_orders") {
					t.Fatalf("GET %s: got %d with metrics %v, want no metrics", tt.url, status, strings.Contains(body, "checkout_orders"))
				}
				return
			}
			if status != tt.want {
				t.Fatalf("GET %s: got %d, want %d", tt.url, status, tt.want)
			}
			if status == http.StatusOK && !strings.Contains(body, "checkout_orders{state=\"paid\"}") {
				t.Fatalf("GET %s: 200 without the checkout's metrics", tt.url)
			}
		})
	}
	if none.MetricsURL() != "" {
		t.Errorf("metrics listener with CHECKOUT_METRICS_ADDR unset: got %q, want none", none.MetricsURL())
	}
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadinessProbes(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(a.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got %d, want 200", path, resp.StatusCode)
		}
	}
}
