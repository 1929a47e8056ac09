package store_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// Webhooks inserted at once are committed in shared transactions: each one is stored exactly
// once, every caller learns whether it was the first, and duplicates are counted.
func TestInsertWebhookConcurrentGroupCommit(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	const ids, copies = 300, 3
	var firsts [ids]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, ids*copies)
	for c := range copies {
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < ids; i += 8 {
					w := checkout.InboxWebhook{ID: fmt.Sprintf("wh-%d", i), ResourceType: banq.ResourcePayment,
						Action: banq.ActionAccepted, ResourceID: fmt.Sprintf("pay-%d-%d", i, c), Body: []byte(`{}`)}
					inserted, err := db.InsertWebhook(ctx, w)
					if err != nil {
						errs <- err
						continue
					}
					if inserted {
						firsts[i].Add(1)
					}
				}
			}()
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("inserts still waiting after 20s: a caller was never told its batch committed")
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range firsts {
		if got := firsts[i].Load(); got != 1 {
			t.Fatalf("webhook %d: inserted reported %d times, want 1", i, got)
		}
	}
	pending, err := db.PendingWebhooks(ctx, time.Now().Add(time.Second), ids+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != ids {
		t.Fatalf("got %d webhooks in the inbox, want %d", len(pending), ids)
	}
	for _, w := range pending {
		if w.Duplicates != copies-1 {
			t.Fatalf("webhook %s: got %d duplicates, want %d", w.ID, w.Duplicates, copies-1)
		}
	}
}

// A cancelled caller does not lose the webhooks committed with its batch, nor its own.
func TestInsertWebhookCancelledContext(t *testing.T) {
	db := mustOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := checkout.InboxWebhook{ID: "wh-cancelled", ResourceType: banq.ResourcePayment, Action: banq.ActionAccepted,
		ResourceID: "pay-1", Body: []byte(`{}`)}
	inserted, err := db.InsertWebhook(ctx, w)
	if err != nil || !inserted {
		t.Fatalf("got %v, %v; want true, nil", inserted, err)
	}
	if got, err := db.Webhook(context.Background(), w.ID); err != nil || got.Status != checkout.WebhookPending {
		t.Fatalf("got %+v, %v; want it pending", got, err)
	}
}

// On a single P, callers queue behind the leader and share its commit: a cgo call keeps its P,
// so without the leader's yield every batch held one insert.
func TestInsertWebhookBatchesOnOneP(t *testing.T) {
	db := mustOpen(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx := context.Background()
	const callers, each = 16, 50
	before := store.InboxBatches(db)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				w := checkout.InboxWebhook{ID: fmt.Sprintf("wh-%d-%d", c, i), ResourceType: banq.ResourcePayment,
					Action: banq.ActionAccepted, ResourceID: "pay", Body: []byte(`{}`)}
				if _, err := db.InsertWebhook(ctx, w); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	batches := store.InboxBatches(db) - before
	if per := float64(callers*each) / float64(batches); per < 4 {
		t.Fatalf("%d inserts by %d callers took %d commits (%.1f per commit), want 4 or more per commit", callers*each, callers, batches, per)
	}
}

// On SQLite claims read the pending webhooks a batch at a time, yet hand each out once, oldest
// first, and never one that was finished meanwhile.
func TestClaimWebhookReadsInBatches(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	const n = 20
	for i := range n {
		if _, err := db.InsertWebhook(ctx, checkout.InboxWebhook{ID: fmt.Sprintf("wh-%02d", i), ResourceType: banq.ResourcePayment,
			Action: banq.ActionAccepted, ResourceID: "pay", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Second)
	before := store.InboxReads(db)
	for i := range n {
		c, err := db.ClaimWebhook(ctx, later, time.Minute)
		if err != nil || c == nil {
			t.Fatalf("claim %d: got %v, %v; want a webhook", i, c, err)
		}
		if got, want := c.Webhook().ID, fmt.Sprintf("wh-%02d", i); got != want {
			t.Fatalf("claim %d: got %s, want %s (oldest first)", i, got, want)
		}
		w := c.Webhook()
		w.Status, w.Attempts, w.ProcessedAt = checkout.WebhookApplied, 1, time.Now()
		if err := c.Finish(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if reads := store.InboxReads(db) - before; reads != 1 {
		t.Errorf("%d claims read the inbox %d times, want once", n, reads)
	}
	if c, err := db.ClaimWebhook(ctx, later, time.Minute); c != nil || err != nil {
		t.Fatalf("after finishing all: got %v, %v; want none", c, err)
	}
}

// A webhook finished outside a claim (a merchant's reprocessing) while it waits in the batch
// read for claims is not handed to a claim again: its outcome is recorded.
func TestClaimSkipsAWebhookFinishedMeanwhile(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := db.InsertWebhook(ctx, checkout.InboxWebhook{ID: fmt.Sprintf("wh-%d", i), ResourceType: banq.ResourcePayment,
			Action: banq.ActionAccepted, ResourceID: "pay", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Second)
	first, err := db.ClaimWebhook(ctx, later, time.Minute) // reads all three
	if err != nil || first == nil || first.Webhook().ID != "wh-0" {
		t.Fatalf("first claim: got %v, %v; want wh-0", first, err)
	}
	reprocessed, err := db.Webhook(ctx, "wh-1")
	if err != nil {
		t.Fatal(err)
	}
	reprocessed.Status, reprocessed.Attempts, reprocessed.ProcessedAt = checkout.WebhookApplied, 1, time.Now()
	if err := db.FinishWebhook(ctx, reprocessed); err != nil {
		t.Fatal(err)
	}
	next, err := db.ClaimWebhook(ctx, later, time.Minute)
	if err != nil || next == nil || next.Webhook().ID != "wh-2" {
		t.Fatalf("next claim: got %v, %v; want wh-2 (wh-1 was finished meanwhile)", next, err)
	}
}
