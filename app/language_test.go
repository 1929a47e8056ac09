package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/currency"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/checkout"
)

func getIn(t *testing.T, u string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func htmlLang(page string) string {
	_, rest, _ := strings.Cut(page, "<html ")
	tag, _, _ := strings.Cut(rest, ">")
	return tag
}

// The customer's page speaks the language asked for by ?lang=, then by the switcher's cookie,
// then by the browser, then the shop's default; its stream and a bad link's page too. Amounts
// are in the shop's currency, written the reader's way; the merchant's pages are in the shop's
// time zone, the CSV in plain decimals and UTC.
func TestCustomerLanguageMoneyAndTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.DefaultLanguage, c.Currency, c.TimeZone = "es", currency.EUR, berlin
	}})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "1234.50", "Tarta", a.PayerBanqs(t)[0].GUID)
	pay := a.URL + "/pay/" + o.Token

	for _, tt := range []struct {
		name   string
		url    string
		header []string
		want   string // the <html> tag's attributes
		amount string
	}{
		{"the shop's default", pay, nil, `lang="es" dir="ltr"`, "1.234,50 €"},
		{"Accept-Language", pay, []string{"Accept-Language", "de-AT,de;q=0.9,en;q=0.5"}, `lang="de" dir="ltr"`, "1.234,50 €"},
		{"a language we lack", pay, []string{"Accept-Language", "fr-FR,fr;q=0.9"}, `lang="es" dir="ltr"`, "1.234,50 €"},
		{"?lang= over Accept-Language", pay + "?lang=ar", []string{"Accept-Language", "de"}, `lang="ar" dir="rtl"`, "١٬٢٣٤٫٥٠ €"},
		{"the cookie over Accept-Language", pay, []string{"Accept-Language", "de", "Cookie", "checkout_lang=en"}, `lang="en" dir="ltr"`, "€1,234.50"},
		{"?lang= over the cookie", pay + "?lang=de", []string{"Cookie", "checkout_lang=en"}, `lang="de" dir="ltr"`, "1.234,50 €"},
		{"a bad ?lang=", pay + "?lang=xx", []string{"Accept-Language", "en"}, `lang="en" dir="ltr"`, "€1,234.50"},
	} {
		resp, page := getIn(t, tt.url, tt.header...)
		if resp.StatusCode != http.StatusOK || htmlLang(page) != tt.want {
			t.Errorf("%s: got %s <html %s>, want %s", tt.name, resp.Status, htmlLang(page), tt.want)
		}
		if got := apptest.Text(page, "amount"); got != tt.amount {
			t.Errorf("%s: amount %q, want %q", tt.name, got, tt.amount)
		}
		if got, want := resp.Header.Get("Content-Language"), strings.Split(strings.TrimPrefix(tt.want, `lang="`), `"`)[0]; got != want {
			t.Errorf("%s: Content-Language %q, want %q", tt.name, got, want)
		}
	}

	// The switcher's choice is kept for the next visit.
	resp, _ := getIn(t, pay+"?lang=ar")
	var kept *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "checkout_lang" {
			kept = c
		}
	}
	if kept == nil || kept.Value != "ar" || !kept.HttpOnly || kept.Path != "/pay/" || kept.MaxAge <= 0 {
		t.Fatalf("?lang=ar: got cookie %+v, want checkout_lang=ar, HttpOnly, on /pay/, lasting", kept)
	}

	// The stream writes the state in the page's language.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sse.Open(ctx, nil, pay+"/events?lang=de", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, ok := <-s.Events
	if !ok || !strings.Contains(ev.Data, "Bestätigen Sie die Zahlung in Ihrer Banq-App") {
		t.Fatalf("stream in German: got %q", ev.Data)
	}

	// A payment link that does not work says so in the reader's language.
	for _, path := range []string{"/pay/0123456789abcdef0123", "/pay/short"} {
		resp, page := getIn(t, a.URL+path, "Accept-Language", "ar")
		if resp.StatusCode != http.StatusNotFound || htmlLang(page) != `lang="ar" dir="rtl"` ||
			apptest.Text(page, "headline") != "رابط الدفع هذا لا يعمل" {
			t.Errorf("GET %s: got %s <html %s> %q, want 404 in Arabic", path, resp.Status, htmlLang(page), apptest.Text(page, "headline"))
		}
	}

	// The shop API answers amounts in the shop's currency.
	c := a.NewAPIClient(t, m.CreateAPIKey(t, "web shop", checkout.ScopeOrdersWrite))
	if got := c.MustCreate(t, `{"amount": "3", "description": "Tea"}`, nil); got.Currency != "EUR" || got.Amount != "3.00" {
		t.Errorf("API order: got %s %s, want 3.00 EUR", got.Amount, got.Currency)
	}

	// The merchant's pages: English, the shop's currency, the shop's time zone.
	page := m.Get(t, orderPath(o)).Body
	if got := apptest.Text(page, "order-amount"); got != "€1,234.50" {
		t.Errorf("order page amount: got %q, want €1,234.50", got)
	}
	if events, err := a.DB.Events(context.Background(), o.ID, 0); err != nil || len(events) == 0 ||
		!strings.HasPrefix(events[0].Message, "Order created: €1,234.50 from ") {
		t.Errorf("the timeline's first entry: got %+v (%v), want the amount in euros", events, err)
	}
	if got, want := apptest.Text(page, "order-expires"), o.ExpiresAt.In(berlin).Format("2006-01-02 15:04:05 MST"); got != want {
		t.Errorf("order page expiry: got %q, want %q (Europe/Berlin)", got, want)
	}
	csv := m.Get(t, "/orders.csv").Body
	if !strings.Contains(csv, ",1234.50,") || !strings.Contains(csv, o.CreatedAt.UTC().Format(time.RFC3339)) {
		t.Errorf("CSV: want plain 1234.50 and UTC times, got %.300s", csv)
	}
}
