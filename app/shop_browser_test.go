package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

// testShop is a small web shop on its own origin: its checkout button creates an order over
// the API and sends the browser to pay_url; its return pages ask the API how the order stands
// (never trusting the redirect) and show it.
type testShop struct {
	*httptest.Server
	t        *testing.T
	checkout string // the checkout's URL
	key      string
	mu       sync.Mutex
	returns  []url.Values // the queries the customer came back with
}

func startShop(t *testing.T, checkoutURL, key string) *testShop {
	s := &testShop{t: t, checkout: checkoutURL, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /buy/{ref}", s.buy)
	mux.HandleFunc("GET /thanks", s.back)
	mux.HandleFunc("GET /cart", s.back)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *testShop) api(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, s.checkout+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *testShop) buy(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	body, _ := json.Marshal(map[string]any{"amount": "8.40", "description": "Wool socks", "reference": ref,
		"return_url": s.URL + "/thanks", "cancel_url": s.URL + "/cart"})
	status, answer, err := s.api(http.MethodPost, "/api/v1/orders", body)
	var o apptest.APIOrder
	if err == nil {
		err = json.Unmarshal(answer, &o)
	}
	if err != nil || status != http.StatusCreated {
		s.t.Errorf("the shop's create: %d %s %v", status, answer, err)
		http.Error(w, "checkout failed", http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, o.PayURL, http.StatusSeeOther)
}

func (s *testShop) back(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.returns = append(s.returns, q)
	s.mu.Unlock()
	status, answer, err := s.api(http.MethodGet, "/api/v1/orders?reference="+url.QueryEscape(q.Get("reference")), nil)
	var list struct {
		Data []apptest.APIOrder `json:"data"`
	}
	if err == nil {
		err = json.Unmarshal(answer, &list)
	}
	if err != nil || status != http.StatusOK || len(list.Data) != 1 {
		s.t.Errorf("the shop's look-up: %d %s %v", status, answer, err)
		http.Error(w, "look-up failed", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><title>Shop</title><p data-testid="shop-page" data-path="%s" data-state="%s">Order %s is %s.</p>`,
		html.EscapeString(r.URL.Path), html.EscapeString(list.Data[0].State), html.EscapeString(list.Data[0].ID), html.EscapeString(list.Data[0].State))
}

// TestShopLinkOrderInBrowser: a shop creates an order over the API and sends the customer to
// pay_url; the customer (on a computer) sees Open in Banq and the QR code; the payer approves
// through Banq's link in the sandbox; the page turns paid live and, after its countdown, takes
// the customer back to the shop's return_url, where the shop reads the order from the API.
// A second customer declines and stops the countdown: they stay.
func TestShopLinkOrderInBrowser(t *testing.T) {
	b := startBrowser(t)
	a := apptest.Start(t, apptest.Options{})
	shop := startShop(t, a.URL, a.SignIn(t).CreateAPIKey(t, "test shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite))

	customer := b.newTab("customer", 1280, 800, false)
	payer := b.newTab("payer", 390, 844, true)

	customer.load(t, "press the shop's checkout button", 200, chromedp.Navigate(shop.URL+"/buy/cart-77"))
	if got := customer.eval(t, stateOf("pay-state")); got != string(checkout.StateWaiting) {
		t.Fatalf("payment page: got state %q, want waiting", got)
	}
	if !customer.waitJS(`!document.getElementById("live-note").hidden`, 10*time.Second) {
		t.Fatal("payment page: the live stream did not open")
	}
	customer.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = "kept"`))
	link := run(t, customer, "read Open in Banq", chromedp.AttributeValue(byTestID("open-in-banq"), "href"))
	if !link.Exists || !strings.HasPrefix(link.Value, a.SandboxURL+"/sandbox/pay/") {
		t.Fatalf("Open in Banq: got %+v, want the sandbox's payment link", link)
	}
	if !customer.waitJS(`(function(){var q=document.querySelector('[data-testid="pay-qr"]');return !!q && q.complete && q.naturalWidth > 0 && q.getBoundingClientRect().width > 0})()`, 10*time.Second) {
		t.Fatal("a computer's payment page shows no QR code of the link")
	}

	payer.load(t, "open Banq's link", 200, chromedp.Navigate(link.Value))
	payer.load(t, "say who pays", 200, chromedp.Click(byTestID("link-payer")))
	payer.load(t, "approve", 200, chromedp.Click(byTestID("approve")))

	if !customer.waitJS(stateOf("pay-state")+` === "paid"`, 20*time.Second) {
		t.Fatalf("the payment page did not turn paid live; it shows %q", customer.eval(t, stateOf("pay-state")))
	}
	if got := customer.eval(t, `String(window.__noReload)`); got != "kept" {
		t.Fatal("the payment page was reloaded to turn paid")
	}
	if !customer.waitJS(`!document.querySelector('[data-testid="back-note"]').hidden`, 5*time.Second) {
		t.Fatal("no countdown back to the shop")
	}
	if !customer.waitJS(`location.href.startsWith(`+jsString(shop.URL+"/thanks?")+`) && !!document.querySelector('[data-testid="shop-page"]')`, 30*time.Second) {
		t.Fatalf("the page did not go back to the shop; it is at %s", customer.eval(t, `location.href`))
	}
	if got := customer.eval(t, stateOf("shop-page")); got != "paid" {
		t.Fatalf("the shop read the order as %q, want paid", got)
	}
	shop.mu.Lock()
	back := shop.returns[0]
	shop.mu.Unlock()
	if back.Get("reference") != "cart-77" || back.Get("order_id") == "" {
		t.Fatalf("came back with %v, want the order's id and reference", back)
	}

	// Declined, and the customer stops the countdown: they stay on the page.
	customer.load(t, "press the checkout button again", 200, chromedp.Navigate(shop.URL+"/buy/cart-78"))
	if !customer.waitJS(`!document.getElementById("live-note").hidden`, 10*time.Second) {
		t.Fatal("payment page: the live stream did not open")
	}
	link = run(t, customer, "read Open in Banq", chromedp.AttributeValue(byTestID("open-in-banq"), "href"))
	payer.load(t, "open Banq's link", 200, chromedp.Navigate(link.Value))
	payer.load(t, "say who pays", 200, chromedp.Click(byTestID("link-payer")))
	payer.load(t, "decline", 200, chromedp.Click(byTestID("decline")))
	if !customer.waitJS(stateOf("pay-state")+` === "declined" && !document.querySelector('[data-testid="back-stop"]').hidden`, 20*time.Second) {
		t.Fatal("the declined page offers no countdown to stop")
	}
	if href := run(t, customer, "read the back link", chromedp.AttributeValue(byTestID("back-link"), "href")); !strings.HasPrefix(href.Value, shop.URL+"/cart?") {
		t.Fatalf("back link of a declined order: %q, want the cancel URL", href.Value)
	}
	customer.do(t, "stay", chromedp.Click(byTestID("back-stop")))
	// Past the countdown with a margin, the page is still the checkout's.
	if customer.waitJS(`!location.href.startsWith(`+jsString(a.URL)+`)`, 12*time.Second) {
		t.Fatalf("the page left after the customer stayed: %s", customer.eval(t, `location.href`))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
