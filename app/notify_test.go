package app_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

// shop is a shop's notification receiver: it verifies each message as a Standard Webhooks
// receiver does and keeps what it was told.
type shop struct {
	t      testing.TB
	mu     sync.Mutex
	secret string
	status int // what it answers; 204 unless set
	got    []notify.Body
	ids    map[string]int
	srv    *httptest.Server
}

func newShop(t testing.TB) *shop {
	s := &shop{t: t, ids: map[string]int{}, status: http.StatusNoContent}
	s.srv = httptest.NewServer(http.HandlerFunc(s.receive))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *shop) receive(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := notify.Verify(s.secret, r.Header, body, time.Now()); err != nil {
		s.t.Errorf("the shop could not verify a notification: %v", err)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var b notify.Body
	if err := json.Unmarshal(body, &b); err != nil {
		s.t.Errorf("notification body: %v", err)
	}
	s.ids[r.Header.Get(notify.HeaderID)]++
	if s.status/100 == 2 {
		s.got = append(s.got, b)
	}
	w.WriteHeader(s.status)
}

func (s *shop) received() []notify.Body {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Body(nil), s.got...)
}

func (s *shop) set(secret string, status int) {
	s.mu.Lock()
	s.secret, s.status = secret, status
	s.mu.Unlock()
}

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
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	s := newShop(t)
	id, secret := addEndpoint(t, m, s.srv.URL+"/checkout-events")
	s.set(secret, http.StatusNoContent)

	payer := a.PayerBanqs(t)[0]
	o := m.MustCreateOrder(t, "12.50", "Tea", payer.GUID)
	o = a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.PaymentID != "" })
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })

	deadline := time.Now().Add(10 * time.Second)
	for len(s.received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := s.received()
	if len(got) != 2 {
		t.Fatalf("the shop got %d notifications, want order.created and order.paid: %+v", len(got), got)
	}
	byType := map[string]notify.Body{}
	for _, b := range got {
		byType[b.Type] = b
		if b.Data.ID != o.ID || b.Data.Amount != "12.50" || b.Data.Description != "Tea" {
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
	// The delivery log shows both delivered.
	page := m.Get(t, "/notifications/"+id)
	if n := len(regexp.MustCompile(`data-testid="delivery-row" data-status="succeeded"`).FindAllString(page.Body, -1)); n != 2 {
		t.Errorf("the endpoint page lists %d delivered, want 2", n)
	}
}

// An endpoint that answers 410 Gone is disabled, the merchant's pages say so, nothing more is
// sent to it, and after it is enabled again a redelivery goes through.
func TestGoneEndpointIsDisabledAndCanBeRedelivered(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	s := newShop(t)
	id, secret := addEndpoint(t, m, s.srv.URL+"/events", notify.OrderCreated)
	s.set(secret, http.StatusGone)
	payer := a.PayerBanqs(t)[0]
	m.MustCreateOrder(t, "3.00", "Gum", payer.GUID)

	deadline := time.Now().Add(10 * time.Second)
	var page apptest.Response
	for time.Now().Before(deadline) {
		if page = m.Get(t, "/notifications"); regexp.MustCompile(`data-testid="endpoint-disabled-alert"`).MatchString(page.Body) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !regexp.MustCompile(`data-testid="endpoint-disabled-alert"[^>]*>[\s\S]*410 Gone`).MatchString(page.Body) {
		t.Fatalf("the notifications page does not say the endpoint was disabled for 410: %s", page.Body)
	}
	m.MustCreateOrder(t, "4.00", "Mints", payer.GUID)
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	sent := len(s.ids)
	s.mu.Unlock()
	if sent != 1 {
		t.Fatalf("a disabled endpoint was sent %d messages, want only the first", sent)
	}

	s.set(secret, http.StatusOK)
	if r := m.PostForm(t, "/notifications/"+id, "/notifications/"+id+"/enable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.Status)
	}
	// Only enabled endpoints get deliveries, so the second order queued none; the first one's
	// failed for good at the 410: send it again.
	page = m.Get(t, "/notifications/"+id)
	d := regexp.MustCompile(`href="/notifications/deliveries/(\d+)"`).FindStringSubmatch(page.Body)
	if d == nil {
		t.Fatalf("no delivery listed: %s", page.Body)
	}
	if r := m.PostForm(t, "/notifications/deliveries/"+d[1], "/notifications/deliveries/"+d[1]+"/redeliver", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(s.received()) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.received(); len(got) != 1 || got[0].Type != notify.OrderCreated {
		t.Fatalf("after enabling and sending again the shop got %+v, want the order.created", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for msg, n := range s.ids {
		if n != 2 {
			t.Errorf("message %s was sent %d times, want 2 (the 410 and the redelivery)", msg, n)
		}
	}
}

func TestEndpointFormRefusesBadURLs(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	for _, u := range []string{"http://shop.example/hook", "https://10.1.2.3/hook", "https://169.254.169.254/", "not a url"} {
		r := m.PostForm(t, "/notifications", "/notifications", url.Values{"url": {u}})
		if r.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`data-testid="url-error"`).MatchString(r.Body) {
			t.Errorf("%s: got %d without a URL error, want 422 naming the field", u, r.Status)
		}
	}
}
