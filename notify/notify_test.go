package notify_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

// The vector is what the reference library (npm standardwebhooks 1.1.1) computes for this
// secret, id, time and body: receivers using any Standard Webhooks library accept ours.
func TestSignMatchesStandardWebhooks(t *testing.T) {
	got, err := notify.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`),
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, other := notify.NewSecret(), notify.NewSecret()
	at := time.Now()
	body := []byte(`{"type":"order.paid"}`)
	sig, _ := notify.Sign("msg_1", at, body, other, secret) // during a rotation: two signatures
	h := http.Header{}
	h.Set(notify.HeaderID, "msg_1")
	h.Set(notify.HeaderTimestamp, itoa(at.Unix()))
	h.Set(notify.HeaderSignature, sig)
	if err := notify.Verify(secret, h, body, at); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	cases := map[string]func(h http.Header) ([]byte, time.Time){
		"body changed":    func(http.Header) ([]byte, time.Time) { return []byte(`{"type":"order.failed"}`), at },
		"id changed":      func(h http.Header) ([]byte, time.Time) { h.Set(notify.HeaderID, "msg_2"); return body, at },
		"too old":         func(http.Header) ([]byte, time.Time) { return body, at.Add(6 * time.Minute) },
		"from the future": func(http.Header) ([]byte, time.Time) { return body, at.Add(-6 * time.Minute) },
		"no signature":    func(h http.Header) ([]byte, time.Time) { h.Del(notify.HeaderSignature); return body, at },
		"v2 only": func(h http.Header) ([]byte, time.Time) {
			h.Set(notify.HeaderSignature, strings.ReplaceAll(sig, "v1,", "v2,"))
			return body, at
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			h := h.Clone()
			b, now := change(h)
			if err := notify.Verify(secret, h, b, now); !errors.Is(err, notify.ErrSignature) {
				t.Fatalf("got %v, want ErrSignature", err)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCheckURL(t *testing.T) {
	strict, sandbox := notify.Policy{}, notify.Policy{AllowLoopback: true}
	cases := []struct {
		url     string
		p       notify.Policy
		allowed bool
	}{
		{"https://shop.example/hooks", strict, true},
		{"http://shop.example/hooks", strict, false},
		{"http://127.0.0.1:9000/hooks", strict, false},
		{"http://127.0.0.1:9000/hooks", sandbox, true},
		{"http://localhost:9000/hooks", sandbox, true},
		{"http://shop.example/hooks", sandbox, false},
		{"https://10.0.0.5/hooks", strict, false},
		{"https://192.168.1.1/hooks", strict, false},
		{"https://169.254.169.254/latest/meta-data", strict, false},
		{"https://[::1]/hooks", strict, false},
		{"https://[fe80::1]/hooks", strict, false},
		{"https://[::ffff:10.0.0.1]/hooks", strict, false},
		{"https://100.64.0.1/hooks", strict, false},
		{"https://0.0.0.0/hooks", strict, false},
		{"https://10.0.0.5/hooks", notify.Policy{AllowPrivate: true}, true},
		{"http://10.0.0.5/hooks", notify.Policy{AllowPrivate: true}, true},
		{"http://127.0.0.1:8090/hooks", notify.Policy{AllowPrivate: true}, true},
		{"http://shop.example/hooks", notify.Policy{AllowPrivate: true}, false},
		{"https://user:pw@shop.example/hooks", strict, false},
		{"ftp://shop.example/hooks", strict, false},
		{"shop.example/hooks", strict, false},
		{"https://shop.example/hooks#x", strict, false},
	}
	for _, c := range cases {
		_, err := c.p.CheckURL(c.url)
		if (err == nil) != c.allowed {
			t.Errorf("%s (%+v): got %v, want allowed=%v", c.url, c.p, err, c.allowed)
		}
	}
}

func TestTypeFor(t *testing.T) {
	cases := []struct {
		prev checkout.State
		next checkout.State
		late bool
		want string
	}{
		{"", checkout.StateCreating, false, notify.OrderCreated},
		{checkout.StateCreating, checkout.StateWaiting, false, ""},
		{checkout.StateWaiting, checkout.StateAccepted, false, ""},
		{checkout.StateAccepted, checkout.StatePaid, false, notify.OrderPaid},
		{checkout.StateWaiting, checkout.StateDeclined, false, notify.OrderDeclined},
		{checkout.StateAccepted, checkout.StateFailed, false, notify.OrderFailed},
		{checkout.StateCreating, checkout.StateRejected, false, notify.OrderFailed},
		{checkout.StateWaiting, checkout.StateCanceled, false, notify.OrderCanceled},
		{checkout.StateWaiting, checkout.StateExpired, false, notify.OrderExpired},
		{checkout.StateExpired, checkout.StatePaid, true, notify.OrderLatePayment},
		{checkout.StateCanceled, checkout.StatePaid, true, notify.OrderLatePayment},
		{checkout.StatePaid, checkout.StatePaid, false, ""},
	}
	for _, c := range cases {
		if got := notify.TypeFor(c.prev, checkout.Order{State: c.next, Late: c.late}); got != c.want {
			t.Errorf("%s -> %s: got %q, want %q", c.prev, c.next, got, c.want)
		}
	}
}

func job(url string, attempts int) notify.Job {
	return notify.Job{
		Delivery: notify.Delivery{ID: 1, MessageID: "msg_abc", Type: notify.OrderPaid, Attempts: attempts},
		Endpoint: notify.Endpoint{ID: 1, URL: url, Secret: notify.NewSecret(), Enabled: true},
		Snapshot: notify.NewSnapshot(notify.OrderPaid, time.Now(), checkout.Order{ID: 7, State: checkout.StatePaid, Amount: 1250}).JSON(),
	}
}

func TestDeliverSignsAndSucceeds(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Store(struct {
			h    http.Header
			body []byte
		}{r.Header.Clone(), body})
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := notify.NewSender(notify.SenderConfig{Policy: notify.Policy{AllowLoopback: true}}, nil)
	j := job(srv.URL, 0)
	o := s.Deliver(context.Background(), j)
	if o.Status != notify.DeliverySucceeded || o.Attempt.Status != 204 || o.Attempt.Error != "" {
		t.Fatalf("outcome %+v", o)
	}
	req := got.Load().(struct {
		h    http.Header
		body []byte
	})
	if err := notify.Verify(j.Endpoint.Secret, req.h, req.body, time.Now()); err != nil {
		t.Fatalf("the shop cannot verify what was sent: %v", err)
	}
	if req.h.Get(notify.HeaderID) != "msg_abc" || req.h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", req.h)
	}
}

func TestDeliverOutcomes(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, big, 500) })
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	var okHits atomic.Int32
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { okHits.Add(1) })
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := notify.NewSender(notify.SenderConfig{Policy: notify.Policy{AllowLoopback: true},
		Timeout: 300 * time.Millisecond, Now: func() time.Time { return now }}, nil)
	ctx := context.Background()

	o := s.Deliver(ctx, job(srv.URL+"/500", 0))
	if o.Status != notify.DeliveryPending || o.Attempt.Status != 500 || len(o.Attempt.Response) > 1024 {
		t.Errorf("500 on the first attempt: %+v", o)
	}
	if d := o.Next.Sub(now); d < 4500*time.Millisecond || d > 5500*time.Millisecond {
		t.Errorf("retry after the first failure in %v, want 5s ±10%%", d)
	}
	if o := s.Deliver(ctx, job(srv.URL+"/500", len(notify.Schedule)-1)); o.Status != notify.DeliveryFailed {
		t.Errorf("the last attempt failing: got %s, want failed", o.Status)
	}
	if o := s.Deliver(ctx, job(srv.URL+"/gone", 0)); o.Status != notify.DeliveryFailed || o.Disable == "" {
		t.Errorf("410 Gone: %+v, want failed and the endpoint disabled", o)
	}
	if o := s.Deliver(ctx, job(srv.URL+"/redirect", 0)); o.Status != notify.DeliveryPending || o.Attempt.Status != 302 || okHits.Load() != 0 {
		t.Errorf("a redirect: %+v (followed %d times), want a failure, not followed", o, okHits.Load())
	}
	if o := s.Deliver(ctx, job(srv.URL+"/slow", 0)); o.Status != notify.DeliveryPending || o.Attempt.Status != 0 || !strings.Contains(o.Attempt.Error, "time") {
		t.Errorf("no answer in time: %+v", o)
	}
	// Down: nothing listens on the port any more.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	if o := s.Deliver(ctx, job(down, 0)); o.Status != notify.DeliveryPending || o.Attempt.Status != 0 || !strings.Contains(o.Attempt.Error, "connect") {
		t.Errorf("a receiver that is down: %+v, want a retry saying it could not connect", o)
	}
	// A name that does not resolve (RFC 6761 reserves .invalid): a failure, retried.
	if o := s.Deliver(ctx, job("http://shop.invalid/hook", 0)); o.Status != notify.DeliveryPending || o.Attempt.Error == "" {
		t.Errorf("a name that does not resolve: %+v, want a retry", o)
	}
	failing := job(srv.URL+"/500", 3)
	failing.Endpoint.FailingSince = now.Add(-6 * 24 * time.Hour)
	if o := s.Deliver(ctx, failing); o.Disable == "" {
		t.Errorf("an endpoint failing for 6 days was not disabled: %+v", o)
	}
}

// The address is checked when the connection is made, after the name is resolved: a host name
// that resolves to loopback is refused like the literal address.
func TestDeliverRefusesPrivateAddressesAfterResolution(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s := notify.NewSender(notify.SenderConfig{Policy: notify.Policy{}}, nil)
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	o := s.Deliver(context.Background(), job(url, 0))
	if o.Attempt.Error == "" || !strings.Contains(o.Attempt.Error, "private") || hits.Load() != 0 {
		t.Fatalf("got %+v with %d requests served, want refused before connecting", o, hits.Load())
	}
}
