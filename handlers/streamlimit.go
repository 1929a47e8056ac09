package handlers

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// StreamLimits cap the live streams open at once. A page refused a stream falls back to its
// reconnect timer, so a cap costs a page its live updates for a while, never its content.
type StreamLimits struct {
	// PerAddress bounds the streams from one client address, on any page; 100, since customers
	// behind one NAT or proxy share an address.
	PerAddress int
	// PerLink bounds the streams on one payment link, from anywhere; 20 (a customer with a
	// few tabs, a merchant's screen).
	PerLink int
}

const streamSlotKey = "stream_slot"

// streamRetry is the Retry-After of a refused stream.
const streamRetry = 10 * time.Second

// streamCounter counts the live streams per client address and per payment link.
type streamCounter struct {
	mu     sync.Mutex
	limits StreamLimits
	byAddr map[string]int
	byLink map[string]int
}

func newStreamCounter(l StreamLimits) *streamCounter {
	if l.PerAddress <= 0 {
		l.PerAddress = 100
	}
	if l.PerLink <= 0 {
		l.PerLink = 20
	}
	return &streamCounter{limits: l, byAddr: map[string]int{}, byLink: map[string]int{}}
}

// open counts a stream from addr on link ("" for no payment link) and returns the function that
// uncounts it, or reports which limit refused it.
func (s *streamCounter) open(addr, link string) (closed func(), refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAddr[addr] >= s.limits.PerAddress {
		return nil, "too many live streams from this address"
	}
	if link != "" && s.byLink[link] >= s.limits.PerLink {
		return nil, "too many live streams on this payment link"
	}
	s.byAddr[addr]++
	if link != "" {
		s.byLink[link]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			// Deleted at zero, so that the maps hold only the streams open now.
			if s.byAddr[addr]--; s.byAddr[addr] <= 0 {
				delete(s.byAddr, addr)
			}
			if link != "" {
				if s.byLink[link]--; s.byLink[link] <= 0 {
					delete(s.byLink, link)
				}
			}
		})
	}, ""
}

// streamSlot is one counted stream. A stream that outlives its request (a hijacked one) takes
// the slot over and closes it when it ends; otherwise the request's end closes it.
type streamSlot struct {
	closed  func()
	adopted bool
}

// limitStreams refuses a stream beyond Config.StreamLimits with 429 and Retry-After; the
// payment link is the route's :token, when it has one.
func (h *Handlers) limitStreams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		closed, refused := h.streams.open(c.RealIP(), c.Param("token"))
		if refused != "" {
			h.log.WarnContext(c.Request().Context(), "stream refused", "reason", refused, "remote", c.RealIP())
			return tooMany(c, streamRetry, refused)
		}
		slot := &streamSlot{closed: closed}
		c.Set(streamSlotKey, slot)
		defer func() {
			if !slot.adopted {
				slot.closed()
			}
		}()
		return next(c)
	}
}
