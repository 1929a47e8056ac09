package app_test

import (
	"bufio"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/checkout"
)

// next returns the next event named name, failing after within.
func next(t *testing.T, s *sse.Stream, name string, within time.Duration) sse.Event {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-s.Events:
			if !ok {
				t.Fatalf("stream ended while waiting for %q", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within %v", name, within)
		}
	}
}

func TestPayStreamSendsCurrentStateFirst(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.00", "Tea", a.PayerBanqs(t)[0].GUID)
	a.Act(t, o.PaymentID, "approve", "")
	paid := a.WaitOrder(t, o.ID, 3*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })

	// A page opened after the payment sees paid at once, as the first event, with its seq as id.
	s, err := sse.Open(context.Background(), nil, a.URL+"/pay/"+o.Token+"/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := next(t, s, "state", 2*time.Second)
	if state, _ := apptest.Attr(ev.Data, "pay-state", "data-state"); state != "paid" {
		t.Fatalf("first event: got state %q, want paid", state)
	}
	// Trailing webhooks (transaction, payment completed) may still add timeline entries after the
	// order turned paid, so the id is the seq current when the stream opened: no older than the
	// paid transition, no newer than the order is now.
	id, err := strconv.ParseInt(ev.ID, 10, 64)
	if err != nil {
		t.Fatalf("first event id %q: %v", ev.ID, err)
	}
	now, err := a.DB.Order(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if id < paid.LastSeq || id > now.LastSeq {
		t.Fatalf("first event id: got %d, want within [%d, %d]", id, paid.LastSeq, now.LastSeq)
	}
}

func TestPayStreamUnknownTokenIs404(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	for _, token := range []string{"x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1"} {
		resp, err := http.Get(a.URL + "/pay/" + token + "/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("token %q: got %d, want 404", token, resp.StatusCode)
		}
	}
}

// The merchant's order stream resumes after Last-Event-ID: exactly the missed timeline entries,
// in order, then the state.
func TestOrderStreamResumesFromLastEventID(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "4.00", "Cake", a.PayerBanqs(t)[1].GUID)
	a.WaitOrder(t, o.ID, 3*time.Second, func(o checkout.Order) bool { return o.LastSeq > 0 })
	before, err := a.DB.Events(context.Background(), o.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := before[len(before)-1].Seq

	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 3*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	// Let the trailing webhooks (transaction, payment completed) land too.
	time.Sleep(300 * time.Millisecond)
	missed, _ := a.DB.Events(context.Background(), o.ID, last)
	if len(missed) == 0 {
		t.Fatal("no events after approval")
	}

	s, err := sse.Open(context.Background(), m.Client, a.URL+"/orders/"+strconv.FormatInt(o.ID, 10)+"/events", strconv.FormatInt(last, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range missed {
		ev := next(t, s, "timeline", 2*time.Second)
		if ev.ID != strconv.FormatInt(want.Seq, 10) {
			t.Fatalf("timeline event %d: got id %s, want %d", i, ev.ID, want.Seq)
		}
	}
	ev := next(t, s, "state", 2*time.Second)
	if state, _ := apptest.Attr(ev.Data, "order-state", "data-state"); state != "paid" {
		t.Fatalf("state after catch-up: got %q, want paid", state)
	}
}

// Streams end when their clients leave, and leave no goroutine or subscription behind.
func TestStreamsLeakNothing(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "5.00", "Soup", a.PayerBanqs(t)[2].GUID)
	settle := func() int {
		// Idle connections of the test's clients are not the server's doing.
		http.DefaultClient.CloseIdleConnections()
		m.Client.CloseIdleConnections()
		var n int
		for i := 0; i < 50; i++ {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	base := settle()
	baseSubs := a.Hub.Subscribers()

	var streams []*sse.Stream
	for i := 0; i < 20; i++ {
		url := a.URL + "/pay/" + o.Token + "/events"
		client := http.DefaultClient
		if i%2 == 1 {
			url, client = a.URL+"/orders/"+strconv.FormatInt(o.ID, 10)+"/events", m.Client
		}
		s, err := sse.Open(context.Background(), client, url, "")
		if err != nil {
			t.Fatal(err)
		}
		next(t, s, "state", 2*time.Second)
		streams = append(streams, s)
	}
	if got := a.Hub.Subscribers(); got != baseSubs+20 {
		t.Fatalf("subscribers with 20 streams open: got %d, want %d", got, baseSubs+20)
	}
	for _, s := range streams {
		s.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Hub.Subscribers() != baseSubs && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := a.Hub.Subscribers(); got != baseSubs {
		t.Fatalf("subscribers after the clients left: got %d, want %d", got, baseSubs)
	}
	if got := settle(); got > base+2 {
		t.Fatalf("goroutines after the clients left: got %d, want at most %d", got, base+2)
	}
}

// A stream sends a heartbeat comment while nothing happens, so proxies keep it open.
func TestStreamHeartbeat(t *testing.T) {
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.Heartbeat = 50 * time.Millisecond }})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "6.00", "Pie", a.PayerBanqs(t)[3].GUID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/pay/"+o.Token+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type: got %q, want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	pings := 0
	for sc.Scan() && pings < 2 {
		if sc.Text() == ": ping" {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("got %d heartbeats, want 2 (%v)", pings, sc.Err())
	}
}
