package app_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/handlers"
)

// Live streams are capped per payment link and per client address: one more is answered 429
// with Retry-After, and a stream that ends frees its place.
func TestLiveStreamsAreCapped(t *testing.T) {
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.StreamLimits = handlers.StreamLimits{PerAddress: 5, PerLink: 3}
	}})
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	one := m.MustCreateOrder(t, "1.00", "Scone", payer)
	two := m.MustCreateOrder(t, "2.00", "Cake", payer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(o string) *sse.Stream {
		t.Helper()
		s, err := sse.Open(ctx, nil, a.URL+"/pay/"+o+"/events", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		next(t, s, "state", 2*time.Second)
		return s
	}
	refused := func(path, why string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || ra < 1 {
			t.Fatalf("%s: got %d with Retry-After %q, want 429 with Retry-After (%s)", path, resp.StatusCode, resp.Header.Get("Retry-After"), why)
		}
	}
	var first *sse.Stream
	for i := range 3 {
		s := open(one.Token)
		if i == 0 {
			first = s
		}
	}
	refused("/pay/"+one.Token+"/events", "a 4th stream on one payment link")
	open(two.Token)
	open(two.Token)
	refused("/pay/"+two.Token+"/events", "a 6th stream from one address")

	// A stream that ends frees its place, on its link and for its address.
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := sse.Open(ctx, nil, a.URL+"/pay/"+one.Token+"/events", "")
		if err == nil {
			s.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after a stream ended, its place is still taken: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A payment page refused its stream (the link's streams are all taken) falls back to its
// reconnect timer, and follows the order once a place is free.
func TestBrowserPayPageRetriesARefusedStream(t *testing.T) {
	b := startBrowser(t)
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.StreamLimits = handlers.StreamLimits{PerLink: 1}
	}})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.00", "Scone", a.PayerBanqs(t)[0].GUID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	next(t, held, "state", 2*time.Second)

	pay := b.newTab("pay", 390, 844, true)
	pay.load(t, "open the payment link", 200, chromedp.Navigate(a.URL+"/pay/"+o.Token))
	if pay.waitJS(`!document.getElementById("live-note").hidden`, 1500*time.Millisecond) {
		t.Fatal("the page's stream opened while the link's only place was taken")
	}
	held.Close()
	if !pay.waitJS(`!document.getElementById("live-note").hidden`, 10*time.Second) {
		t.Fatal("the page did not open its stream within 10s of a place coming free")
	}
	a.Act(t, o.PaymentID, "decline", "")
	if !pay.waitJS(stateOf("pay-state")+` === "declined"`, 10*time.Second) {
		t.Fatalf("payment page: state %q, want declined", pay.eval(t, stateOf("pay-state")))
	}
}
