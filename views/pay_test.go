package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
	"github.com/banq-checkout/checkout/views"
)

// shopInUTC writes in English, USD, with the shop in UTC.
func shopInUTC(t *testing.T, code string) context.Context {
	t.Helper()
	c, err := locale.New(locale.Options{Zone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := locale.Lookup(code)
	if !ok {
		t.Fatalf("no language %s", code)
	}
	return locale.With(context.Background(), c.Printer(l))
}

func renderPay(t *testing.T, v views.PayView) string {
	t.Helper()
	return renderPayIn(t, "en", v)
}

func renderPayIn(t *testing.T, code string, v views.PayView) string {
	t.Helper()
	var b bytes.Buffer
	if err := views.Pay(v).Render(shopInUTC(t, code), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The customer page shows the expiry: a time while there is plenty left, a countdown in the
// last minutes, always with the expiry and the server's clock for pay.js to count on.
func TestPayPageCountdownOnFixedClock(t *testing.T) {
	expires := time.Date(2026, 3, 14, 15, 30, 0, 0, time.UTC)
	o := checkout.Order{ID: 7, Token: "tok", Amount: 1250, Description: "Coffee", State: checkout.StateWaiting, ExpiresAt: expires}
	tests := []struct {
		now       time.Time
		text      string
		countdown bool
	}{
		{expires.Add(-25 * time.Minute), "25 minutes left to approve, until 15:30 UTC.", false},
		{expires.Add(-10*time.Minute - time.Second), "11 minutes left to approve, until 15:30 UTC.", false},
		{expires.Add(-10 * time.Minute), "Expires in 10:00.", true},
		{expires.Add(-3*time.Minute - 30*time.Second), "Expires in 3:30.", true},
		{expires.Add(-1500 * time.Millisecond), "Expires in 0:02.", true},
		{expires, "This request has expired.", true},
	}
	for _, tt := range tests {
		page := renderPay(t, views.PayView{Order: o, Merchant: "Shop", Now: tt.now})
		if got := apptest.Text(page, "expiry"); got != tt.text {
			t.Errorf("at %s before expiry: got %q, want %q", expires.Sub(tt.now), got, tt.text)
		}
		class, _ := apptest.Attr(page, "expiry", "class")
		if got := strings.Contains(class, "soon"); got != tt.countdown {
			t.Errorf("at %s before expiry: class %q, want countdown styling %v", expires.Sub(tt.now), class, tt.countdown)
		}
		if got, _ := apptest.Attr(page, "expiry", "data-expires-at"); got != "2026-03-14T15:30:00Z" {
			t.Errorf("data-expires-at: got %q", got)
		}
		if got, _ := apptest.Attr(page, "expiry", "data-now"); got != tt.now.UTC().Format(time.RFC3339) {
			t.Errorf("data-now: got %q, want the server's clock %s", got, tt.now.UTC().Format(time.RFC3339))
		}
	}
	// Once the payer approved, or it ended, there is nothing to count down.
	for _, s := range []checkout.State{checkout.StateAccepted, checkout.StatePaid, checkout.StateExpired, checkout.StateCanceled} {
		o.State = s
		if page := renderPay(t, views.PayView{Order: o, Merchant: "Shop", Now: expires.Add(-time.Minute)}); apptest.Find(page, "expiry") != nil {
			t.Errorf("%s: the expiry is still shown", s)
		}
	}
}

func TestPaidPageIsAReceipt(t *testing.T) {
	paidAt := time.Date(2026, 3, 14, 15, 12, 5, 0, time.UTC)
	o := checkout.Order{ID: 42, Token: "tok", Amount: 123456, Description: "Two coffees, one cake", State: checkout.StatePaid,
		PaymentID: "pay-9", TransactionID: "tx-9", PaidAt: paidAt}
	page := renderPay(t, views.PayView{Order: o, Merchant: "Corner Café", Now: paidAt, LogoURL: "/brand/logo", QRURL: "/pay/tok/qr.svg"})
	for id, want := range map[string]string{
		"receipt-merchant":    "Corner Café",
		"receipt-amount":      "$1,234.56",
		"receipt-description": "Two coffees, one cake",
		"receipt-paid-at":     "2026-03-14 15:12:05 UTC",
		"receipt-order":       "#42",
		"receipt-payment":     "pay-9",
		"receipt-transaction": "tx-9",
	} {
		if got := apptest.Text(page, id); got != want {
			t.Errorf("%s: got %q, want %q", id, got, want)
		}
	}
	if _, ok := apptest.Attr(page, "print", "data-print"); !ok {
		t.Error("the receipt has no Print button for pay.js to wire")
	}
	if src, _ := apptest.Attr(page, "merchant-logo", "src"); src != "/brand/logo" {
		t.Errorf("logo: got %q, want /brand/logo", src)
	}
	if href, _ := apptest.Attr(page, "brand-css", "href"); href != "/brand.css" {
		t.Errorf("brand stylesheet: got %q", href)
	}
	if apptest.Find(page, "pay-qr") != nil {
		t.Error("a paid page still offers to continue on a phone")
	}
}

// A failed payment's page gives its reason once (it was in the summary and again below it).
func TestPayPageFailedSaysReasonOnce(t *testing.T) {
	o := checkout.Order{ID: 7, Token: "tok", Amount: 705, Description: "Sandwich", State: checkout.StateFailed,
		FailReason: banq.FailInsufficientBalance}
	page := renderPay(t, views.PayView{Order: o, Merchant: "Shop", Now: time.Now()})
	reason := banq.FailInsufficientBalance.CustomerText()
	if got := strings.Count(apptest.Text(page, "pay-state"), reason); got != 1 {
		t.Fatalf("the failed page says %q %d times, want once: %s", reason, got, apptest.Text(page, "pay-state"))
	}
	if got := apptest.Text(page, "fail-reason"); got != reason {
		t.Fatalf("fail reason: got %q, want %q", got, reason)
	}
	if got := apptest.Text(page, "detail"); !strings.Contains(got, "Nothing was charged") {
		t.Fatalf("detail: got %q, want it to say nothing was charged", got)
	}
}
