package app_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// Browser tests drive Debian's Chromium through the pages people use: the merchant's forms,
// the customer's payment page on a phone-sized screen, and the sandbox's payer app.

// chromiumPath returns the browser to drive. Without one the test is skipped, unless
// CHECKOUT_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHECKOUT_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "Chromium not found at /usr/bin/chromium or on PATH (apt-get install chromium, or set CHECKOUT_CHROMIUM)"
	if os.Getenv("CHECKOUT_REQUIRE_BROWSER") == "1" {
		t.Fatalf("%s; CHECKOUT_REQUIRE_BROWSER=1 makes this a failure", msg)
	}
	t.Skipf("skipping browser test: %s", msg)
	return ""
}

// browser is one headless Chromium with a fresh profile, closed when the test ends.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return &browser{t: t, ctx: ctx}
}

// tab is one browser tab; its screenshot is saved when the test fails.
type tab struct {
	t    *testing.T // the test that opened it, whose failure saves the screenshot
	name string
	ctx  context.Context
}

// newTab opens a tab of width×height CSS pixels (mobile emulation when mobile).
func (b *browser) newTab(name string, width, height int64, mobile bool) *tab {
	t := b.t
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{t: t, name: name, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			tb.screenshot()
		}
		cancel()
	})
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	return tb
}

// artifactsDir is where screenshots of failed browser tests go: $CHECKOUT_ARTIFACTS, or a
// folder under the system's temporary directory that outlives the test.
func artifactsDir() string {
	if d := os.Getenv("CHECKOUT_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "checkout-artifacts")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (tb *tab) screenshot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot of tab %s: %v", tb.name, err)
		return
	}
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("screenshot of tab %s: %v", tb.name, err)
		return
	}
	name := unsafeName.ReplaceAllString(tb.t.Name()+"-"+tb.name, "_") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Logf("screenshot of tab %s: %v", tb.name, err)
		return
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	tb.t.Logf("screenshot of tab %s (%s) written to %s", tb.name, loc, path)
}

// do runs actions with a bound, failing the test with what was being done.
func (tb *tab) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
}

// load runs actions that end in a navigation (a link, a form) and waits until the new page has
// loaded, failing unless its document answered want.
func (tb *tab) load(t testing.TB, what string, want int64, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
	if resp.Status != want {
		t.Fatalf("tab %s: %s: got %d from %s, want %d", tb.name, what, resp.Status, resp.URL, want)
	}
}

// run runs one action that returns a value, with a bound.
func run[T any](t testing.TB, tb *tab, what string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("tab %s: %s: %v", tb.name, what, err)
	}
	return v
}

// waitJS evaluates a JavaScript condition (an expression giving a boolean) every 25ms until it
// is true or within passes, and reports whether it came true. A navigation meanwhile does not
// end the wait.
func (tb *tab) waitJS(cond string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression that gives a string.
func (tb *tab) eval(t testing.TB, expr string) string {
	t.Helper()
	return run(t, tb, "evaluate "+expr, chromedp.Evaluate[string](expr))
}

func byTestID(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// stateOf is JavaScript giving the data-state of the first element with the test id, or "".
func stateOf(testID string) string {
	return `((document.querySelector('[data-testid="` + testID + `"]') || {dataset: {}}).dataset.state || "")`
}

// signInInBrowser signs the demo merchant in through the login form.
func signInInBrowser(t *testing.T, a *apptest.App, tb *tab) {
	t.Helper()
	tb.load(t, "open the sign-in page", 200, chromedp.Navigate(a.URL+"/login"))
	tb.load(t, "sign in", 200,
		chromedp.SendKeys(chromedp.ID("email"), app.DemoEmail),
		chromedp.SendKeys(chromedp.ID("password"), a.DemoPassword(t)),
		chromedp.Click(byTestID("sign-in")),
	)
	tb.do(t, "see the orders", chromedp.WaitVisible(byTestID("new-order")))
}

// createOrderInBrowser fills the new-order form the way a merchant does: search the customer's
// banq, choose it, type amount and description, submit. It returns the order's page URL and the
// payment link read from the page.
func createOrderInBrowser(t *testing.T, a *apptest.App, tb *tab, customer banq.Banq, amount, description string) (string, string) {
	t.Helper()
	search := strings.Fields(customer.Name)[0]
	option := chromedp.CSS(`[data-testid="banq-option"][value="` + customer.GUID + `"]`)
	tb.load(t, "open the new-order form", 200, chromedp.Navigate(a.URL+"/orders"))
	tb.load(t, "follow the new-order link", 200, chromedp.Click(byTestID("new-order")))
	tb.load(t, "search the customer's banq", 200,
		chromedp.SendKeys(byTestID("banq-search"), search),
		chromedp.Click(byTestID("banq-search-go")),
	)
	if got := tb.eval(t, `document.getElementById("banq-q").value`); got != search {
		t.Fatalf("banq search box after searching: got %q, want %q", got, search)
	}
	if n := run(t, tb, "count the banqs found", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="banq-option"]').length`)); n < 1 || n > 3 {
		t.Fatalf("searching %q listed %d banqs, want the few that match", search, n)
	}
	tb.load(t, "choose the customer, fill the form and send it", 200,
		chromedp.Click(option),
		chromedp.SendKeys(byTestID("amount"), amount),
		chromedp.SendKeys(byTestID("description"), description),
		chromedp.Click(byTestID("create-order")),
	)
	payLink := run(t, tb, "read the payment link", chromedp.Value(byTestID("pay-link")))
	orderURL := run(t, tb, "read the order page's address", chromedp.Location())
	if !strings.HasPrefix(payLink, a.URL+"/pay/") {
		t.Fatalf("payment link: got %q, want %s/pay/…", payLink, a.URL)
	}
	return orderURL, payLink
}

// orderByPayLink finds the order behind a payment link in the database.
func orderByPayLink(t *testing.T, a *apptest.App, payLink string) checkout.Order {
	t.Helper()
	token := payLink[strings.LastIndex(payLink, "/pay/")+len("/pay/"):]
	o, err := a.DB.OrderByToken(context.Background(), token)
	if err != nil {
		t.Fatalf("order of payment link %s: %v", payLink, err)
	}
	return o
}

// openPayPage opens the payment link on a phone-sized tab, waits until it shows state and its
// live stream is open, and sets a marker on window that a reload would wipe.
func openPayPage(t *testing.T, tb *tab, payLink string, state checkout.State) {
	t.Helper()
	tb.load(t, "open the payment link", 200, chromedp.Navigate(payLink))
	if got := tb.eval(t, stateOf("pay-state")); got != string(state) {
		t.Fatalf("payment page: got state %q, want %q", got, state)
	}
	if !tb.waitJS(`!document.getElementById("live-note").hidden`, 5*time.Second) {
		t.Fatal("payment page: the live stream did not open within 5s")
	}
	tb.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = "set before the change"`))
	if width := run(t, tb, "read the viewport width", chromedp.Evaluate[int](`window.innerWidth`)); width != 390 {
		t.Fatalf("payment page viewport: got width %d, want 390", width)
	}
}

// assertNoReload fails unless the marker set by openPayPage is still on the page.
func assertNoReload(t *testing.T, tb *tab) {
	t.Helper()
	if got := tb.eval(t, `String(window.__noReload)`); got != "set before the change" {
		t.Fatalf("the payment page was reloaded: window marker is %q, want it kept", got)
	}
}

// payerAct opens the sandbox's payer page for the payment shown on the customer page and
// presses a button there (with a fail reason chosen first when reason is set).
func payerAct(t *testing.T, a *apptest.App, payer, pay *tab, paymentID, button string, reason banq.FailReason) {
	t.Helper()
	link := run(t, pay, "read the sandbox link", chromedp.AttributeValue(byTestID("sandbox-pay"), "href"))
	if !link.Exists || link.Value != a.SandboxURL+"/sandbox/pay/"+paymentID {
		t.Fatalf("sandbox link on the payment page: got %+v, want %s", link, a.SandboxURL+"/sandbox/pay/"+paymentID)
	}
	payer.load(t, "open the payer's app", 200, chromedp.Navigate(link.Value))
	if reason != "" {
		payer.do(t, "choose the fail reason", chromedp.SetValue(byTestID("fail-reason"), string(reason)))
	}
	payer.load(t, "press "+button, 200, chromedp.Click(byTestID(button)))
	if bad := payer.eval(t, `(function(n){return n.classList.contains("notice-bad") ? n.textContent : ""})(document.querySelector('[data-testid="notice"]'))`); bad != "" {
		t.Fatalf("the payer's app refused %s: %s", button, bad)
	}
}

func TestBrowserCheckout(t *testing.T) {
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	payers := a.PayerBanqs(t)
	merchant := b.newTab("merchant", 1280, 900, false)
	pay := b.newTab("customer", 390, 844, true)
	payer := b.newTab("payer", 390, 844, true)

	signInInBrowser(t, a, merchant)

	t.Run("approved", func(t *testing.T) {
		orderURL, payLink := createOrderInBrowser(t, a, merchant, payers[0], "12.50", "Two coffees & a <b>cake</b>")
		o := orderByPayLink(t, a, payLink)
		if o.State != checkout.StateWaiting || o.Amount.Display() != "12.50" || o.CustomerBanq != payers[0].GUID {
			t.Fatalf("order as stored: state %s amount %s customer %s; want waiting 12.50 %s",
				o.State, o.Amount.Display(), o.CustomerBanq, payers[0].GUID)
		}
		if !strings.HasSuffix(orderURL, fmt.Sprintf("/orders/%d", o.ID)) {
			t.Fatalf("after submitting: at %s, want the order's page", orderURL)
		}
		openPayPage(t, pay, payLink, checkout.StateWaiting)
		if got := pay.eval(t, `document.querySelector('[data-testid="description"]').textContent`); got != "Two coffees & a <b>cake</b>" {
			t.Fatalf("description on the payment page: got %q, want it as typed", got)
		}

		start := time.Now()
		payerAct(t, a, payer, pay, o.PaymentID, "approve", "")
		if !pay.waitJS(stateOf("pay-state")+` === "paid"`, 3*time.Second) {
			t.Fatalf("payment page: state %q 3s after approval, want paid", pay.eval(t, stateOf("pay-state")))
		}
		t.Logf("the payment page showed paid %v after the approval", time.Since(start).Round(time.Millisecond))
		assertNoReload(t, pay)
		if !merchant.waitJS(stateOf("order-state")+` === "paid"`, 3*time.Second) {
			t.Fatalf("merchant's order page: state %q, want paid without a reload", merchant.eval(t, stateOf("order-state")))
		}
		merchant.load(t, "reload the order page", 200, chromedp.Reload())
		if got := merchant.eval(t, stateOf("order-state")); got != "paid" {
			t.Fatalf("merchant's order page after a reload: got %q, want paid", got)
		}
	})

	t.Run("failed with a reason", func(t *testing.T) {
		const reason = banq.FailInsufficientBalance
		_, payLink := createOrderInBrowser(t, a, merchant, payers[1], "7.05", "Sandwich")
		o := orderByPayLink(t, a, payLink)
		openPayPage(t, pay, payLink, checkout.StateWaiting)
		payerAct(t, a, payer, pay, o.PaymentID, "fail", reason)
		if !pay.waitJS(stateOf("pay-state")+` === "failed"`, 3*time.Second) {
			t.Fatalf("payment page: state %q 3s after the failure, want failed", pay.eval(t, stateOf("pay-state")))
		}
		assertNoReload(t, pay)
		got := pay.eval(t, `document.querySelector('[data-testid="pay-state"] [data-testid="fail-reason"]').textContent.trim()`)
		if want := reason.CustomerText(); got != want || want == "" || want == string(reason) {
			t.Fatalf("fail reason on the payment page: got %q, want the words %q", got, want)
		}
		if !merchant.waitJS(stateOf("order-state")+` === "failed"`, 3*time.Second) {
			t.Fatalf("merchant's order page: state %q, want failed", merchant.eval(t, stateOf("order-state")))
		}
	})
}

// blockStreams makes the tab's requests to payment-page streams fail (block) or go through.
func blockStreams(t *testing.T, tb *tab, block bool) {
	t.Helper()
	var patterns []*network.BlockPattern
	if block {
		patterns = []*network.BlockPattern{{URLPattern: "*://*:*/pay/*/events", Block: true}}
	}
	tb.do(t, fmt.Sprintf("block streams: %v", block), func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns})
		return chromedp.Void{}, err
	})
}

// TestBrowserPayPageSurvivesRestart cuts the payment page's stream by restarting the app on the
// same data and port. The page is kept from reconnecting until the payment has been approved
// meanwhile; once it may, it reconnects by itself and shows the truth, without a reload.
func TestBrowserPayPageSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	o := a.SignIn(t).MustCreateOrder(t, "3.20", "Espresso", a.PayerBanqs(t)[2].GUID)
	pay := b.newTab("customer", 390, 844, true)
	openPayPage(t, pay, a.URL+"/pay/"+o.Token, checkout.StateWaiting)

	blockStreams(t, pay, true)
	a = restartWith(t, a, apptest.Options{})
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	if got := pay.eval(t, stateOf("pay-state")); got != string(checkout.StateWaiting) {
		t.Fatalf("payment page while its stream is blocked: got %q, want still waiting (is the stream really cut?)", got)
	}

	blockStreams(t, pay, false)
	start := time.Now()
	const within = 6 * time.Second
	if !pay.waitJS(stateOf("pay-state")+` === "paid"`, within) {
		t.Fatalf("payment page %v after its stream may reconnect: got %q, want paid", within, pay.eval(t, stateOf("pay-state")))
	}
	t.Logf("the payment page reconnected and showed paid %v after its stream was let through", time.Since(start).Round(time.Millisecond))
	assertNoReload(t, pay)
	if got := pay.eval(t, `document.querySelector('[data-testid="receipt"]') ? "receipt" : ""`); got != "receipt" {
		t.Fatal("payment page shows paid without the receipt")
	}
}
