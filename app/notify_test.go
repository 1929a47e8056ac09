package app_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/notify/notifytest"
)

var secretOnPage = regexp.MustCompile(`data-testid="endpoint-secret">([^<]+)<`)

// addEndpoint adds an endpoint on the merchant's page and returns its id and the secret shown.
func addEndpoint(t *testing.T, m *apptest.Merchant, u string, types ...string) (string, string) {
	t.Helper()
	r := m.PostForm(t, "/notifications", "/notifications", url.Values{"url": {u}, "description": {"the shop"}, "types": types})
	if r.Status != http.StatusCreated {
		t.Fatalf("add endpoint: got %d, want 201: %s", r.Status, r.Body)
	}
	sec := secretOnPage.FindStringSubmatch(r.Body)
	if sec == nil {
		t.Fatalf("the new endpoint's secret is not shown: %s", r.Body)
	}
	id := regexp.MustCompile(`action="/notifications/(\d+)"`).FindStringSubmatch(r.Body)
	if id == nil {
		t.Fatalf("no edit form on the endpoint page")
	}
	if again := m.Get(t, "/notifications/"+id[1]); secretOnPage.MatchString(again.Body) {
		t.Errorf("the secret is shown a second time")
	}
	return id[1], html.UnescapeString(sec[1])
}

func TestShopIsNotifiedOfItsOrders(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	shop := notifytest.New(t)
	id, secret := addEndpoint(t, m, shop.URL+"/checkout-events")
	shop.SetSecret(secret)

	payer := a.PayerBanqs(t)[0]
	o := m.MustCreateOrder(t, "12.50", "Tea", payer.GUID)
	o = a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.PaymentID != "" })
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })

	got := shop.WaitDelivered(2, 10*time.Second)
	byType := map[string]notify.Body{}
	for _, b := range got {
		byType[b.Type] = b
		if b.Data.ID != o.Number() || b.Data.Amount != "12.50" || b.Data.Description != "Tea" || b.Data.PayURL != a.URL+"/pay/"+o.Token {
			t.Errorf("notification about the wrong order: %+v", b.Data)
		}
	}
	created, paid := byType[notify.OrderCreated], byType[notify.OrderPaid]
	if paid.Data.State != "paid" || paid.Data.PaidAt == nil {
		t.Errorf("order.paid carries %+v", paid.Data)
	}
	if created.Data.Seq == 0 || paid.Data.Seq <= created.Data.Seq {
		t.Errorf("seq: created %d, paid %d; want paid's higher", created.Data.Seq, paid.Data.Seq)
	}
	page := m.Get(t, "/notifications/"+id)
	if n := len(regexp.MustCompile(`data-testid="delivery-row" data-status="succeeded"`).FindAllString(page.Body, -1)); n != 2 {
		t.Errorf("the endpoint page lists %d delivered, want 2", n)
	}
	if page = m.Get(t, "/notifications/"+id+"?status=failed"); regexp.MustCompile(`data-testid="delivery-row"`).MatchString(page.Body) {
		t.Errorf("the failed filter lists delivered notifications")
	}
}

// An endpoint that answers 410 Gone is disabled, the merchant's pages say so, nothing more is
// sent to it, and after it is enabled again a redelivery goes through.
func TestGoneEndpointIsDisabledAndCanBeRedelivered(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	shop := notifytest.New(t)
	var fixed atomic.Bool
	shop.Answer = func(notifytest.Request, int) int {
		if !fixed.Load() {
			return http.StatusGone
		}
		return http.StatusOK
	}
	id, secret := addEndpoint(t, m, shop.URL+"/events", notify.OrderCreated)
	shop.SetSecret(secret)
	payer := a.PayerBanqs(t)[0]
	m.MustCreateOrder(t, "3.00", "Gum", payer.GUID)

	disabled := regexp.MustCompile(`data-testid="endpoint-disabled-alert"[^>]*>[\s\S]*410 Gone`)
	deadline := time.Now().Add(10 * time.Second)
	var page apptest.Response
	for time.Now().Before(deadline) {
		if page = m.Get(t, "/notifications"); disabled.MatchString(page.Body) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !disabled.MatchString(page.Body) {
		t.Fatalf("the notifications page does not say the endpoint was disabled for 410: %s", page.Body)
	}
	// Only enabled endpoints get deliveries: this order queues none.
	m.MustCreateOrder(t, "4.00", "Mints", payer.GUID)
	time.Sleep(300 * time.Millisecond)
	if n := len(shop.Requests()); n != 1 {
		t.Fatalf("the endpoint got %d requests, want only the one answered 410", n)
	}

	fixed.Store(true) // the shop mended its receiver
	if r := m.PostForm(t, "/notifications/"+id, "/notifications/"+id+"/enable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.Status)
	}
	page = m.Get(t, "/notifications/"+id+"?status=failed")
	d := regexp.MustCompile(`href="/notifications/deliveries/(\d+)"`).FindStringSubmatch(page.Body)
	if d == nil {
		t.Fatalf("no failed delivery listed: %s", page.Body)
	}
	if r := m.PostForm(t, "/notifications/deliveries/"+d[1], "/notifications/deliveries/"+d[1]+"/redeliver", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	got := shop.WaitDelivered(1, 10*time.Second)
	for _, b := range got {
		if b.Type != notify.OrderCreated {
			t.Errorf("after sending again the shop got %s, want order.created", b.Type)
		}
	}
	if n := len(shop.Requests()); n != 2 {
		t.Errorf("the endpoint got %d requests, want 2 (the 410 and the one sent again)", n)
	}
}

func TestEndpointFormRefusesBadURLs(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	for _, u := range []string{"http://shop.example/hook", "https://10.1.2.3/hook", "https://169.254.169.254/", "not a url"} {
		r := m.PostForm(t, "/notifications", "/notifications", url.Values{"url": {u}})
		if r.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`data-testid="url-error"`).MatchString(r.Body) {
			t.Errorf("%s: got %d without a URL error, want 422 naming the field", u, r.Status)
		}
	}
}
