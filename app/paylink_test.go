package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestLinkOrderCustomerPage: an order the shop made without a payer's banq is paid by Banq's
// link: the customer's page offers "Open in Banq" and, for a computer, that link as a QR code;
// once the order ends, the page leads back to the shop's URL with the order's id and reference.
func TestLinkOrderCustomerPage(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	c := a.NewAPIClient(t, a.SignIn(t).CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite))
	o := c.MustCreate(t, `{"amount": "4.20", "description": "Scarf", "reference": "A&B 7",
		"return_url": "https://shop.example/thanks?lang=en", "cancel_url": "https://shop.example/cart"}`, nil)

	if got := apptest.Text(a.SignIn(t).Get(t, "/orders/"+o.ID).Body, "order-reference"); got != "A&B 7" {
		t.Fatalf("the merchant's order page shows reference %q, want the shop's", got)
	}
	status, page := getBody(t, o.PayURL)
	if status != http.StatusOK {
		t.Fatalf("pay page: %d", status)
	}
	href, _ := apptest.Attr(string(page), "open-in-banq", "href")
	if o.PaymentLink == nil || href != *o.PaymentLink {
		t.Fatalf("Open in Banq goes to %q, want Banq's link %v", href, o.PaymentLink)
	}
	if apptest.Find(string(page), "back-to-shop") != nil {
		t.Fatal("a waiting order already leads back to the shop")
	}
	src, _ := apptest.Attr(string(page), "pay-qr", "src")
	status, svg := getBody(t, a.URL+src)
	got, err := apptest.DecodeQRSVG(svg, 4)
	if status != http.StatusOK || err != nil || got != *o.PaymentLink {
		t.Fatalf("the QR code (%d) reads %q (%v), want Banq's link %s", status, got, err, *o.PaymentLink)
	}

	// Canceled: back to the cancel URL.
	if r := c.Do(t, apiPost(ordersPath+"/"+o.ID+"/cancel", "")); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	_, page = getBody(t, o.PayURL)
	back, _ := apptest.Attr(string(page), "back-link", "href")
	want := "https://shop.example/cart?order_id=" + o.ID + "&reference=" + url.QueryEscape("A&B 7")
	if back != want {
		t.Fatalf("back link %q, want %q", back, want)
	}
	if !strings.Contains(apptest.Text(string(page), "back-link"), "Back to") {
		t.Fatalf("the back link says %q", apptest.Text(string(page), "back-link"))
	}

	// Paid: back to the return URL, its own query kept.
	paid := c.MustCreate(t, `{"amount": "1", "description": "Socks", "return_url": "https://shop.example/thanks?lang=en"}`, nil)
	var id int64
	for _, ch := range paid.ID {
		id = id*10 + int64(ch-'0')
	}
	stored := a.WaitOrder(t, id, 10*time.Second, func(o checkout.Order) bool { return o.PaymentID != "" })
	a.Act(t, stored.PaymentID, "approve", "")
	a.WaitOrder(t, id, 15*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	_, page = getBody(t, paid.PayURL)
	back, _ = apptest.Attr(string(page), "back-link", "href")
	if want := "https://shop.example/thanks?lang=en&order_id=" + paid.ID; back != want {
		t.Fatalf("back link of the paid order %q, want %q", back, want)
	}
}

// TestFormMakesLinkOrder: the merchant's form offers "anyone with a link" beside the known
// customers; such an order goes to Banq's get-paid-link and names no payer.
func TestFormMakesLinkOrder(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	if apptest.Find(m.Get(t, "/orders/new").Body, "link-option") == nil {
		t.Fatal("the form offers no link choice")
	}
	o := m.MustCreateOrder(t, "7.00", "Gift card", "link")
	o = a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.PaymentLink != "" })
	if !o.ByLink() || !strings.HasPrefix(o.PaymentLink, a.SandboxURL+"/sandbox/pay/") {
		t.Fatalf("got customer %q, link %q; want a link order", o.CustomerBanq, o.PaymentLink)
	}
	ps := a.SandboxPayments(t, o.Number())
	if len(ps) != 1 || ps[0].Source != nil || ps[0].PaymentLink != o.PaymentLink {
		t.Fatalf("Banq holds %+v, want one link payment", ps)
	}
	if got := apptest.Text(m.Get(t, "/orders").Body, "orders"); !strings.Contains(got, "Anyone with the link") {
		t.Fatalf("the order list does not say who pays: %q", got)
	}
}
