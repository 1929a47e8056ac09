package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stream is one open SSE connection of the load generator: a raw TCP connection, so that 5,000
// of them cost the load generator little. It records when its events arrive.
type stream struct {
	group int // the order (or topic) it watches
	conn  net.Conn

	events  atomic.Int64 // events seen, the first (current state) included
	arrival atomic.Int64 // unix nanos of the first event after the first one
	size    atomic.Int64 // bytes of that event's data
	match   atomic.Bool  // that event's data held what was expected
	ended   atomic.Bool  // the server closed the stream
	ready   chan struct{}
	// later holds the arrival of events 3, 4, … (broadcast rounds).
	later [maxRounds]atomic.Int64
}

const maxRounds = 8

// streamSet is every stream of one scenario.
type streamSet struct {
	streams []*stream
	want    string // substring the second event's data must hold
	wg      sync.WaitGroup
}

// openStreams opens perGroup streams for each path in paths, at most conc at a time, and waits
// until every one has received its first event. It stops at ctx's end or the deadline.
func openStreams(ctx context.Context, base string, paths []string, perGroup, conc int, want string, deadline time.Time) (*streamSet, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	set := &streamSet{want: want}
	for g := range paths {
		for range perGroup {
			set.streams = append(set.streams, &stream{group: g, ready: make(chan struct{})})
		}
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	sem := make(chan struct{}, conc)
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for _, s := range set.streams {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || firstErr.Load() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := set.open(ctx, s, u.Host, paths[s.group]); err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		set.close()
		return nil, *p
	}
	if ctx.Err() != nil {
		set.close()
		return nil, fmt.Errorf("opening %d streams: %w", len(set.streams), ctx.Err())
	}
	return set, nil
}

func (set *streamSet) open(ctx context.Context, s *stream, host, path string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	s.conn = conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, host); err != nil {
		conn.Close()
		return err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return fmt.Errorf("stream %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		return fmt.Errorf("stream %s: got %s (%s), want 200 text/event-stream", path, resp.Status, resp.Header.Get("Content-Type"))
	}
	set.wg.Add(1)
	go set.read(s, bufio.NewReaderSize(resp.Body, 4096))
	select {
	case <-s.ready:
		if s.events.Load() == 0 {
			return fmt.Errorf("stream %s ended before its first event", path)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stream %s: no first event: %w", path, ctx.Err())
	}
}

// read parses events and stamps the arrival of the second one. Only the blank line ending an
// event dispatches it, as in EventSource; comments and retry-only blocks are not events.
func (set *streamSet) read(s *stream, r *bufio.Reader) {
	defer set.wg.Done()
	defer s.ended.Store(true)
	var name string
	var data strings.Builder
	hasData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if s.events.Load() == 0 {
				close(s.ready) // let the opener see it ended
			}
			return
		}
		now := time.Now().UnixNano()
		text := strings.TrimRight(line, "\r\n")
		if text == "" {
			if hasData || name != "" {
				n := s.events.Add(1)
				switch n {
				case 1:
					close(s.ready)
				case 2:
					s.size.Store(int64(data.Len()))
					s.match.Store(strings.Contains(data.String(), set.want))
					s.arrival.Store(now)
				default:
					if i := n - 3; i < maxRounds {
						s.later[i].Store(now)
					}
				}
			}
			name, hasData = "", false
			data.Reset()
			continue
		}
		field, value, _ := strings.Cut(text, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
	}
}

// close ends every stream and waits for their readers.
func (set *streamSet) close() {
	for _, s := range set.streams {
		if s.conn != nil {
			s.conn.Close()
		}
	}
	set.wg.Wait()
}
