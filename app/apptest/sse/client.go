// Package sse is a small client for server-sent event streams, used by the end-to-end tests
// to watch pages the way a browser's EventSource does.
package sse

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Event is one server-sent event.
type Event struct {
	Name string
	ID   string
	Data string
}

// Stream reads events from one response until it ends.
type Stream struct {
	resp    *http.Response
	Events  <-chan Event
	done    chan struct{}
	closing chan struct{}
	once    sync.Once
}

// Open connects to url with client (nil for http.DefaultClient) and returns the stream once the
// server answered 200 with text/event-stream. lastEventID, when set, is sent as Last-Event-ID.
// The stream ends when ctx does, when the server closes it, or on Close.
func Open(ctx context.Context, client *http.Client, url, lastEventID string) (*Stream, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("sse: %s answered %s (%s)", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	events := make(chan Event, 64)
	s := &Stream{resp: resp, Events: events, done: make(chan struct{}), closing: make(chan struct{})}
	go s.read(events)
	return s, nil
}

func (s *Stream) read(out chan<- Event) {
	defer close(out)
	defer close(s.done)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev Event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 || ev.Name != "" {
				ev.Data = strings.Join(data, "\n")
				if ev.Name == "" {
					ev.Name = "message"
				}
				select {
				case out <- ev:
				case <-s.closing:
					return
				}
			}
			ev, data = Event{}, nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Name = value
		case "id":
			ev.ID = value
		case "data":
			data = append(data, value)
		}
	}
}

// Close ends the stream and waits for its reader.
func (s *Stream) Close() {
	s.once.Do(func() { close(s.closing) })
	s.resp.Body.Close()
	<-s.done
}
