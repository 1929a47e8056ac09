package views_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
	"github.com/banq-checkout/checkout/views"
)

// Every text of the customer's page, in every state, comes from the reader's catalogue: the
// page in German, Spanish or Arabic shows none of the English sentences, and says its language
// and direction.
func TestPayPageInEveryLanguage(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	states := []checkout.State{checkout.StateCreating, checkout.StateWaiting, checkout.StateOnHold,
		checkout.StateAccepted, checkout.StatePaid, checkout.StateDeclined, checkout.StateExpired,
		checkout.StateCanceled, checkout.StateFailed, checkout.StateRejected}
	english := map[checkout.State]string{}
	for _, l := range locale.Languages() {
		for _, st := range states {
			o := checkout.Order{ID: 42, Token: "tok", Amount: 123456, Description: "Coffee", State: st,
				ExpiresAt: now.Add(25 * time.Minute), FailReason: banq.FailInsufficientBalance,
				PaymentID: "pay-9", TransactionID: "tx-9", PaidAt: now}
			page := renderPayIn(t, l.Code, views.PayView{Order: o, Merchant: "Shop", Now: now, QRURL: "/pay/tok/qr.svg", SandboxPayURL: "http://sb/pay/1"})
			if !strings.Contains(page, `<html lang="`+l.Code+`" dir="`+map[bool]string{true: "rtl", false: "ltr"}[l.Code == "ar"]+`"`) {
				t.Fatalf("%s: the page does not say its language and direction: %.200s", l.Code, page)
			}
			text := apptest.Text(page, "pay-state")
			if l.Code == "en" {
				english[st] = text
				continue
			}
			for _, sentence := range strings.SplitAfter(english[st], ".") {
				// Names, numbers and Banq's references are the same in every language.
				if s := strings.TrimSpace(sentence); len(s) > 12 && strings.Contains(text, s) {
					t.Errorf("%s %s: English left in the page: %q", l.Code, st, s)
				}
			}
		}
	}
}

func TestPayPageInArabic(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	o := checkout.Order{ID: 42, Token: "tok", Amount: 1250, Description: "Coffee", State: checkout.StateWaiting, ExpiresAt: now.Add(25 * time.Minute)}
	page := renderPayIn(t, "ar", views.PayView{Order: o, Merchant: "Shop", Now: now})
	if got, want := apptest.Text(page, "amount"), "١٢٫٥٠ \u2066US$\u2069"; got != want {
		t.Errorf("amount: got %q, want %q", got, want)
	}
	if got, want := apptest.Text(page, "expiry"), "بقيت 25 دقيقة للموافقة، حتى 15:25 UTC."; got != want {
		t.Errorf("expiry: got %q, want %q", got, want)
	}
	forms, _ := apptest.Attr(page, "expiry", "data-text-minutes")
	for _, form := range []string{`"few":"بقيت {count} دقائق`, `"two":"بقيت دقيقتان`, `"other":`} {
		if !strings.Contains(forms, form) {
			t.Errorf("the minutes' plural forms for pay.js lack %s: %s", form, forms)
		}
	}
	if got, _ := apptest.Attr(page, "lang-ar", "aria-current"); got != "true" {
		t.Errorf("switcher: Arabic is not marked current")
	}
	if href, _ := apptest.Attr(page, "lang-de", "href"); href != "?lang=de" {
		t.Errorf("switcher: German links to %q, want ?lang=de", href)
	}
}

func TestPayErrorInGerman(t *testing.T) {
	var b bytes.Buffer
	if err := views.PayError("Shop", 404).Render(shopInUTC(t, "de"), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for id, want := range map[string]string{
		"headline": "Dieser Zahlungslink funktioniert nicht",
		"detail":   "Dieser Zahlungslink ist ungültig.",
		"next":     "Prüfen Sie, ob Sie den ganzen Link geöffnet haben, oder bitten Sie Shop um einen neuen Zahlungslink. Es wurde nichts abgebucht.",
	} {
		if got := apptest.Text(page, id); got != want {
			t.Errorf("%s: got %q, want %q", id, got, want)
		}
	}
}
