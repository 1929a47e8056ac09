package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A server that falls behind is still sent requests at the asked rate, and each is timed from
// when it was due: the queue it waits in shows in the latencies (no coordinated omission).
func TestOpenLoopCountsQueueing(t *testing.T) {
	var mu sync.Mutex
	var calls int
	// One request at a time, 5 ms each: 200/s at most, asked for 400/s over half a second.
	serve := func(ctx context.Context, i int) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		time.Sleep(5 * time.Millisecond)
		return 200, nil
	}
	r := openLoop(context.Background(), 400, 500*time.Millisecond, serve)
	if r.Requests != 200 || calls != 200 || r.Failed != 0 {
		t.Fatalf("got %d requests (%d calls, %d failed), want 200", r.Requests, calls, r.Failed)
	}
	// The last request was due at 0.5 s and served after the 199 before it, at 1 s or later.
	if r.Latency.Max < 300 {
		t.Errorf("max latency %.1f ms, want the queue's wait in it (about 500 ms)", r.Latency.Max)
	}
	if r.Achieved < 300 {
		t.Errorf("sent at %.0f/s, want the asked 400/s whatever the answers", r.Achieved)
	}
}

// A server that keeps up answers every request in about its own time.
func TestOpenLoopKeptUp(t *testing.T) {
	r := openLoop(context.Background(), 200, 250*time.Millisecond, func(context.Context, int) (int, error) { return 200, nil })
	if r.Requests != 50 || r.Failed != 0 {
		t.Fatalf("got %d requests, %d failed; want 50", r.Requests, r.Failed)
	}
	if r.Latency.P50 > 50 {
		t.Errorf("p50 %.1f ms for answers that take no time, want a few ms at most", r.Latency.P50)
	}
}
