package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
	"github.com/banq-checkout/checkout/store/storetest"
)

func openDSN(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Instances starting together on an empty database: the migration lock lets one migrate and
// the others find the schema done.
func TestPostgresInstancesMigrateTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := pgtest.Admin(t, dsn).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("got %d migrations recorded (%v), want at least 1", n, err)
	}
}

// Two instances claiming at once never get the same webhook; a claim whose connection dies
// (its instance killed) goes back to the inbox for the other.
func TestPostgresClaimsAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := openDSN(t, pgtest.WithAppName(dsn, "claims-a"))
	b := openDSN(t, pgtest.WithAppName(dsn, "claims-b"))
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		if _, err := a.InsertWebhook(ctx, checkout.InboxWebhook{ID: fmt.Sprintf("wh-%02d", i), ResourceType: banq.ResourcePayment,
			Action: banq.ActionCreated, ResourceID: "p", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Second)
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for _, inst := range []struct {
		name string
		db   *store.DB
	}{{"a", a}, {"b", b}, {"a", a}, {"b", b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := inst.db.ClaimWebhook(ctx, later, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if c == nil {
					return
				}
				w := c.Webhook()
				mu.Lock()
				if prev, dup := owner[w.ID]; dup {
					t.Errorf("%s claimed by %s and %s", w.ID, prev, inst.name)
				}
				owner[w.ID] = inst.name
				mu.Unlock()
				time.Sleep(time.Millisecond)
				w.Status, w.Attempts = checkout.WebhookApplied, 1
				if err := c.Finish(ctx, w); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(owner) != 40 {
		t.Fatalf("got %d webhooks processed, want 40", len(owner))
	}

	// Killed mid-processing: a's lease is no longer renewed, and b takes the webhook once it has
	// run out. "Killed": a's connections are cut and its pool closed, so nothing of a runs on.
	a.InsertWebhook(ctx, checkout.InboxWebhook{ID: "wh-kill", ResourceType: banq.ResourcePayment, Action: banq.ActionCreated, ResourceID: "p", Body: []byte(`{}`)})
	const lease = time.Second
	c, err := a.ClaimWebhook(ctx, time.Now().Add(time.Second), lease)
	if err != nil || c == nil || c.Webhook().ID != "wh-kill" {
		t.Fatalf("a's claim: got %v, %v", c, err)
	}
	// Renewed: still a's after several leases.
	for end := time.Now().Add(3 * lease); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c2, err := b.ClaimWebhook(ctx, time.Now(), lease); c2 != nil || err != nil {
			t.Fatalf("b's claim while a holds it: got %v, %v; want none", c2, err)
		}
	}
	admin := pgtest.Admin(t, dsn)
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'claims-a'`); err != nil {
		t.Fatal(err)
	}
	a.Close()
	var c2 checkout.WebhookClaim
	deadline := time.Now().Add(5 * time.Second)
	for c2 == nil && time.Now().Before(deadline) {
		if c2, err = b.ClaimWebhook(ctx, time.Now(), lease); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c2 == nil || c2.Webhook().ID != "wh-kill" {
		t.Fatalf("b after a died: got %v, want wh-kill", c2)
	}
	w := c2.Webhook()
	w.Status, w.Attempts = checkout.WebhookApplied, 1
	if err := c2.Finish(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(ctx, w); err == nil {
		t.Fatal("a's dead claim finished without error, want an error")
	}
}

// Every committed change is announced to every watcher, and a watcher whose listening
// connection is cut catches up on reconnect.
func TestPostgresWatchChanges(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := openDSN(t, pgtest.WithAppName(dsn, "watch-a"))
	b := openDSN(t, pgtest.WithAppName(dsn, "watch-b"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type change struct{ id, seq int64 }
	got := make(chan change, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.WatchChanges(ctx, time.Hour, func(id, seq int64) { got <- change{id, seq} })
	}()
	defer func() { cancel(); <-done }()
	admin := pgtest.Admin(t, dsn)
	listening := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'watch-a-listen' AND query LIKE 'LISTEN%'`).Scan(&n)
			if n == 1 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("a is not listening after 5s")
	}
	wait := func(want int64) {
		t.Helper()
		timeout := time.After(3 * time.Second)
		for {
			select {
			case c := <-got:
				if c.seq == want {
					return
				}
			case <-timeout:
				t.Fatalf("seq %d not announced within 3s", want)
			}
		}
	}
	listening()
	o := storetest.MustOrder(t, b)
	wait(o.LastSeq)
	up, err := b.UpdateOrder(context.Background(), o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StateWaiting
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "waiting"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wait(up.Order.LastSeq)

	// Cut the listener and change at once: the notification is lost, the reconnect sweep finds it.
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'watch-a-listen'`); err != nil {
		t.Fatal(err)
	}
	up, err = b.UpdateOrder(context.Background(), o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StatePaid
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "paid"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wait(up.Order.LastSeq)
}

// One holder of an exclusive lock at a time; when it dies another takes over.
func TestPostgresExclusive(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := openDSN(t, pgtest.WithAppName(dsn, "excl-a"))
	b := openDSN(t, pgtest.WithAppName(dsn, "excl-b"))
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	running := map[string]bool{}
	both := false
	var wg sync.WaitGroup
	for name, db := range map[string]*store.DB{"a": a, "b": b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.Exclusive(ctx, "test", 100*time.Millisecond, func(ctx context.Context) {
				mu.Lock()
				running[name] = true
				both = both || len(running) == 2
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				delete(running, name)
				mu.Unlock()
			})
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	holder := func() string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for name := range running {
				mu.Unlock()
				return name
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no one holds the lock after 5s")
		return ""
	}
	first := holder()
	time.Sleep(300 * time.Millisecond)
	admin := pgtest.Admin(t, dsn)
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, "excl-"+first+"-lock"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		other := running[map[string]string{"a": "b", "b": "a"}[first]]
		mu.Unlock()
		if other {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's lock was cut, the other did not take over within 5s", first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if both {
		t.Fatal("both ran at once")
	}
}

// A claim holds no transaction or row lock while its webhook is processed: a duplicate delivery
// of the webhook, at another instance, is stored at once.
func TestPostgresClaimHoldsNoLock(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := openDSN(t, pgtest.WithAppName(dsn, "lease-a"))
	b := openDSN(t, pgtest.WithAppName(dsn, "lease-b"))
	ctx := context.Background()
	w := checkout.InboxWebhook{ID: "wh-dup", ResourceType: banq.ResourcePayment, Action: banq.ActionCreated, ResourceID: "p", Body: []byte(`{}`)}
	if _, err := a.InsertWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	c, err := a.ClaimWebhook(ctx, time.Now().Add(time.Second), time.Minute)
	if err != nil || c == nil {
		t.Fatalf("claim: got %v, %v", c, err)
	}
	defer c.Release()
	var open int
	if err := pgtest.Admin(t, dsn).QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'lease-a' AND state LIKE 'idle in transaction%'`).Scan(&open); err != nil || open != 0 {
		t.Fatalf("a's transactions left open while it holds a claim: %d (%v), want 0", open, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	inserted, err := b.InsertWebhook(dctx, w)
	if took := time.Since(start); err != nil || inserted || took > time.Second {
		t.Fatalf("duplicate while claimed: got inserted=%v, %v after %v; want a duplicate counted at once", inserted, err, took)
	}
}

// The merchant list's search (ILIKE '%…%' on customer names and descriptions) can be answered
// by the trigram indexes instead of reading every order. Sequential scans are priced out, as a
// handful of rows would otherwise never be worth an index.
func TestPostgresSearchUsesTrigramIndexes(t *testing.T) {
	dsn := pgtest.DSN(t)
	openDSN(t, dsn)
	conn, err := pgtest.Admin(t, dsn).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(context.Background(),
		`EXPLAIN SELECT id FROM orders WHERE customer_name ILIKE '%аня%' OR description ILIKE '%аня%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	joined := strings.Join(plan, "\n")
	for _, index := range []string{"orders_customer_name_trgm", "orders_description_trgm"} {
		if !strings.Contains(joined, index) {
			t.Errorf("plan does not use %s:\n%s", index, joined)
		}
	}
}
