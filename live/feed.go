package live

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// Source is where a Feeder reads the truth (store.DB implements it).
type Source interface {
	Order(ctx context.Context, id int64) (checkout.Order, error)
	Events(ctx context.Context, orderID, afterSeq int64) ([]checkout.Event, error)
}

// Feeder feeds a Hub from the database when several app instances share it: every change,
// made here or by another instance, is announced to Changed as (order id, last seq) and the
// feeder publishes the order as it is with its events after the last seq it published, read
// from the database. Per order it publishes in seq order and never the same event twice, so a
// local change and the notification of it, or a notification and a catch-up sweep, do not
// double-send; a stream that still sees an old seq skips it (the SSE handlers track the last
// seq sent). A change of an order that no subscription here watches is not read at all.
//
// Feeder implements checkout.Publisher: the service's own changes go the same way, so that one
// committed just after another instance's is never published before it.
type Feeder struct {
	hub *Hub
	src Source
	log *slog.Logger

	mu     sync.Mutex
	orders map[int64]*feedState
	queue  []int64
	ready  chan struct{}
}

type feedState struct {
	published int64 // the last seq published
	want      int64 // the highest seq announced
	queued    bool  // in the queue or being read
	touched   time.Time
}

// NewFeeder returns a feeder of hub; call Run.
func NewFeeder(hub *Hub, src Source, log *slog.Logger) *Feeder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feeder{hub: hub, src: src, log: log, orders: map[int64]*feedState{}, ready: make(chan struct{}, 1)}
}

// Publish announces a change committed here.
func (f *Feeder) Publish(u checkout.Update) { f.Changed(u.Order.ID, u.Order.LastSeq) }

// Changed announces that order id has events up to seq. It never blocks on the database.
func (f *Feeder) Changed(id, seq int64) {
	if id <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.orders[id]
	if st == nil {
		st = &feedState{}
		f.orders[id] = st
	}
	st.touched = time.Now()
	if seq <= st.published {
		return
	}
	st.want = max(st.want, seq)
	if st.queued {
		return
	}
	// Every instance hears of every change, and most show none of it: reading each would cost
	// every instance two queries per change. A stream subscribes before it reads the order, so
	// one that subscribes after this check reads this change itself; the order's next change
	// here is read from the last seq published, which streams filter.
	if !f.hub.Watched(id) {
		return
	}
	st.queued = true
	f.queue = append(f.queue, id)
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// Run publishes announced changes with workers goroutines until ctx ends.
func (f *Feeder) Run(ctx context.Context, workers int) {
	if workers < 1 {
		workers = 4
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(ctx)
		}()
	}
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-prune.C:
			f.prune(10 * time.Minute)
		}
	}
}

// prune forgets orders untouched for idle; if one changes again it is read from its start,
// which the streams filter.
func (f *Feeder) prune(idle time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, st := range f.orders {
		if !st.queued && time.Since(st.touched) > idle {
			delete(f.orders, id)
		}
	}
}

func (f *Feeder) next() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return 0, false
	}
	id := f.queue[0]
	f.queue = f.queue[1:]
	if len(f.queue) > 0 {
		select {
		case f.ready <- struct{}{}: // let another worker take the rest
		default:
		}
	}
	return id, true
}

func (f *Feeder) work(ctx context.Context) {
	for {
		id, ok := f.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-f.ready:
				continue
			}
		}
		f.catchUp(ctx, id)
	}
}

// catchUp publishes order id and its events after the last published seq, until it has
// published everything announced.
func (f *Feeder) catchUp(ctx context.Context, id int64) {
	for {
		f.mu.Lock()
		st := f.orders[id]
		after := st.published
		f.mu.Unlock()
		// The order first, then its events: the events may be newer than the order read, never
		// older, so nothing between them is skipped.
		o, err := f.src.Order(ctx, id)
		var events []checkout.Event
		if err == nil {
			events, err = f.src.Events(ctx, id, after)
		}
		f.mu.Lock()
		if err != nil {
			// A later announcement or the watcher's sweep tries again.
			st.queued = false
			f.mu.Unlock()
			if ctx.Err() == nil {
				f.log.Warn("live feed: read order", "order_id", id, "err", err)
			}
			return
		}
		last := o.LastSeq
		if n := len(events); n > 0 {
			last = max(last, events[n-1].Seq)
		}
		if last > st.published {
			// Under the lock (Publish never blocks), so a later catch-up of this order cannot
			// overtake this one.
			f.hub.Publish(checkout.Update{Order: o, Events: events})
			st.published = last
		}
		done := st.want <= st.published
		if done {
			st.queued = false
		}
		f.mu.Unlock()
		if done {
			return
		}
	}
}
