package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
)

// axeSource returns axe-core (axe.min.js) from $CHECKOUT_AXE_CORE, which .ci/run installs from
// the npm registry: third-party source is not kept in this repository. Without it the test is
// skipped, unless CHECKOUT_REQUIRE_BROWSER=1 (CI), where that is a failure.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHECKOUT_AXE_CORE")
	if path == "" {
		msg := "CHECKOUT_AXE_CORE is not set (npm install --prefix DIR axe-core@4.10.3, then CHECKOUT_AXE_CORE=DIR/node_modules/axe-core/axe.min.js)"
		if os.Getenv("CHECKOUT_REQUIRE_BROWSER") == "1" {
			t.Fatalf("%s; CHECKOUT_REQUIRE_BROWSER=1 makes this a failure", msg)
		}
		t.Skipf("skipping accessibility test: %s", msg)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	return string(src)
}

// axeJS runs axe-core's WCAG 2 A/AA and best-practice rules on the page and gives its serious
// and critical violations, each with the elements it found, as JSON.
const axeJS = `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return JSON.stringify(r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; }).map(function (v) {
    return v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.slice(0, 4).map(function (n) { return n.target.join(" ") + " (" + (n.failureSummary || "").replace(/\s+/g, " ").slice(0, 160) + ")"; }).join("; ");
  }));
})`

// checkA11y injects axe-core into the page the tab shows (through DevTools, so the page's CSP
// does not apply to it) and fails the test on any serious or critical violation.
func checkA11y(t *testing.T, tb *tab, axe, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe+";void 0")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", what, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeJS, func(p *runtime.EvaluateParams) { p.AwaitPromise = ptr(true) }))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", what, err)
	}
	var violations []string
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("%s: axe-core's answer %q: %v", what, out, err)
	}
	for _, v := range violations {
		t.Errorf("%s: %s", what, v)
	}
}

func ptr[T any](v T) *T { return &v }

// screenshotsDir is where the language screenshots go: $CHECKOUT_SCREENSHOTS (docs/ to renew
// those of docs/languages.md), or the artifacts folder.
func screenshotsDir() string {
	if d := os.Getenv("CHECKOUT_SCREENSHOTS"); d != "" {
		return d
	}
	return artifactsDir()
}

// keepScreenshot saves what the tab shows, its viewport, as name.
func keepScreenshot(t *testing.T, tb *tab, name string) {
	t.Helper()
	png := run(t, tb, "take a screenshot", chromedp.CaptureScreenshot())
	dir := screenshotsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPayPageInEveryLanguage opens a payment link on a 390×844 phone in each language
// (German from the browser's own language, the others from the switcher's ?lang=), in Tokyo:
// the page says its language and direction, mirrors in Arabic, writes the expiry and the
// receipt's time in the reader's zone and language, turns paid by its stream in the same
// language, and has no serious or critical accessibility violation, waiting and paid. It keeps
// the screenshots (pay-<lang>.png, receipt-<lang>.png). The bad-link page, a failed payment
// and the merchant's pages are checked for accessibility too.
func TestBrowserPayPageInEveryLanguage(t *testing.T) {
	axe := axeSource(t)
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	catalog, err := locale.New(locale.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range locale.Languages() {
		p := catalog.Printer(l)
		br := b
		if l.Code == "de" {
			// A browser of its own: no cookie from the other languages' switcher.
			br = startBrowser(t)
		}
		tb := br.newTab("phone-"+l.Code, 390, 844, true)
		tb.do(t, "set the time zone to Tokyo's", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
			return chromedp.Void{}, err
		})
		o := m.MustCreateOrder(t, "1234.50", "Café con leche", payers[i%len(payers)].GUID)
		link := a.URL + "/pay/" + o.Token + "?lang=" + l.Code
		if l.Code == "de" {
			// German by the browser's language, not the link.
			link = a.URL + "/pay/" + o.Token
			tb.do(t, "speak German", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
					return chromedp.Void{}, err
				}
				_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
					Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}})
				return chromedp.Void{}, err
			})
		}
		tb.load(t, "open the payment link", 200, chromedp.Navigate(link))
		dir := map[bool]string{true: "rtl", false: "ltr"}[l.Code == "ar"]
		if got := tb.eval(t, `document.documentElement.lang + " " + document.documentElement.dir`); got != l.Code+" "+dir {
			t.Fatalf("%s: <html lang dir> %q, want %q", l.Code, got, l.Code+" "+dir)
		}
		if got := tb.eval(t, `document.querySelector('[data-testid="pay-state"] h1').textContent`); got != p.T("state_waiting_headline") {
			t.Errorf("%s: headline %q, want %q", l.Code, got, p.T("state_waiting_headline"))
		}
		if !tb.waitJS(`!document.getElementById("live-note").hidden`, 10*time.Second) {
			t.Fatalf("%s: the live stream did not open within 10s", l.Code)
		}
		// The expiry line, written by app.js: the minutes in the language's plural form and
		// the time in Tokyo.
		want := tb.eval(t, `(function (el) {
			var lang = document.documentElement.lang, expires = new Date(el.getAttribute("data-expires-at"));
			return String(new Intl.DateTimeFormat(lang, {hour: "numeric", minute: "2-digit", timeZone: "Asia/Tokyo"}).format(expires));
		})(document.querySelector('[data-testid="expiry"]'))`)
		if !tb.waitJS(`document.querySelector('[data-testid="expiry"]').textContent.indexOf(`+jsString(want)+`) >= 0`, 5*time.Second) {
			t.Errorf("%s: the expiry line %q does not give the time in Tokyo, %s", l.Code, tb.eval(t, `document.querySelector('[data-testid="expiry"]').textContent`), want)
		}
		if tb.eval(t, `document.querySelector('[data-testid="expiry"]').textContent`) == strings.TrimSpace(apptest.Text(m.Get(t, "/pay/"+o.Token+"?lang="+l.Code).Body, "expiry")) {
			t.Errorf("%s: app.js left the server's expiry line as it was", l.Code)
		}
		checkA11y(t, tb, axe, l.Code+" payment page, waiting")
		keepScreenshot(t, tb, "pay-"+l.Code+".png")

		a.Act(t, o.PaymentID, "approve", "")
		if !tb.waitJS(stateOf("pay-state")+` === "paid"`, 10*time.Second) {
			t.Fatalf("%s: the page did not turn paid within 10s", l.Code)
		}
		if got := tb.eval(t, `document.querySelector('[data-testid="pay-state"] h1').textContent`); got != p.T("state_paid_headline") {
			t.Errorf("%s: paid headline by the stream %q, want %q", l.Code, got, p.T("state_paid_headline"))
		}
		if got := tb.eval(t, `document.querySelector('[data-testid="receipt-amount"]').textContent`); got != p.Money(o.Amount) {
			t.Errorf("%s: receipt amount %q, want %q", l.Code, got, p.Money(o.Amount))
		}
		// The receipt's time in the reader's zone and language.
		if got := tb.eval(t, `(function (el) {
			var f = new Intl.DateTimeFormat(document.documentElement.lang, {dateStyle: "medium", timeStyle: "medium", timeZone: "Asia/Tokyo"});
			return el.textContent === f.format(new Date(el.getAttribute("datetime"))) ? "" : el.textContent + " is not " + f.format(new Date(el.getAttribute("datetime")));
		})(document.querySelector('[data-testid="receipt-paid-at"] time'))`); got != "" {
			t.Errorf("%s: receipt time: %s", l.Code, got)
		}
		// Right to left, the receipt's labels stand on the right of their values.
		labelRight := tb.eval(t, `String(document.querySelector(".receipt dt").getBoundingClientRect().left > document.querySelector(".receipt dd").getBoundingClientRect().left)`)
		if want := map[bool]string{true: "true", false: "false"}[dir == "rtl"]; labelRight != want {
			t.Errorf("%s (%s): receipt label right of its value: %s, want %s", l.Code, dir, labelRight, want)
		}
		if got := tb.eval(t, overflowJS); got != "" {
			t.Errorf("%s receipt at 390 px: %s", l.Code, got)
		}
		checkA11y(t, tb, axe, l.Code+" receipt")
		keepScreenshot(t, tb, "receipt-"+l.Code+".png")
	}

	// The switcher: from Arabic to Spanish, kept on the next visit without ?lang=.
	tb := b.newTab("switcher", 390, 844, true)
	o := m.MustCreateOrder(t, "3.20", "Espresso", payers[0].GUID)
	tb.load(t, "open the payment link in Arabic", 200, chromedp.Navigate(a.URL+"/pay/"+o.Token+"?lang=ar"))
	tb.load(t, "switch to Spanish", 200, chromedp.Click(byTestID("lang-es")))
	tb.load(t, "open the link again", 200, chromedp.Navigate(a.URL+"/pay/"+o.Token))
	if got := tb.eval(t, `document.documentElement.lang`); got != "es" {
		t.Errorf("after switching to Spanish and coming back: lang %q, want es", got)
	}

	// A failed payment and a bad link, in English and Arabic.
	failed := m.MustCreateOrder(t, "7.05", "Sandwich", payers[1%len(payers)].GUID)
	a.Act(t, failed.PaymentID, "fail", banq.FailInsufficientBalance)
	a.WaitOrder(t, failed.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StateFailed })
	for _, code := range []string{"en", "ar"} {
		tb.load(t, "open a failed payment", 200, chromedp.Navigate(a.URL+"/pay/"+failed.Token+"?lang="+code))
		checkA11y(t, tb, axe, code+" failed payment")
		tb.load(t, "open a bad link", 404, chromedp.Navigate(a.URL+"/pay/0123456789abcdef0123?lang="+code))
		checkA11y(t, tb, axe, code+" bad payment link")
	}

	// An order a shop made over the API, paid by Banq's link, that returns to the shop: waiting
	// ("Open in Banq") and paid (the return countdown, stopped), in English and Arabic.
	api := a.NewAPIClient(t, m.CreateAPIKey(t, "web shop", checkout.ScopeOrdersWrite))
	for _, l := range []locale.Language{locale.Languages()[0], locale.Languages()[3]} {
		p := catalog.Printer(l)
		made := api.MustCreate(t, `{"amount": "8.40", "description": "Wool socks", "return_url": "http://127.0.0.1:9/thanks"}`, nil)
		tb.load(t, "open an order by link", 200, chromedp.Navigate(made.PayURL+"?lang="+l.Code))
		if got := tb.eval(t, `document.querySelector('[data-testid="open-in-banq"]').textContent`); got != p.T("open_in_banq") {
			t.Errorf("%s: Open in Banq reads %q, want %q", l.Code, got, p.T("open_in_banq"))
		}
		checkA11y(t, tb, axe, l.Code+" order by link, waiting")
		token := made.PayURL[strings.LastIndex(made.PayURL, "/")+1:]
		byLink, err := a.DB.OrderByToken(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		a.Act(t, byLink.PaymentID, "approve", "")
		if !tb.waitJS(`!document.querySelector('[data-testid="back-stop"]').hidden`, 10*time.Second) {
			t.Fatalf("%s: the return countdown did not start within 10s", l.Code)
		}
		tb.do(t, "stay", chromedp.Click(byTestID("back-stop")))
		if got := tb.eval(t, `document.querySelector('[data-testid="back-note"]').textContent`); got != p.T("back_stayed") {
			t.Errorf("%s: after Stay here: %q, want %q", l.Code, got, p.T("back_stayed"))
		}
		checkA11y(t, tb, axe, l.Code+" order by link, paid, back to the shop")
	}

	// The last minutes count down in the page's language.
	soon := api.MustCreate(t, `{"amount": "1", "description": "Tea", "expires_in_minutes": 5}`, nil)
	tb.load(t, "open an order about to expire", 200, chromedp.Navigate(soon.PayURL+"?lang=de"))
	if !tb.waitJS(`/^Läuft ab in [0-5]:[0-5][0-9]\.$/.test(document.querySelector('[data-testid="expiry"]').textContent.trim())`, 5*time.Second) {
		t.Errorf("de countdown: got %q, want Läuft ab in m:ss.", tb.eval(t, `document.querySelector('[data-testid="expiry"]').textContent`))
	}

	// The merchant's pages (in English).
	desk := b.newTab("desk", 1280, 900, false)
	desk.load(t, "open the sign-in page", 200, chromedp.Navigate(a.URL+"/login"))
	checkA11y(t, desk, axe, "/login")
	signInInBrowser(t, a, desk)
	for _, p := range []string{"/orders", "/orders/new", "/orders/new?q=a", orderPath(o), orderPath(failed), "/webhook-log", "/notifications", "/account", "/account/api-keys"} {
		desk.load(t, "open "+p, 200, chromedp.Navigate(a.URL+p))
		checkA11y(t, desk, axe, p)
	}
	desk.load(t, "send the empty order form", 200, chromedp.Navigate(a.URL+"/orders/new"))
	desk.load(t, "send the empty order form", 422, chromedp.Click(byTestID("create-order")))
	checkA11y(t, desk, axe, "the new-order form with errors")
}
