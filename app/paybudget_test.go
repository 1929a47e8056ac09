package app_test

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/locale"
)

// payPageBudget is what a phone may fetch over the wire, headers included, for a cold load of
// the payment page (issue 17: ≤ 12 KB), as cmd/bench's phone scenario counts it.
const payPageBudget = 12_000

// A phone's cold load of the payment page, in every language the page speaks, fetches no more
// than its budget over the wire: the page and everything it loads, the favicon too (the event
// stream, which stays open, is not counted, as in the bench). Byte counts do not depend on
// timing; each language gets a fresh browser, which asks for the favicon once the page has
// loaded, and the count waits for it.
func TestBrowserPayPageFitsPhoneBudget(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "12.40", "Flat white and a croissant, to take away", a.PayerBanqs(t)[0].GUID)
	for _, l := range locale.Languages() {
		lang := l.Code
		tb := startBrowser(t).newTab(lang, 390, 844, true)
		var mu sync.Mutex
		urls := map[network.RequestID]string{}
		size := map[network.RequestID]float64{}
		chromedp.Listen(tb.ctx, func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *network.EventRequestWillBeSent:
				if !strings.HasPrefix(e.Request.URL, "data:") && !strings.Contains(e.Request.URL, "/events") {
					urls[e.RequestID] = e.Request.URL
				}
			case *network.EventLoadingFinished:
				size[e.RequestID] = e.EncodedDataLength
			}
		})
		tb.do(t, "start a cold phone", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return chromedp.Void{}, err
			}
			_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
			return chromedp.Void{}, err
		})
		tb.load(t, "open the payment page", 200, chromedp.Navigate(a.URL+"/pay/"+url.PathEscape(o.Token)+"?lang="+lang))
		if got := tb.eval(t, "document.documentElement.lang"); got != lang {
			t.Fatalf("%s: the page is in %q", lang, got)
		}
		done := func() bool {
			mu.Lock()
			defer mu.Unlock()
			icon := false
			for id, u := range urls {
				if _, ok := size[id]; !ok {
					return false
				}
				icon = icon || strings.HasSuffix(u, "/favicon.svg")
			}
			return icon
		}
		if !tb.waitJS(`document.readyState === "complete"`, 10*time.Second) {
			t.Fatalf("%s: the payment page did not finish loading", lang)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the favicon or other responses did not finish within 10s", lang)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		var total float64
		var lines []string
		for id, u := range urls {
			total += size[id]
			lines = append(lines, strings.TrimPrefix(u, a.URL)+": "+strconv.Itoa(int(size[id])))
		}
		mu.Unlock()
		sort.Strings(lines)
		t.Logf("%s: %d bytes over the wire: %s", lang, int(total), strings.Join(lines, ", "))
		if total > payPageBudget {
			t.Errorf("%s: a phone fetched %d bytes for the payment page, want at most %d (%s)",
				lang, int(total), payPageBudget, strings.Join(lines, ", "))
		}
	}
}
