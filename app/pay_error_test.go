package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
)

// A customer who opens a wrong or unknown payment link sees the customer's page, not the
// merchant's menu and sign-in, and is told what to do.
func TestBadPaymentLinkShowsCustomerPage(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{Config: func(c *app.Config) { c.MerchantName = "Corner Café" }})
	for _, link := range []string{"/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/pay/short"} {
		r := get(t, a.URL+link)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s: got %d, want 404", link, r.Status)
			continue
		}
		if apptest.Find(r.Body, "pay-error") == nil {
			t.Errorf("%s: no customer error page: %s", link, r.Body)
		}
		for _, merchantOnly := range []string{"nav-webhooks", "sign-out", "error-page"} {
			if apptest.Find(r.Body, merchantOnly) != nil {
				t.Errorf("%s: the customer's error page shows the merchant's %s", link, merchantOnly)
			}
		}
		if strings.Contains(r.Body, `href="/orders"`) {
			t.Errorf("%s: the customer's error page links to the merchant's orders", link)
		}
		if got := apptest.Text(r.Body, "next"); !strings.Contains(got, "ask Corner Café for a new payment link") {
			t.Errorf("%s: what to do: got %q, want to ask Corner Café for a new payment link", link, got)
		}
	}
}
