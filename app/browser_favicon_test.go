package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
)

// TestBrowserNoMissingFiles loads the sign-in page, the order list and a payment page and
// fails on any answer of 404 the browser got meanwhile (a missing favicon, for one).
func TestBrowserNoMissingFiles(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	o := a.SignIn(t).MustCreateOrder(t, "1.10", "Tea", a.PayerBanqs(t)[0].GUID)
	tb := b.newTab("browser", 1280, 800, false)
	var mu sync.Mutex
	var missing, icons []string
	chromedp.Listen(tb.ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok {
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(e.Response.URL, "favicon") {
				icons = append(icons, fmt.Sprintf("%s %d", e.Response.URL, e.Response.Status))
			}
			if e.Response.Status == 404 {
				missing = append(missing, e.Response.URL)
			}
		}
	})
	tb.do(t, "watch the network", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	})
	signInInBrowser(t, a, tb)
	tb.load(t, "open the payment page", 200, chromedp.Navigate(a.URL+"/pay/"+o.Token))
	// The browser asks for the icon after the page has loaded.
	eventually(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(icons) > 0
	}, func() string { return "the browser asked for no favicon" })
	mu.Lock()
	defer mu.Unlock()
	if len(missing) > 0 {
		t.Fatalf("answers of 404: %v (favicons asked for: %v); want none", missing, icons)
	}
	t.Logf("favicons: %v", icons)
}
