package app_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the app's logs from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLine is one line of slog's text format, as key → value.
type logLine map[string]string

// parseLogs reads slog text lines (key=value, values quoted when they need it).
func parseLogs(t *testing.T, text string) []logLine {
	t.Helper()
	var out []logLine
	for _, raw := range strings.Split(strings.TrimSpace(text), "\n") {
		line := logLine{}
		rest := raw
		for rest != "" {
			key, after, ok := strings.Cut(rest, "=")
			if !ok {
				t.Fatalf("log line not in key=value form: %q", raw)
			}
			var val string
			if strings.HasPrefix(after, `"`) {
				q, err := strconv.QuotedPrefix(after)
				if err != nil {
					t.Fatalf("log line %q: %v", raw, err)
				}
				val, _ = strconv.Unquote(q)
				after = after[len(q):]
			} else {
				val, after, _ = strings.Cut(after, " ")
				after = " " + after
			}
			line[key] = val
			rest = strings.TrimPrefix(after, " ")
		}
		out = append(out, line)
	}
	return out
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// samples is a scrape: each series, named as series() names it, with its value.
type samples map[string]float64

// series names a sample: metric{label="value",...} with the labels sorted by name.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+`="`+labels[i+1]+`"`)
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// scrape fetches a Prometheus text page and parses its samples; token, when set, is sent as a
// bearer token.
func scrape(t *testing.T, url, token string) samples {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: got %s, want 200", url, resp.Status)
	}
	out := samples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		var labels []string
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			labels = append(labels, p[1], p[2])
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[series(m[1], labels...)] = v
	}
	return out
}

// eventually polls cond every 50ms until it holds or within passes, then fails with what
// describe says about the last state.
func eventually(t *testing.T, within time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawStream reads a server-sent event stream line by line, as sent, until it ends.
type rawStream struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{}
	body  io.Closer
}

func openRaw(t *testing.T, client *http.Client, url string) *rawStream {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("stream %s: got %s, want 200", url, resp.Status)
	}
	s := &rawStream{done: make(chan struct{}), body: resp.Body}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
		}
	}()
	return s
}

// Lines returns what was read so far, blank lines left out.
func (s *rawStream) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ended reports whether the server closed the stream.
func (s *rawStream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
