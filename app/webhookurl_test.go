package app_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
)

// TestWebhookURLAnswersLikeAnAPI: the webhook URL is Banq's, not a merchant page. Other methods
// get 405 with Allow: POST (not a sign-in redirect or the CSRF refusal), a trailing slash is
// the same URL, and nothing under /webhooks/ sets a session or CSRF cookie.
func TestWebhookURLAnswersLikeAnAPI(t *testing.T) {
	t.Parallel()
	const secret = "webhook-secret-url-0123456789abcdef"
	a := start(t, apptest.Options{Config: func(c *app.Config) { c.WebhookSecret = secret }})

	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		for _, path := range []string{"/webhooks/banq", "/webhooks/banq/"} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := do(t, nil, newRequest(t, method, a.URL+path, nil))
				if r.Status != http.StatusMethodNotAllowed {
					t.Errorf("got %d (Location %q), want 405", r.Status, r.Header.Get("Location"))
				}
				if got := r.Header.Get("Allow"); got != http.MethodPost {
					t.Errorf("Allow: got %q, want POST", got)
				}
				if len(r.Cookies) > 0 {
					t.Errorf("got cookies %v, want none", r.Cookies)
				}
			})
		}
	}

	t.Run("POST with a trailing slash", func(t *testing.T) {
		body := webhookBody("wh-trailing-slash")
		req, err := http.NewRequest(http.MethodPost, a.URL+"/webhooks/banq/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(banq.HeaderWebhookHMAC, banq.Sign(body, secret))
		r := do(t, nil, req)
		if r.Status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.Status, r.Body)
		}
		if len(r.Cookies) > 0 {
			t.Errorf("got cookies %v, want none", r.Cookies)
		}
		if !stored(t, a, "wh-trailing-slash") {
			t.Fatal("the webhook is not in the inbox")
		}
	})

	t.Run("another path under /webhooks/", func(t *testing.T) {
		r := do(t, nil, newRequest(t, http.MethodPost, a.URL+"/webhooks/other", nil))
		if r.Status != http.StatusNotFound {
			t.Errorf("got %d, want 404", r.Status)
		}
		if len(r.Cookies) > 0 {
			t.Errorf("got cookies %v, want none", r.Cookies)
		}
	})
}
