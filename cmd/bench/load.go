package main

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies summarises one set of measured durations.
type latencies struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return latencies{N: len(s), P50: at(0.50), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// newClient is an HTTP client keeping up to conns connections open to one host, never following
// redirects (a 303 after a form post is the answer we measure).
func newClient(conns int) *http.Client {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loadResult is what a closed-loop run measured.
type loadResult struct {
	Requests int         `json:"requests"`
	OK       int         `json:"ok"`
	Failed   int         `json:"failed"`
	Seconds  float64     `json:"seconds"`
	PerSec   float64     `json:"per_second"`
	Latency  latencies   `json:"latency"`
	Statuses map[int]int `json:"statuses"`
	FirstErr string      `json:"first_error,omitempty"`
	lat      []time.Duration
}

// closedLoop runs conc workers, each sending its next request as soon as the last one was
// answered, until n requests were sent, duration passed, or ctx ended. do sends request i and
// reports whether its answer was the expected one.
func closedLoop(ctx context.Context, conc, n int, duration time.Duration, do func(ctx context.Context, worker, i int) (int, error)) loadResult {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{Statuses: map[int]int{}}
	res.lat = make([]time.Duration, 0, min(n, 1<<20))
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			statuses := map[int]int{}
			failed := 0
			var firstErr error
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := time.Now()
				status, err := do(ctx, w, i)
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					break // cut off by the deadline: neither an answer nor a failure
				}
				statuses[status]++
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			res.lat = append(res.lat, local...)
			for k, v := range statuses {
				res.Statuses[k] += v
			}
			res.Failed += failed
			if firstErr != nil && res.FirstErr == "" {
				res.FirstErr = firstErr.Error()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.OK = len(res.lat)
	res.Requests = res.OK + res.Failed
	res.Seconds = round3(elapsed.Seconds())
	res.PerSec = math.Round(float64(res.OK) / elapsed.Seconds())
	res.Latency = summarize(res.lat)
	return res
}

// drain reads and closes a response body so its connection is reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
