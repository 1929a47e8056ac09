package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

// pageWithin is how long a merchant page may take to load in these tests. The issue asks for a
// second; a stream starved of connections made a page wait about 60 s, so the bound keeps a
// margin for a busy CI machine and still tells the two apart.
const pageWithin = 3 * time.Second

// timedLoad runs a navigation and fails when the page took longer than pageWithin.
func (tb *tab) timedLoad(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) time.Duration {
	t.Helper()
	start := time.Now()
	tb.load(t, what, 200, actions...)
	took := time.Since(start)
	if took > pageWithin {
		t.Fatalf("tab %s: %s took %v, want under %v", tb.name, what, took.Round(time.Millisecond), pageWithin)
	}
	return took
}

// waitLive waits until the page says its live updates are on.
func (tb *tab) waitLive(t *testing.T) {
	t.Helper()
	if !tb.waitJS(`document.documentElement.dataset.live === "on"`, 5*time.Second) {
		t.Fatalf("tab %s: live updates did not start within 5s", tb.name)
	}
}

// TestBrowserTwentyClicksWithBFCache clicks through twenty merchant pages in one tab, list and
// orders in turn, with Chromium's back/forward cache on: the pages left behind must not hold the
// six connections HTTP/1.1 allows per host (before each page closed its stream on pagehide,
// the seventh page waited about a minute). Then Back shows the last order again, restored from
// the cache or loaded anew (merchant pages are no-store, which Chromium restores only while no
// cookie changed), and it follows its order live.
func TestBrowserTwentyClicksWithBFCache(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	var orders []checkout.Order
	for i := range 10 {
		orders = append(orders, m.MustCreateOrder(t, fmt.Sprintf("%d.00", i+1), fmt.Sprintf("Order %d", i+1), payers[i%len(payers)].GUID))
	}
	tb := b.newTab("merchant", 1280, 800, false)
	signInInBrowser(t, a, tb)
	markRestoredPages(t, tb)
	var slowest time.Duration
	for i := range 20 {
		var took time.Duration
		if i%2 == 0 {
			o := orders[i/2]
			took = tb.timedLoad(t, fmt.Sprintf("click %d: open order #%d", i+1, o.ID),
				chromedp.Click(chromedp.CSS(`#order-rows a[href="/orders/`+strconv.FormatInt(o.ID, 10)+`"]`)))
		} else {
			took = tb.timedLoad(t, fmt.Sprintf("click %d: back to the list", i+1),
				chromedp.Click(chromedp.CSS(`header nav a[href="/orders"]`)))
		}
		slowest = max(slowest, took)
		tb.waitLive(t)
	}
	t.Logf("the slowest of 20 pages took %v", slowest.Round(time.Millisecond))

	// The list is shown now; Back goes to the last order's page. Merchant pages are no-store,
	// so Chromium may or may not restore it from the cache; either way it must follow its order.
	last := orders[9]
	tb.do(t, "go back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	if !tb.waitJS(`location.pathname === "/orders/`+strconv.FormatInt(last.ID, 10)+`" && document.readyState === "complete"`, pageWithin) {
		t.Fatalf("Back did not show order %d within %v", last.ID, pageWithin)
	}
	t.Logf("Back: restored from the back/forward cache: %s", tb.eval(t, `String(window.__bfcached === true)`))
	tb.waitLive(t)
	a.Act(t, last.PaymentID, "approve", "")
	if !tb.waitJS(stateOf("order-state")+` === "paid"`, 5*time.Second) {
		t.Fatalf("order page after Back: state %q 5s after approval, want paid", tb.eval(t, stateOf("order-state")))
	}
}

// TestBrowserPayPageStreamFollowsPageShown has the payment page hidden as when it goes into the
// back/forward cache (pagehide): its stream closes, so a cached page holds no connection. When
// the page is shown again (pageshow) its stream reopens and it shows what happened meanwhile.
// Chromium here does not restore our no-store pages from the cache, so the test sends the two
// events itself.
func TestBrowserPayPageStreamFollowsPageShown(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	o := a.SignIn(t).MustCreateOrder(t, "4.10", "Tea", a.PayerBanqs(t)[0].GUID)
	pay := b.newTab("customer", 390, 844, true)
	openPayPage(t, pay, a.URL+"/pay/"+o.Token, checkout.StateWaiting)
	if got := a.Hub.Subscribers(); got != 1 {
		t.Fatalf("streams with the payment page open: got %d, want 1", got)
	}
	pay.do(t, "hide the page", chromedp.Evaluate[chromedp.Void](`dispatchEvent(new PageTransitionEvent("pagehide", {persisted: true}))`))
	eventually(t, 5*time.Second, func() bool { return a.Hub.Subscribers() == 0 },
		func() string { return fmt.Sprintf("streams after pagehide: %d, want 0", a.Hub.Subscribers()) })
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	pay.do(t, "show the page again", chromedp.Evaluate[chromedp.Void](`dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true}))`))
	if !pay.waitJS(stateOf("pay-state")+` === "paid"`, 5*time.Second) {
		t.Fatalf("payment page shown again: state %q, want paid", pay.eval(t, stateOf("pay-state")))
	}
	assertNoReload(t, pay)
}

// markRestoredPages sets window.__bfcached on every page of the tab that the back/forward cache
// restores.
func markRestoredPages(t *testing.T, tb *tab) {
	t.Helper()
	tb.do(t, "mark pages restored from the back/forward cache", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `addEventListener("pageshow", function (e) { if (e.persisted) window.__bfcached = true; })`,
		})
		return chromedp.Void{}, err
	})
}

// TestBrowserTenTabs opens the list and nine orders in ten tabs of one browser, each page in
// time, and every tab follows its changes live.
func TestBrowserTenTabs(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	var orders []checkout.Order
	for i := range 9 {
		orders = append(orders, m.MustCreateOrder(t, fmt.Sprintf("%d.50", i+1), fmt.Sprintf("Order %d", i+1), payers[i%len(payers)].GUID))
	}
	list := b.newTab("list", 1280, 800, false)
	signInInBrowser(t, a, list)
	list.waitLive(t)
	tabs := make([]*tab, len(orders))
	for i, o := range orders {
		tabs[i] = b.newTab(fmt.Sprintf("order-%d", o.ID), 1280, 800, false)
		took := tabs[i].timedLoad(t, fmt.Sprintf("open order %d in tab %d", o.ID, i+2), chromedp.Navigate(a.URL+"/orders/"+strconv.FormatInt(o.ID, 10)))
		tabs[i].waitLive(t)
		t.Logf("tab %d: order %d loaded in %v", i+2, o.ID, took.Round(time.Millisecond))
	}
	approveAndSee := func(orders []checkout.Order, tabs []*tab, list *tab) {
		t.Helper()
		for _, o := range orders {
			a.Act(t, o.PaymentID, "approve", "")
		}
		for i, o := range orders {
			if !tabs[i].waitJS(stateOf("order-state")+` === "paid"`, 5*time.Second) {
				t.Errorf("tab of order %d: state %q 5s after approval, want paid", o.ID, tabs[i].eval(t, stateOf("order-state")))
			}
			if list == nil {
				continue
			}
			row := `(document.getElementById("order-` + strconv.FormatInt(o.ID, 10) + `") || {dataset: {}}).dataset.state`
			if !list.waitJS(row+` === "paid"`, 5*time.Second) {
				t.Errorf("list tab: order %d's row shows %q, want paid", o.ID, list.eval(t, `String(`+row+`)`))
			}
		}
	}
	approveAndSee(orders[:5], tabs[:5], list)
	// The list's tab, opened first, holds the stream for all; when it goes, another takes over.
	list.load(t, "leave the list", 200, chromedp.Navigate(a.URL+"/healthz"))
	approveAndSee(orders[5:], tabs[5:], nil)
}

// TestBrowserTimelineKeepsSequence has an entry reach the order page late, after the ones that
// follow it (as after a reconnect, or from another instance): it goes in its place by the order's
// own sequence, not at the end.
func TestBrowserTimelineKeepsSequence(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	o := a.SignIn(t).MustCreateOrder(t, "5.60", "Bagel", a.PayerBanqs(t)[0].GUID)
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	tb := b.newTab("merchant", 1280, 800, false)
	signInInBrowser(t, a, tb)
	tb.load(t, "open the order", 200, chromedp.Navigate(a.URL+"/orders/"+strconv.FormatInt(o.ID, 10)))
	tb.waitLive(t)
	const seqs = `Array.prototype.map.call(document.querySelectorAll("#timeline > li"), function (li) { return li.dataset.seq; }).join(",")`
	all := tb.eval(t, seqs)
	if strings.Count(all, ",") < 3 {
		t.Fatalf("timeline entries: %s; the test needs several", all)
	}
	// The second entry has not arrived yet; the stream reopens and the page catches up.
	tb.do(t, "drop the second entry", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#timeline > li")[1].remove()`))
	tb.do(t, "leave and come back", chromedp.Evaluate[chromedp.Void](
		`dispatchEvent(new PageTransitionEvent("pagehide", {persisted: true})); dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true}))`))
	if !tb.waitJS(seqs+` === "`+all+`"`, 5*time.Second) {
		t.Fatalf("timeline after catching up: %s, want %s (in sequence)", tb.eval(t, seqs), all)
	}
}
