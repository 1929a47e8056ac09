package checkout

import (
	"context"
	"sync"
	"time"
)

const (
	// maxIngestDefer bounds how long the worker leaves a webhook waiting for a burst of
	// deliveries to pass, so that processing goes on, slower, through a flood that never pauses.
	maxIngestDefer = 20 * time.Millisecond
	// A burst is burstSize deliveries starting within burstWindow: a flood, such as Banq's
	// retries after an outage, not the pair of webhooks one payment step sends. The worker lets
	// a burst pass until no delivery has started for burstQuiet, which outlasts a sender's
	// pause for the scheduler.
	burstSize   = 4
	burstWindow = 2 * time.Millisecond
	burstQuiet  = 10 * time.Millisecond
)

// ingestGate tracks webhook deliveries being received, so that the worker can let a burst of them
// go first: a delivery is answered only once it is stored, Banq retries what is answered late,
// and receiving and processing share the same cores and the same database writer. Processing
// waits while deliveries are in flight and, during a burst, until it pauses; never more than
// maxIngestDefer per webhook. A lone delivery is processed as soon as it is answered.
type ingestGate struct {
	mu     sync.Mutex
	n      int                      // deliveries in flight
	idle   chan struct{}            // closed when n falls to 0; a new one while n > 0
	starts [burstSize - 1]time.Time // when the deliveries before the latest started, a ring
	next   int                      // the oldest of starts, overwritten next
	last   time.Time                // when the latest delivery started
	burst  bool                     // it was the burstSize-th within burstWindow
}

// Ingesting marks a webhook delivery in flight; call the function it returns when it is
// answered.
func (s *Service) Ingesting() (done func()) {
	g := &s.ingest
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

// waitIngestIdle returns once no delivery is being received and no burst is under way, after
// max, or when ctx ends.
func (s *Service) waitIngestIdle(ctx context.Context, max time.Duration) {
	g := &s.ingest
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
