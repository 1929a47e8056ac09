package app_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/examples/shop"
	"github.com/banq-checkout/checkout/notify"
)

// TestBrowserExampleShop buys from the example shop as a customer does: its product page, Pay
// with Banq, the checkout's payment page, the payer approving through Banq's link in the
// sandbox, and back at the shop, which says paid only once the checkout's signed notification
// arrived. With CHECKOUT_SCREENSHOTS=DIR it writes the trip's three pictures there (the
// README's).
func TestBrowserExampleShop(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	key := m.CreateAPIKey(t, "example shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)

	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	ep, err := a.Notify.Create(context.Background(), notify.Input{URL: srv.URL + "/checkout-events", Description: "the example shop"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = shop.New(shop.Config{Checkout: a.URL, APIKey: key, Secret: ep.Secret, Public: srv.URL,
		Logger: slog.New(slog.DiscardHandler)})

	customer := b.newTab("customer", 390, 844, true)
	payer := b.newTab("payer", 390, 844, true)
	customer.load(t, "open the shop", 200, chromedp.Navigate(srv.URL+"/"))
	docShot(t, customer, "shop-1-product.png")
	customer.load(t, "pay with Banq", 200, chromedp.Click(byTestID("shop-buy")))
	if !strings.HasPrefix(customer.eval(t, `location.href`), a.URL+"/pay/") {
		t.Fatalf("Pay with Banq led to %s, want the checkout's payment page", customer.eval(t, `location.href`))
	}
	if !customer.waitJS(`!document.getElementById("live-note").hidden`, 10*time.Second) {
		t.Fatal("payment page: the live stream did not open")
	}
	docShot(t, customer, "shop-2-checkout.png")
	link := run(t, customer, "read Open in Banq", chromedp.AttributeValue(byTestID("open-in-banq"), "href"))
	payer.load(t, "open Banq's link", 200, chromedp.Navigate(link.Value))
	payer.load(t, "say who pays", 200, chromedp.Click(byTestID("link-payer")))
	payer.load(t, "approve", 200, chromedp.Click(byTestID("approve")))

	if !customer.waitJS(stateOf("pay-state")+` === "paid"`, 20*time.Second) {
		t.Fatalf("the payment page did not turn paid; it shows %q", customer.eval(t, stateOf("pay-state")))
	}
	if !customer.waitJS(`location.href.startsWith(`+jsString(srv.URL+"/orders/")+`)`, 30*time.Second) {
		t.Fatalf("the payment page did not lead back to the shop; it is at %s", customer.eval(t, `location.href`))
	}
	// The shop page looks again every two seconds until the notification made it paid.
	if !customer.waitJS(`!!document.querySelector('[data-testid="shop-paid"]')`, 20*time.Second) {
		t.Fatalf("the shop never said paid: %s", customer.eval(t, `document.body.innerText`))
	}
	docShot(t, customer, "shop-3-paid.png")
}

// docShot writes a picture of the tab for the README, when CHECKOUT_SCREENSHOTS names a folder.
func docShot(t *testing.T, tb *tab, name string) {
	t.Helper()
	dir := os.Getenv("CHECKOUT_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := run(t, tb, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
