package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/live"
	"github.com/banq-checkout/checkout/views"
)

// streamWriteTimeout bounds one write to a stream: a client that stops reading is let go.
const streamWriteTimeout = 30 * time.Second

// sseStream writes server-sent events to one client.
//
// An open page costs what its stream holds while it waits, times every page open at once. So when
// the connection can be taken over (HTTP/1.x), the stream hijacks it once its first events are
// queued: the request's goroutine, with its stack grown by the database and template calls, and
// net/http's read and write buffers are let go, and the stream lives on as one small goroutine
// waiting for updates plus one parked in a read that notices the client leaving. The response is
// then delimited by the connection's close (Connection: close), as an event stream ends anyway.
// Where it cannot be hijacked (HTTP/2, a test recorder) it is written through the response.
type sseStream struct {
	// ctx ends when the client leaves or the stream ends; renders and reads use it.
	ctx    context.Context
	cancel context.CancelFunc
	sub    *live.Subscription
	resp   *echo.Response
	conn   net.Conn      // the hijacked connection, or nil
	buf    *bytes.Buffer // what waits for the next flush; pooled between flushes
	once   sync.Once
	slot   *streamSlot // counted against the stream limits until the stream ends; nil if not
}

var streamBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// newStream prepares the event-stream answer and queues the reconnection delay. The stream owns
// sub from now on; nothing is sent before follow.
func newStream(c echo.Context, sub *live.Subscription) *sseStream {
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	s := &sseStream{ctx: c.Request().Context(), cancel: func() {}, sub: sub, resp: c.Response()}
	if slot, ok := c.Get(streamSlotKey).(*streamSlot); ok {
		slot.adopted, s.slot = true, slot
	}
	// A reconnecting browser waits this long; short, so a restart is barely noticed.
	s.write("retry: 2000\n\n")
	return s
}

// begin answers 200 with the headers, taking the connection over when it can.
func (s *sseStream) begin() error {
	conn, _, err := http.NewResponseController(s.resp).Hijack()
	if err != nil {
		// Written through the response: lift the server's write timeout for this response
		// only, since a stream lives as long as its page.
		if err := http.NewResponseController(s.resp).SetWriteDeadline(time.Time{}); err != nil {
			return err
		}
		s.resp.WriteHeader(http.StatusOK)
		return nil
	}
	// The server's deadlines for this request stay on the connection: clear them.
	conn.SetDeadline(time.Time{})
	s.conn = conn
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(s.ctx))
	head := streamBuffers.Get().(*bytes.Buffer)
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hd := s.resp.Header()
	hd.Set("Connection", "close")
	hd.Write(head)
	head.WriteString("\r\n")
	if s.buf != nil {
		head.Write(s.buf.Bytes()) // the first events go out with the head
		s.release()
	}
	s.buf, s.resp = head, nil
	go s.watchClose()
	return nil
}

// watchClose waits in a read until the client closes the connection (an event stream's client
// sends nothing after its request), then ends the stream's context.
func (s *sseStream) watchClose() {
	var b [1]byte
	for {
		if _, err := s.conn.Read(b[:]); err != nil {
			s.cancel()
			return
		}
	}
}

func (s *sseStream) write(str string) {
	if s.buf == nil {
		s.buf = streamBuffers.Get().(*bytes.Buffer)
	}
	s.buf.WriteString(str)
}

// flush sends what is queued; the buffer goes back to the pool until the next event.
func (s *sseStream) flush() error {
	if s.buf == nil {
		return nil
	}
	var err error
	if s.conn != nil {
		s.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err = s.conn.Write(s.buf.Bytes())
	} else if _, err = s.resp.Write(s.buf.Bytes()); err == nil {
		s.resp.Flush()
	}
	s.release()
	return err
}

func (s *sseStream) release() {
	s.buf.Reset()
	if s.buf.Cap() <= 64<<10 {
		streamBuffers.Put(s.buf)
	}
	s.buf = nil
}

// end closes the subscription and, if hijacked, the connection. It is safe to call twice.
func (s *sseStream) end() {
	s.once.Do(func() {
		s.sub.Close()
		s.cancel()
		if s.conn != nil {
			s.conn.Close()
		}
		if s.buf != nil {
			s.release()
		}
		if s.slot != nil {
			s.slot.closed()
		}
	})
}

// event renders comp and queues it as one event; multi-line HTML becomes several data lines.
func (s *sseStream) event(name string, id int64, comp templ.Component) error {
	html := templ.GetBuffer()
	defer templ.ReleaseBuffer(html)
	if err := comp.Render(s.ctx, html); err != nil {
		return err
	}
	s.write("event: " + name + "\n")
	if id > 0 {
		s.write("id: " + strconv.FormatInt(id, 10) + "\n")
	}
	for _, line := range bytes.Split(html.Bytes(), []byte("\n")) {
		s.write("data: ")
		s.buf.Write(line)
		s.buf.WriteByte('\n')
	}
	s.write("\n")
	return nil
}

// follow answers and sends what the stream queued, then runs it: on every update send, a comment
// as heartbeat, until the client leaves or the hub closes (at shutdown, when the client is told
// to come back soon). When the subscription lagged, resync re-reads the truth and sends it. A
// hijacked stream runs on a goroutine of its own and follow returns at once; otherwise follow
// returns when the stream ends.
func (h *Handlers) follow(s *sseStream, send func(checkout.Update) error, resync func() error) error {
	if err := s.begin(); err != nil {
		s.end()
		return err
	}
	if err := s.flush(); err != nil {
		s.end()
		return nil
	}
	if s.conn != nil {
		go h.run(s, send, resync)
		return nil
	}
	h.run(s, send, resync)
	return nil
}

func (h *Handlers) run(s *sseStream, send func(checkout.Update) error, resync func() error) {
	defer s.end()
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case u, ok := <-s.sub.C():
			if !ok {
				s.write("retry: 1000\n\n")
				s.flush()
				return
			}
			var err error
			if s.sub.Lagged() {
				err = resync()
			} else {
				err = send(*u)
			}
			if err != nil {
				return
			}
		case <-beat.C:
			s.write(": ping\n\n")
		}
		if s.flush() != nil {
			return
		}
	}
}

// payEvents streams the customer page's state: the current state first, then every change.
func (h *Handlers) payEvents(c echo.Context) error {
	o, err := h.orderByToken(c)
	if err != nil {
		return err
	}
	// Subscribe before reading the state: a change between the two is then seen twice,
	// never missed.
	sub := h.hub.Subscribe(o.ID, 8)
	if o, err = h.store.Order(c.Request().Context(), o.ID); err != nil {
		sub.Close()
		return err
	}
	s := newStream(c, sub)
	id, sent := o.ID, o.LastSeq
	state := func(o checkout.Order) error {
		sent = o.LastSeq
		return s.event("state", o.LastSeq, views.PayStatus(h.payView(o)))
	}
	if err := state(o); err != nil {
		s.end()
		return err
	}
	return h.follow(s,
		func(u checkout.Update) error {
			if u.Order.LastSeq <= sent {
				return nil
			}
			return state(u.Order)
		},
		func() error {
			o, err := h.store.Order(s.ctx, id)
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
	sub := h.hub.Subscribe(id, 16)
	o, err := h.store.Order(c.Request().Context(), id)
	if err != nil {
		sub.Close()
		return err
	}
	s := newStream(c, sub)
	sent := after
	catchUp := func(o checkout.Order) error {
		events, err := h.store.Events(s.ctx, o.ID, sent)
		if err != nil {
			return err
		}
		return h.sendOrder(s, o, events, &sent)
	}
	if err := catchUp(o); err != nil {
		s.end()
		return err
	}
	return h.follow(s,
		func(u checkout.Update) error { return h.sendOrder(s, u.Order, u.Events, &sent) },
		func() error {
			o, err := h.store.Order(s.ctx, id)
			if err != nil {
				return err
			}
			return catchUp(o)
		})
}

func (h *Handlers) sendOrder(s *sseStream, o checkout.Order, events []checkout.Event, sent *int64) error {
	for _, e := range events {
		if e.Seq <= *sent {
			continue
		}
		if err := s.event("timeline", e.Seq, views.TimelineEntry(e)); err != nil {
			return err
		}
		*sent = e.Seq
	}
	return s.event("state", 0, views.OrderStatus(o))
}

// listEvents streams every order change to the merchant's pages, which share one stream per
// browser: each change carries what any of them shows of the order (see orderChange).
func (h *Handlers) listEvents(c echo.Context) error {
	s := newStream(c, h.hub.Subscribe(live.AllOrders, 64))
	return h.follow(s,
		func(u checkout.Update) error { return s.change(u) },
		func() error {
			// Too far behind to patch pages change by change: have them catch up from the truth.
			s.write("event: resync\ndata: lagged\n\n")
			return nil
		})
}

// orderChange is one change of an order as the merchant's pages show it: its row in the list,
// its status and its new timeline entries on its page, rendered.
type orderChange struct {
	ID       int64    `json:"id"`
	Seq      int64    `json:"seq"`
	Row      string   `json:"row"`
	Status   string   `json:"status"`
	Timeline []string `json:"timeline"`
}

// change queues u as one "order" event of JSON (on one data line: JSON escapes newlines).
func (s *sseStream) change(u checkout.Update) error {
	ch := orderChange{ID: u.Order.ID, Seq: u.Order.LastSeq, Timeline: make([]string, 0, len(u.Events))}
	var err error
	if ch.Row, err = s.render(views.OrderRow(u.Order)); err != nil {
		return err
	}
	if ch.Status, err = s.render(views.OrderStatus(u.Order)); err != nil {
		return err
	}
	for _, e := range u.Events {
		entry, err := s.render(views.TimelineEntry(e))
		if err != nil {
			return err
		}
		ch.Timeline = append(ch.Timeline, entry)
	}
	data, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	s.write("event: order\ndata: ")
	s.buf.Write(data)
	s.write("\n\n")
	return nil
}

func (s *sseStream) render(comp templ.Component) (string, error) {
	html := templ.GetBuffer()
	defer templ.ReleaseBuffer(html)
	if err := comp.Render(s.ctx, html); err != nil {
		return "", err
	}
	return html.String(), nil
}
