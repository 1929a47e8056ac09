package handlers

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/live"
	"github.com/banq-checkout/checkout/views"
)

// sseStream writes server-sent events to one client.
type sseStream struct {
	c   echo.Context
	buf bytes.Buffer
}

// startStream answers 200 with the event-stream headers and flushes at once. It lifts the
// server's write timeout for this response only, since a stream lives as long as its page.
func startStream(c echo.Context) (*sseStream, error) {
	w := c.Response()
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
		return nil, err
	}
	hd := w.Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseStream{c: c}
	// A reconnecting browser waits this long; short, so a restart is barely noticed.
	s.buf.WriteString("retry: 2000\n\n")
	return s, s.flush()
}

func (s *sseStream) flush() error {
	w := s.c.Response()
	_, err := w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return err
	}
	w.Flush()
	return nil
}

// event renders comp and queues it as one event; multi-line HTML becomes several data lines.
func (s *sseStream) event(ctx context.Context, name string, id int64, comp templ.Component) error {
	html := templ.GetBuffer()
	defer templ.ReleaseBuffer(html)
	if err := comp.Render(ctx, html); err != nil {
		return err
	}
	s.buf.WriteString("event: " + name + "\n")
	if id > 0 {
		s.buf.WriteString("id: " + strconv.FormatInt(id, 10) + "\n")
	}
	for _, line := range bytes.Split(html.Bytes(), []byte("\n")) {
		s.buf.WriteString("data: ")
		s.buf.Write(line)
		s.buf.WriteByte('\n')
	}
	s.buf.WriteByte('\n')
	return nil
}

// follow runs a stream: send first, then on every update send, a comment as heartbeat, until
// the client leaves or the hub closes (at shutdown, when the client is told to come back soon).
// When the subscription lagged, resync re-reads the truth and sends it.
func (h *Handlers) follow(c echo.Context, sub *live.Subscription, s *sseStream,
	send func(checkout.Update) error, resync func() error) error {
	ctx := c.Request().Context()
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-sub.C():
			if !ok {
				s.buf.WriteString("retry: 1000\n\n")
				s.flush()
				return nil
			}
			var err error
			if sub.Lagged() {
				err = resync()
			} else {
				err = send(u)
			}
			if err != nil {
				return nil
			}
		case <-beat.C:
			s.buf.WriteString(": ping\n\n")
		}
		if s.flush() != nil {
			return nil
		}
	}
}

// payEvents streams the customer page's state: the current state first, then every change.
func (h *Handlers) payEvents(c echo.Context) error {
	o, err := h.orderByToken(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Subscribe before reading the state: a change between the two is then seen twice,
	// never missed.
	sub := h.hub.Subscribe(o.ID, 8)
	defer sub.Close()
	if o, err = h.store.Order(ctx, o.ID); err != nil {
		return err
	}
	s, err := startStream(c)
	if err != nil {
		return err
	}
	sent := o.LastSeq
	state := func(o checkout.Order) error {
		sent = o.LastSeq
		return s.event(ctx, "state", o.LastSeq, views.PayStatus(h.payView(o)))
	}
	if err := state(o); err != nil || s.flush() != nil {
		return nil
	}
	return h.follow(c, sub, s,
		func(u checkout.Update) error {
			if u.Order.LastSeq <= sent {
				return nil
			}
			return state(u.Order)
		},
		func() error {
			o, err := h.store.Order(ctx, o.ID)
			if err != nil {
				return err
			}
			return state(o)
		})
}

// orderEvents streams the merchant's order page: the timeline after the page's last event (or
// Last-Event-ID on reconnect) and the state, then every change.
func (h *Handlers) orderEvents(c echo.Context) error {
	id, err := h.orderID(c)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(c.QueryParam("after"), 10, 64)
	if last, err := strconv.ParseInt(c.Request().Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = last
	}
	ctx := c.Request().Context()
	sub := h.hub.Subscribe(id, 16)
	defer sub.Close()
	o, err := h.store.Order(ctx, id)
	if err != nil {
		return err
	}
	s, err := startStream(c)
	if err != nil {
		return err
	}
	sent := after
	catchUp := func(o checkout.Order) error {
		events, err := h.store.Events(ctx, o.ID, sent)
		if err != nil {
			return err
		}
		return h.sendOrder(ctx, s, o, events, &sent)
	}
	if err := catchUp(o); err != nil || s.flush() != nil {
		return nil
	}
	return h.follow(c, sub, s,
		func(u checkout.Update) error { return h.sendOrder(ctx, s, u.Order, u.Events, &sent) },
		func() error {
			o, err := h.store.Order(ctx, id)
			if err != nil {
				return err
			}
			return catchUp(o)
		})
}

func (h *Handlers) sendOrder(ctx context.Context, s *sseStream, o checkout.Order, events []checkout.Event, sent *int64) error {
	for _, e := range events {
		if e.Seq <= *sent {
			continue
		}
		if err := s.event(ctx, "timeline", e.Seq, views.TimelineEntry(e)); err != nil {
			return err
		}
		*sent = e.Seq
	}
	return s.event(ctx, "state", 0, views.OrderStatus(o))
}

// listEvents streams every order change as a rendered row for the merchant's list.
func (h *Handlers) listEvents(c echo.Context) error {
	sub := h.hub.Subscribe(live.AllOrders, 64)
	defer sub.Close()
	s, err := startStream(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	return h.follow(c, sub, s,
		func(u checkout.Update) error { return s.event(ctx, "order", 0, views.OrderRow(u.Order)) },
		func() error {
			// Too far behind to patch rows one by one: have the page reload itself.
			s.buf.WriteString("event: reload\ndata: lagged\n\n")
			return nil
		})
}
