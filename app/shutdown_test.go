package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// restart starts the app again on the data in dir and on the same address, so that webhooks
// the sandbox still has to deliver find it.
func restart(t *testing.T, dir, addr string) *apptest.App {
	t.Helper()
	return apptest.Start(t, apptest.Options{Dir: dir, Config: func(c *app.Config) { c.Addr = addr }})
}

// checkNoWebhookLost checks that every webhook the sandbox delivered (answered 2xx) before
// stoppedAt is in the restarted app's inbox, and that every inbox webhook ends up done with.
func checkNoWebhookLost(t *testing.T, a *apptest.App, stoppedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	ds, err := a.Sandbox.Deliveries(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, d := range ds {
		if d.Outcome != "delivered" {
			continue
		}
		if d.At.Before(stoppedAt) {
			before++
		}
		if _, err := a.DB.Webhook(ctx, d.WebhookID); err != nil {
			t.Errorf("webhook %s (%s %s) was delivered at %s but is not in the inbox: %v",
				d.WebhookID, d.ResourceType, d.Action, d.At.Format(time.StampMilli), err)
		}
	}
	if before == 0 {
		t.Fatal("no webhook was delivered before the shutdown: the test proves nothing")
	}
	eventually(t, 10*time.Second, func() bool {
		st, err := a.DB.WebhookStats(ctx)
		return err == nil && st.Pending == 0
	}, func() string {
		st, err := a.DB.WebhookStats(ctx)
		return fmt.Sprintf("%d webhooks still pending (%v)", st.Pending, err)
	})
	// A delivery may still be arriving after the inbox was seen empty (the sandbox retries
	// what the stopped app did not answer): each ends up applied, however late.
	for _, d := range ds {
		var w checkout.InboxWebhook
		eventually(t, 10*time.Second, func() bool {
			var err error
			w, err = a.DB.Webhook(ctx, d.WebhookID)
			return err != nil || w.Status == checkout.WebhookApplied
		}, func() string {
			return fmt.Sprintf("webhook %s: got status %s (%s), want applied", w.ID, w.Status, w.Error)
		})
	}
	t.Logf("%d webhooks delivered before the shutdown, %d deliveries in all, none lost", before, len(ds))
}

// afterLine returns the part of logs after the first line containing marker.
func afterLine(logs, marker string) string {
	i := strings.Index(logs, marker)
	if i < 0 {
		return ""
	}
	return logs[i:]
}

func TestShutdownUnderOpenStreamsAndABusyWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := &syncBuffer{}
	// Every Banq call takes a while: the worker has a queue when the app is stopped.
	a := apptest.Start(t, apptest.Options{Dir: dir, Log: logs, Faults: &sandbox.Faults{APILatency: 150 * time.Millisecond}})
	ctx := context.Background()
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	var orders []checkout.Order
	for i := range 6 {
		orders = append(orders, m.MustCreateOrder(t, "5.00", fmt.Sprintf("Shutdown %d", i), payers[i%len(payers)].GUID))
	}
	var streams []*rawStream
	for _, o := range orders {
		streams = append(streams, openRaw(t, nil, a.URL+"/pay/"+o.Token+"/events"))
	}
	streams = append(streams,
		openRaw(t, m.Client, a.URL+"/orders/events"),
		openRaw(t, m.Client, a.URL+"/orders/"+strconv.FormatInt(orders[0].ID, 10)+"/events"))
	eventually(t, 5*time.Second, func() bool { return a.Hub.Subscribers() == len(streams) },
		func() string { return fmt.Sprintf("%d streams subscribed, want %d", a.Hub.Subscribers(), len(streams)) })
	for _, o := range orders {
		a.Act(t, o.PaymentID, "approve", "")
	}
	eventually(t, 10*time.Second, func() bool {
		st, err := a.DB.WebhookStats(ctx)
		return err == nil && st.Pending >= 4
	}, func() string { return "the inbox never held 4 webhooks at once" })

	addr := a.Addr()
	stoppedAt := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatalf("stop: got %v, want a clean shutdown", err)
	}
	took := time.Since(stoppedAt)
	t.Logf("shutdown took %v with %d streams open and a busy worker", took.Round(time.Millisecond), len(streams))
	if took > 5*time.Second {
		t.Errorf("shutdown took %v, want within CHECKOUT_SHUTDOWN_TIMEOUT (5s here)", took)
	}

	// Every stream was told to come back, as its last word.
	for i, s := range streams {
		eventually(t, 2*time.Second, s.ended, func() string { return fmt.Sprintf("stream %d is still open after the shutdown", i) })
		lines := s.Lines()
		retries := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "retry:") {
				retries++
			}
		}
		if n := len(lines); n == 0 || !strings.HasPrefix(lines[n-1], "retry:") || retries < 2 {
			t.Errorf("stream %d ended with %q (%d retry lines), want a retry: line last, after the one that opened it", i, lines, retries)
		}
	}

	// The worker finished what it had in hand, and gave up nothing.
	shutdown := afterLine(logs.String(), `msg="shutting down"`)
	if shutdown == "" {
		t.Fatal("no shutting down line in the logs")
	}
	if !strings.Contains(shutdown, `msg="webhook applied"`) {
		t.Errorf("no webhook was applied after the shutdown began: the worker was not busy, or was stopped short")
	}
	if strings.Contains(shutdown, "left pending") {
		t.Errorf("webhooks were cut off although there was time:\n%s", shutdown)
	}
	// The database was closed cleanly: the last connection checkpoints and removes the WAL.
	if _, err := os.Stat(filepath.Join(dir, "checkout.db-wal")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkout.db-wal after the shutdown: %v, want it gone (database closed cleanly)", err)
	}

	b := restart(t, dir, addr)
	for _, o := range orders {
		b.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	}
	checkNoWebhookLost(t, b, stoppedAt)
}

func TestShutdownIsBoundedAndLosesNoWebhook(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := &syncBuffer{}
	const bound = 300 * time.Millisecond
	a := apptest.Start(t, apptest.Options{Dir: dir, Log: logs, Config: func(c *app.Config) { c.ShutdownTimeout = bound }})
	ctx := context.Background()
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "7.00", "Slow Banq", a.PayerBanqs(t)[0].GUID)
	// Banq now takes far longer than the shutdown may.
	a.Sandbox.SetFaults(sandbox.Faults{APILatency: 5 * time.Second})
	a.Act(t, o.PaymentID, "approve", "")
	eventually(t, 5*time.Second, func() bool {
		st, err := a.DB.WebhookStats(ctx)
		return err == nil && st.Pending > 0
	}, func() string { return "no webhook reached the inbox" })
	time.Sleep(300 * time.Millisecond) // the worker, woken at once, is now waiting on Banq

	addr := a.Addr()
	stoppedAt := time.Now()
	err := a.Stop()
	took := time.Since(stoppedAt)
	t.Logf("shutdown took %v against a bound of %v: %v", took.Round(time.Millisecond), bound, err)
	if !errors.Is(err, app.ErrShutdownTimeout) {
		t.Errorf("stop: got %v, want ErrShutdownTimeout", err)
	}
	if took > bound+2*time.Second {
		t.Errorf("shutdown took %v, want about %v", took, bound)
	}
	if !strings.Contains(afterLine(logs.String(), `msg="shutting down"`), "left pending") {
		t.Errorf("no webhook was left pending: the worker was not busy when the app stopped")
	}
	if _, err := os.Stat(filepath.Join(dir, "checkout.db-wal")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkout.db-wal after the shutdown: %v, want it gone (database closed cleanly)", err)
	}

	b := restart(t, dir, addr)
	b.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	checkNoWebhookLost(t, b, stoppedAt)
}
