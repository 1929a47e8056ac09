// Package live fans order changes out to the open pages that watch them (SSE streams).
//
// A publisher never waits for a subscriber: each subscription has a small buffered channel, and
// a subscriber too slow to keep up is marked lagged instead of blocking everyone. Updates carry
// the whole order, so a lagged subscriber recovers by reading the current state once. One update
// is shared by every subscriber (channels carry pointers: an idle subscription costs a few bytes
// per buffered slot, not a copy of the order), so subscribers must not modify it.
package live

import (
	"sync"
	"sync/atomic"

	"github.com/banq-checkout/checkout/checkout"
)

// AllOrders is the topic that receives every order's updates (the merchant's list).
const AllOrders int64 = 0

// Hub is an in-process publish/subscribe hub keyed by order id. The zero value is not usable;
// call NewHub.
type Hub struct {
	mu     sync.RWMutex
	subs   map[int64]map[*Subscription]struct{}
	closed bool
	count  atomic.Int64
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[int64]map[*Subscription]struct{}{}}
}

// Subscription receives the updates of one topic until Close.
type Subscription struct {
	hub    *Hub
	topic  int64
	c      chan *checkout.Update
	lagged atomic.Bool
	once   sync.Once
}

// Subscribe starts a subscription to an order's updates (or AllOrders). buffer bounds how many
// updates may wait for the subscriber before it is marked lagged.
func (h *Hub) Subscribe(topic int64, buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	s := &Subscription{hub: h, topic: topic, c: make(chan *checkout.Update, buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.c)
		return s
	}
	m := h.subs[topic]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[topic] = m
	}
	m[s] = struct{}{}
	h.count.Add(1)
	return s
}

// C delivers updates, shared with the other subscribers: read them, never change them. It is
// closed when the hub closes.
func (s *Subscription) C() <-chan *checkout.Update { return s.c }

// Lagged reports, and clears, whether updates were dropped because the buffer was full since the
// last call. A lagged subscriber should re-read the current state.
func (s *Subscription) Lagged() bool { return s.lagged.Swap(false) }

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		if m, ok := h.subs[s.topic]; ok {
			if _, ok := m[s]; ok {
				delete(m, s)
				h.count.Add(-1)
				if len(m) == 0 {
					delete(h.subs, s.topic)
				}
			}
		}
	})
}

// Publish sends u to the subscribers of its order and of AllOrders without blocking. Call it
// only after the change has committed.
func (h *Hub) Publish(u checkout.Update) {
	p := &u
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, topic := range [2]int64{u.Order.ID, AllOrders} {
		for s := range h.subs[topic] {
			select {
			case s.c <- p:
			default:
				s.lagged.Store(true)
			}
		}
	}
}

// Watched reports whether a subscription would receive an update of order id: one to the order
// or to AllOrders.
func (h *Hub) Watched(id int64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[id]) > 0 || len(h.subs[AllOrders]) > 0
}

// Subscribers returns how many subscriptions are open.
func (h *Hub) Subscribers() int { return int(h.count.Load()) }

// Close closes every subscription's channel; later subscriptions start closed. Streams use it to
// end at shutdown, since http.Server.Shutdown would otherwise wait for them forever.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for topic, m := range h.subs {
		for s := range m {
			close(s.c)
			h.count.Add(-1)
		}
		delete(h.subs, topic)
	}
}
