package ingest

import (
	"context"
	"testing"
	"time"
)

// waited runs WaitIdle with max in the background and reports on the channel when it
// returned.
func waited(g *Gate, ctx context.Context, max time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		g.WaitIdle(ctx, max)
		out <- time.Now()
	}()
	return out
}

func TestWorkerWaitsForDeliveryInFlight(t *testing.T) {
	g := &Gate{}
	done := g.Received()
	returned := waited(g, context.Background(), time.Hour)
	select {
	case <-returned:
		t.Fatal("returned while a delivery was being received")
	case <-time.After(20 * time.Millisecond):
	}
	done()
	done() // a second call changes nothing
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the delivery was answered")
	}
	if g.n != 0 {
		t.Fatalf("deliveries in flight: %d, want 0", g.n)
	}
}

func TestWorkerLetsABurstPass(t *testing.T) {
	g := &Gate{}
	burst := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.burst
	}
	// A lone delivery, and then a pair starting together as one payment step sends them, are no
	// burst: once answered, the worker goes on.
	g.Received()()
	if burst() {
		t.Fatal("a lone delivery was taken for a burst")
	}
	g.WaitIdle(context.Background(), time.Hour)
	g.Received()()
	if burst() {
		t.Fatal("a pair of deliveries was taken for a burst")
	}
	g.WaitIdle(context.Background(), time.Hour)

	// A flood is: the worker waits until none has started for burstQuiet.
	for range burstSize {
		g.Received()()
	}
	g.mu.Lock()
	last := g.last
	g.mu.Unlock()
	if !burst() {
		t.Fatalf("%d deliveries started together were not taken for a burst", burstSize)
	}
	select {
	case at := <-waited(g, context.Background(), time.Hour):
		if at.Sub(last) < burstQuiet {
			t.Fatalf("returned %v after the burst's last delivery started, want at least %v", at.Sub(last), burstQuiet)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting long after the burst")
	}
}

func TestWorkerWaitsNoLongerThanMax(t *testing.T) {
	g := &Gate{}
	defer g.Received()() // a delivery that stays in flight throughout
	start := time.Now()
	select {
	case at := <-waited(g, context.Background(), 30*time.Millisecond):
		if at.Sub(start) < 30*time.Millisecond {
			t.Fatalf("returned after %v, before max, with a delivery in flight", at.Sub(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waited past max")
	}

	ctx, cancel := context.WithCancel(context.Background())
	returned := waited(g, ctx, time.Hour)
	cancel()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after ctx ended")
	}
}

// A nil gate, as a worker or handler configured without one has, paces nothing.
func TestNilGatePacesNothing(t *testing.T) {
	var g *Gate
	g.Received()()
	start := time.Now()
	g.WaitIdle(context.Background(), time.Hour)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a nil gate waited %v, want no wait", d)
	}
}
