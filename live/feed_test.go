package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// fakeSource is an order with a growing timeline.
type fakeSource struct {
	mu     sync.Mutex
	events []checkout.Event
	reads  int
}

func (f *fakeSource) add(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, checkout.Event{Seq: seq, OrderID: 1})
}

func (f *fakeSource) Order(ctx context.Context, id int64) (checkout.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	o := checkout.Order{ID: id}
	if n := len(f.events); n > 0 {
		o.LastSeq = f.events[n-1].Seq
	}
	return o, nil
}

func (f *fakeSource) Events(ctx context.Context, id, after int64) ([]checkout.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []checkout.Event
	for _, e := range f.events {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// Announcements of the same change (local publish, NOTIFY, sweep) publish it once; every event
// reaches the hub once, in seq order, whatever order the announcements come in.
func TestFeederPublishesEachEventOnceInOrder(t *testing.T) {
	hub := NewHub()
	src := &fakeSource{}
	f := NewFeeder(hub, src, nil)
	sub := hub.Subscribe(1, 64)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx, 4)

	expect := func(want ...int64) {
		t.Helper()
		var got []int64
		timeout := time.After(2 * time.Second)
		for len(got) < len(want) {
			select {
			case u := <-sub.C():
				for _, e := range u.Events {
					got = append(got, e.Seq)
				}
			case <-timeout:
				t.Fatalf("got events %v within 2s, want %v", got, want)
			}
		}
		select {
		case u := <-sub.C():
			t.Fatalf("extra update with %d events (last seq %d); want none", len(u.Events), u.Order.LastSeq)
		case <-time.After(200 * time.Millisecond):
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got events %v, want %v", got, want)
			}
		}
	}
	src.add(3)
	src.add(7)
	f.Changed(1, 7) // a later announcement arrives first
	f.Changed(1, 3)
	expect(3, 7)
	// The local publish of 7 and a sweep's repeat after the notification: nothing new.
	f.Publish(checkout.Update{Order: checkout.Order{ID: 1, LastSeq: 7}})
	f.Changed(1, 3)
	expect()
	src.add(9)
	f.Changed(1, 9)
	expect(9)
	f.Changed(1, 9)
	f.Changed(1, 8)
	expect()
}

// An instance reads a change from the database only if one of its streams shows that order (or
// the merchant's list, every order): with several instances, every change is announced to every
// one of them, and most show none of it. An order read later, once watched, is read from its
// start, which streams filter.
func TestFeederReadsOnlyWatchedOrders(t *testing.T) {
	hub := NewHub()
	src := &fakeSource{}
	f := NewFeeder(hub, src, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx, 1) // one worker: announcements are read in their order
	src.add(1)
	sub := hub.Subscribe(1, 8)
	defer sub.Close()
	f.Changed(2, 1) // no stream here shows order 2
	f.Changed(1, 1)
	next := func(s *Subscription) *checkout.Update {
		t.Helper()
		select {
		case u := <-s.C():
			return u
		case <-time.After(2 * time.Second):
			t.Fatal("no update within 2s")
			return nil
		}
	}
	if u := next(sub); u.Order.ID != 1 {
		t.Fatalf("got an update of order %d, want 1", u.Order.ID)
	}
	src.mu.Lock()
	reads := src.reads
	src.mu.Unlock()
	if reads != 1 {
		t.Errorf("the feeder read %d orders, want 1 (order 2 is shown nowhere here)", reads)
	}
	// Watched now, order 2 is read from its start.
	sub2 := hub.Subscribe(2, 8)
	defer sub2.Close()
	src.add(2)
	f.Changed(2, 2)
	if u := next(sub2); u.Order.ID != 2 || len(u.Events) != 2 {
		t.Errorf("got order %d with %d events, want order 2 with both", u.Order.ID, len(u.Events))
	}
	// The merchant's list watches every order.
	all := hub.Subscribe(AllOrders, 8)
	defer all.Close()
	src.add(3)
	f.Changed(3, 3)
	if u := next(all); u.Order.ID != 3 {
		t.Errorf("the list got order %d, want 3", u.Order.ID)
	}
}
