package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// A sender trickling a webhook's body, a byte at a time, does not slow processing: the worker
// paces itself only on deliveries that have been received. While a backlog of stored webhooks
// is processed, such a sender connects and leaves in turn; processing runs within 20% of its
// rate without it (it ran at about a tenth).
func TestTricklingSenderDoesNotSlowProcessing(t *testing.T) {
	a := apptest.Start(t, apptest.Options{ReconcileAfter: time.Hour, Faults: &sandbox.Faults{DropWebhooks: 1}})
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	var orders []checkout.Order
	for range 4 {
		orders = append(orders, declined(t, a, m, payer))
	}
	ctx := context.Background()
	processed := func() int {
		t.Helper()
		counts, err := a.DB.WebhookCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return counts[checkout.WebhookApplied] + counts[checkout.WebhookIgnored] + counts[checkout.WebhookFailed]
	}
	trickle := func() (stop func()) {
		u, _ := url.Parse(a.URL)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /webhooks/banq HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", u.Host)
		done := make(chan struct{})
		go func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					conn.Write([]byte(" "))
				}
			}
		}()
		return func() { close(done); conn.Close() }
	}

	// A backlog, stored straight into the inbox as deliveries that were received.
	const total = 3000
	for i := range total {
		w := webhookFor(fmt.Sprintf("wh-pace-%04d", i), orders[i%len(orders)])
		body, _ := json.Marshal(w)
		if _, err := a.Service.Receive(ctx, w, body); err != nil {
			t.Fatal(err)
		}
	}
	// Phases of 150ms, with and without the trickling sender in turn: the load of a shared
	// machine drifts over seconds, and alternating short phases weighs it alike on both. Only
	// phases that end with a backlog left count: the worker never ran out of work in them.
	const phase = 150 * time.Millisecond
	var done [2]int
	var took [2]time.Duration
	before, start := processed(), time.Now()
	for i := 0; ; i++ {
		on := i % 2
		stop := func() {}
		if on == 1 {
			stop = trickle()
		}
		time.Sleep(phase) // a measuring interval, not a wait for a condition
		n, at := processed(), time.Now()
		stop()
		if total-n < 100 {
			break
		}
		done[on] += n - before
		took[on] += at.Sub(start)
		before, start = n, at
		if i > 400 {
			t.Fatalf("%d webhooks still pending after %d phases", total-n, i)
		}
	}
	plain := float64(done[0]) / took[0].Seconds()
	trickled := float64(done[1]) / took[1].Seconds()
	t.Logf("processed %.0f webhooks/s, %.0f/s with a trickling sender connected", plain, trickled)
	if done[0] == 0 || done[1] == 0 || took[1] < 3*phase {
		t.Fatalf("too little measured: %d webhooks in %v without, %d in %v with", done[0], took[0], done[1], took[1])
	}
	if trickled < 0.8*plain {
		t.Fatalf("a trickling sender slowed processing from %.0f to %.0f webhooks/s (%.0f%%), want under 20%% slower",
			plain, trickled, 100*(1-trickled/plain))
	}
}
