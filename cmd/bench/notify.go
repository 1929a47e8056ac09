package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/banq-checkout/checkout/notify"
)

// notifyResult is the shop's notifications, delivered to a receiver in the load generator.
type notifyResult struct {
	// Steady: order changes at a constant rate; the time from each change's commit to the
	// receiver's answer.
	SteadyRate float64   `json:"steady_rate_per_second"`
	Steady     latencies `json:"steady_latency"`
	// Burst: a backlog of changes, held back until all are queued; how fast the sender works
	// it off once the receiver answers again.
	BurstN        int     `json:"burst_notifications"`
	BurstSeconds  float64 `json:"burst_seconds"`
	DeliveredPerS float64 `json:"delivered_per_second"`
	Lost          int     `json:"lost"`
	BadSignature  int     `json:"bad_signature"`
}

// receiver is the shop's notification endpoint: it verifies each message and notes when it came
// and how long after the change it tells of.
type receiver struct {
	mu      sync.Mutex
	secret  string
	got     map[string]time.Duration // webhook-id → change to arrival
	first   time.Time
	last    time.Time
	badSigs int
	hold    chan struct{} // while set, answers wait until it is closed
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	hold := rc.hold
	rc.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	now := time.Now()
	var b struct {
		Timestamp time.Time `json:"timestamp"`
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if notify.Verify(rc.secret, r.Header, body, now) != nil || json.Unmarshal(body, &b) != nil {
		rc.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if _, dup := rc.got[r.Header.Get(notify.HeaderID)]; !dup {
		rc.got[r.Header.Get(notify.HeaderID)] = now.Sub(b.Timestamp)
	}
	if rc.first.IsZero() {
		rc.first = now
	}
	rc.last = now
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// notifications measures the shop's notifications on app a: an endpoint on a receiver here
// wants order.created; orders are created at a steady rate, then as a burst.
func (b *bench) notifications(ctx context.Context, a *child) error {
	rc := &receiver{got: map[string]time.Duration{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	var ep struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	u := a.info.DebugURL + "/bench/endpoint?url=" + url.QueryEscape("http://"+ln.Addr().String()+"/events")
	if err := postJSON(ctx, u, &ep); err != nil {
		return err
	}
	defer postJSON(context.WithoutCancel(ctx), a.info.DebugURL+"/bench/endpoint/delete?id="+strconv.FormatInt(ep.ID, 10), nil)
	rc.mu.Lock()
	rc.secret = ep.Secret
	rc.mu.Unlock()
	nr := &notifyResult{SteadyRate: b.o.notifyRate}
	b.res.Notify = nr

	seed := func(n, conc int) error {
		return postJSON(ctx, a.info.DebugURL+"/bench/seed?conc="+strconv.Itoa(conc)+"&n="+strconv.Itoa(n), nil)
	}
	// Steady: ten orders at a time, spaced to make the rate.
	b.step("notifications: order changes at %.0f/s for %v", b.o.notifyRate, b.o.notifyDur)
	const batch = 10
	tick := time.NewTicker(time.Duration(float64(time.Second) * batch / b.o.notifyRate))
	steadyEnd := time.Now().Add(b.o.notifyDur)
	sent := 0
	for time.Now().Before(steadyEnd) && ctx.Err() == nil {
		if err := seed(batch, batch); err != nil {
			tick.Stop()
			return err
		}
		sent += batch
		<-tick.C
	}
	tick.Stop()
	if err := rc.wait(ctx, sent, 30*time.Second); err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	rc.mu.Lock()
	var ds []time.Duration
	for _, d := range rc.got {
		ds = append(ds, d)
	}
	rc.got, rc.first = map[string]time.Duration{}, time.Time{}
	rc.mu.Unlock()
	nr.Steady = summarize(ds)

	// Burst: the receiver holds its answers (the sender's workers wait on them) while the
	// orders are made, so that their notifications queue up; then it answers again, and the
	// time until every one was told is the sender's.
	b.step("notifications: a backlog of %d order changes", b.o.notifyBurst)
	hold := make(chan struct{})
	rc.mu.Lock()
	rc.hold = hold
	rc.mu.Unlock()
	err = seed(b.o.notifyBurst, 8)
	rc.mu.Lock()
	rc.hold = nil
	rc.mu.Unlock()
	start := time.Now()
	close(hold)
	if err != nil {
		return err
	}
	werr := rc.wait(ctx, b.o.notifyBurst, 60*time.Second)
	rc.mu.Lock()
	nr.BurstN, nr.BadSignature = len(rc.got), rc.badSigs
	nr.Lost = b.o.notifyBurst - len(rc.got)
	if secs := rc.last.Sub(start).Seconds(); secs > 0 {
		nr.BurstSeconds = round3(secs)
		nr.DeliveredPerS = float64(int(float64(len(rc.got)) / secs))
	}
	rc.mu.Unlock()
	return werr
}

func (rc *receiver) wait(ctx context.Context, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for rc.count() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.New("notifications still missing: " + strconv.Itoa(n-rc.count()) + " of " + strconv.Itoa(n))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
