package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
)

// readBlock reads one event block (up to its blank line) and returns its lines.
func readBlock(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %q)", err, lines)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

// A stream takes its connection over once its first events are queued (see handlers/stream.go):
// its answer still carries every header the middleware set, the reconnection delay and the
// current state come first, and the subscription goes as soon as the page closes, without
// waiting for a heartbeat to fail.
func TestPayStreamTakenOverKeepsHeadersAndLetsGo(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.20", "Tea", a.PayerBanqs(t)[0].GUID)
	subs := a.Hub.Subscribers()

	host := strings.TrimPrefix(a.URL, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /pay/%s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", o.Token, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":           "text/event-stream",
		"Cache-Control":          "no-cache",
		"X-Accel-Buffering":      "no",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("header %s: got %q, want %q", name, got, want)
		}
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("got headers %v, want the CSP and a request id too", resp.Header)
	}
	r := bufio.NewReader(resp.Body)
	if got := readBlock(t, r); len(got) != 1 || got[0] != "retry: 2000" {
		t.Fatalf("first block: got %q, want the reconnection delay", got)
	}
	ev := readBlock(t, r)
	if len(ev) < 3 || ev[0] != "event: state" || !strings.HasPrefix(ev[1], "id: ") {
		t.Fatalf("got %q, want the state event with its id", ev)
	}
	data := strings.ReplaceAll(strings.Join(ev[2:], "\n"), "data: ", "")
	if state, ok := apptest.Attr(data, "pay-state", "data-state"); !ok || state != "waiting" {
		t.Fatalf("got state %q (%v) in %q, want waiting", state, ok, data)
	}
	if got := a.Hub.Subscribers(); got != subs+1 {
		t.Fatalf("subscribers with the page open: got %d, want %d", got, subs+1)
	}

	conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	for a.Hub.Subscribers() != subs && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := a.Hub.Subscribers(); got != subs {
		t.Fatalf("subscribers 2s after the page closed: got %d, want %d", got, subs)
	}
}
