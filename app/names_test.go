package app_test

import (
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
)

// The payer, the merchant and the receipt use the same names: the payment page tells the
// customer to look for the request from the name Banq shows (the merchant banq's, not the shop
// name set for the page), and Banq gets the order's number as its order code.
func TestNamesMatchBanq(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{Config: func(c *app.Config) { c.MerchantName = "Corner Café" }})
	banqName := a.Sandbox.MerchantBanq().Name
	if banqName == "" || banqName == "Corner Café" {
		t.Fatalf("the sandbox's merchant banq is named %q; the test needs a name of its own", banqName)
	}
	o := a.SignIn(t).MustCreateOrder(t, "2.40", "Croissant", a.PayerBanqs(t)[0].GUID)
	page := get(t, a.URL+"/pay/"+o.Token).Body
	if got := apptest.Text(page, "merchant"); got != "Corner Café" {
		t.Errorf("shop name on the payment page: got %q, want Corner Café", got)
	}
	want := "Find the request from " + banqName + " for $2.40, order " + o.Number() + "." // in the shop's currency, USD unless set
	if got := apptest.Text(page, "find-request"); got != want {
		t.Errorf("what to look for in the Banq app: got %q, want %q", got, want)
	}
	if got := apptest.Text(page, "detail"); !strings.Contains(got, "a request from "+banqName+" is waiting") {
		t.Errorf("payment page summary: got %q, want the request named as Banq shows it (%s)", got, banqName)
	}
	ps := a.SandboxPayments(t, o.Number())
	if len(ps) != 1 || ps[0].ID != o.PaymentID {
		t.Fatalf("Banq's payments with order code %q: got %+v, want the order's payment %s", o.Number(), ps, o.PaymentID)
	}
}
