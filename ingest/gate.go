// Package ingest paces the webhook worker behind the deliveries being received: a delivery is
// answered only once it is stored, Banq retries what is answered late, and receiving and
// processing share the same cores and the same database writer. The HTTP side marks deliveries
// with a middleware (handlers' Routes) and the worker waits on the same Gate (checkout.Config),
// so that neither tells the other how busy it is.
package ingest

import (
	"context"
	"sync"
	"time"
)

const (
	// MaxDefer bounds how long the worker leaves a webhook waiting for a burst of deliveries to
	// pass, so that processing goes on, slower, through a flood that never pauses.
	MaxDefer = 20 * time.Millisecond
	// A burst is burstSize deliveries received within burstWindow: a flood, such as Banq's
	// retries after an outage, not the pair of webhooks one payment step sends. The worker lets
	// a burst pass until no delivery has been received for burstQuiet, which outlasts a sender's
	// pause for the scheduler.
	burstSize   = 4
	burstWindow = 2 * time.Millisecond
	burstQuiet  = 10 * time.Millisecond
)

// Gate tracks webhook deliveries that have been received and are being stored and answered, so
// that the worker can let a burst of them go first. A delivery counts from the moment its whole
// body has arrived: a sender trickling its body slowly holds nothing up. The worker waits while
// received deliveries are in flight and, during a burst, until it pauses; never more than the
// max it is given per webhook. A lone delivery is processed as soon as it is answered. The zero
// Gate is ready to use; a nil *Gate paces nothing.
type Gate struct {
	mu     sync.Mutex
	n      int                      // received deliveries not yet answered
	idle   chan struct{}            // closed when n falls to 0; a new one while n > 0
	starts [burstSize - 1]time.Time // when the deliveries before the latest were received, a ring
	next   int                      // the oldest of starts, overwritten next
	last   time.Time                // when the latest delivery was received
	burst  bool                     // it was the burstSize-th within burstWindow
}

// Received marks a delivery whose body has arrived as in flight; call the function it returns
// when it is answered (calling it again changes nothing).
func (g *Gate) Received() (answered func()) {
	if g == nil {
		return func() {}
	}
	now := time.Now()
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.burst = now.Sub(g.starts[g.next]) < burstWindow
	g.starts[g.next], g.next = now, (g.next+1)%len(g.starts)
	g.last = now
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.n--
			if g.n == 0 {
				close(g.idle)
			}
			g.mu.Unlock()
		})
	}
}

// WaitIdle returns once no received delivery is in flight and no burst is under way, after max,
// or when ctx ends.
func (g *Gate) WaitIdle(ctx context.Context, max time.Duration) {
	if g == nil {
		return
	}
	deadline := time.Now().Add(max)
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		g.mu.Lock()
		n, idle, quietAt := g.n, g.idle, g.last.Add(burstQuiet)
		if !g.burst {
			quietAt = time.Time{}
		}
		g.mu.Unlock()
		now := time.Now()
		if (n == 0 && !now.Before(quietAt)) || !now.Before(deadline) {
			return
		}
		wake := deadline
		if n == 0 && quietAt.Before(wake) {
			wake = quietAt
		}
		if t == nil {
			t = time.NewTimer(wake.Sub(now))
		} else {
			t.Reset(wake.Sub(now))
		}
		if n == 0 {
			idle = nil // nothing to wait for but the time
		}
		select {
		case <-idle:
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
