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
// paces itself only on deliveries that have been received. The processing time of a batch of
// stored webhooks with such a sender connected is within 20% of the time without.
func TestTricklingSenderDoesNotSlowProcessing(t *testing.T) {
	a := apptest.Start(t, apptest.Options{ReconcileAfter: time.Hour, Faults: &sandbox.Faults{DropWebhooks: 1}})
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	var orders []checkout.Order
	for range 4 {
		orders = append(orders, declined(t, a, m, payer))
	}
	ctx := context.Background()
	const batch = 100
	round := 0
	// process stores a batch of webhooks straight into the inbox, as deliveries that were
	// received, and returns how long the worker took to process them all.
	process := func() time.Duration {
		t.Helper()
		round++
		start := time.Now()
		for i := range batch {
			w := webhookFor(fmt.Sprintf("wh-pace-%d-%03d", round, i), orders[i%len(orders)])
			body, _ := json.Marshal(w)
			if _, err := a.Service.Receive(ctx, w, body); err != nil {
				t.Fatal(err)
			}
		}
		for {
			st, err := a.DB.WebhookStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending == 0 {
				return time.Since(start)
			}
			if time.Since(start) > 60*time.Second {
				t.Fatalf("%d webhooks still pending after 60s", st.Pending)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	trickle := func() (stop func()) {
		u, _ := url.Parse(a.URL)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /webhooks/banq HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", u.Host)
		done := make(chan struct{})
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				conn.Write([]byte("{"))
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
		time.Sleep(100 * time.Millisecond) // the server has the request's head and waits on its body
		return func() { close(done); conn.Close() }
	}

	process() // warm-up
	// The best of three rounds each, interleaved, so that the noise of a shared machine weighs
	// alike on both.
	var plain, trickled time.Duration
	for range 3 {
		if d := process(); plain == 0 || d < plain {
			plain = d
		}
		stop := trickle()
		if d := process(); trickled == 0 || d < trickled {
			trickled = d
		}
		stop()
	}
	t.Logf("%d webhooks processed in %v, in %v with a trickling sender connected", batch, plain, trickled)
	if trickled > plain*12/10 {
		t.Fatalf("a trickling sender slowed processing from %v to %v (%.1f×), want under 1.2×", plain, trickled, float64(trickled)/float64(plain))
	}
}
