package main

import (
	"context"
	"math"
	"sync"
	"time"
)

// openResult is what an open-loop run measured: requests sent at a constant rate whatever the
// answers, each timed from when it was due, so that a server falling behind shows its queueing
// delay instead of being sent less (coordinated omission).
type openResult struct {
	Rate      float64     `json:"rate_per_second"` // asked for
	Achieved  float64     `json:"achieved_per_second"`
	Requests  int         `json:"requests"`
	OK        int         `json:"ok"`
	Failed    int         `json:"failed"`
	Seconds   float64     `json:"seconds"`
	Latency   latencies   `json:"latency"`
	MaxLateMS float64     `json:"max_send_lag_ms"` // how late the generator itself sent a request
	Statuses  map[int]int `json:"statuses"`
	FirstErr  string      `json:"first_error,omitempty"`
}

// maxInFlight bounds the goroutines of an open-loop run; a request that finds them all busy
// waits, and its wait counts in its latency.
const maxInFlight = 4096

// openLoop sends request i at start + i/rate for duration (or until ctx ends), each in its own
// goroutine, and times each answer from the moment the request was due.
func openLoop(ctx context.Context, rate float64, duration time.Duration, do func(ctx context.Context, i int) (int, error)) openResult {
	res := openResult{Rate: math.Round(rate), Statuses: map[int]int{}}
	n := int(rate * duration.Seconds())
	if n < 1 || rate <= 0 {
		return res
	}
	interval := time.Duration(float64(time.Second) / rate)
	slots := make(chan struct{}, maxInFlight)
	var mu sync.Mutex
	var wg sync.WaitGroup
	lat := make([]time.Duration, 0, n)
	var lag time.Duration
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		lag = max(lag, time.Since(due))
		wg.Add(1)
		go func(i int, due time.Time) {
			defer func() { <-slots; wg.Done() }()
			status, err := do(ctx, i)
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			res.Statuses[status]++
			if err != nil {
				res.Failed++
				if res.FirstErr == "" {
					res.FirstErr = err.Error()
				}
				return
			}
			lat = append(lat, d)
		}(i, due)
	}
	sent := time.Since(start)
	wg.Wait()
	res.OK = len(lat)
	res.Requests = res.OK + res.Failed
	res.Seconds = round3(time.Since(start).Seconds())
	res.Achieved = math.Round(float64(res.Requests) / sent.Seconds())
	res.Latency = summarize(lat)
	res.MaxLateMS = ms(lag)
	return res
}
