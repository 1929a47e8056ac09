package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
	"github.com/banq-checkout/checkout/store/storetest"
)

func TestNotificationsSQLite(t *testing.T) { testNotifications(t, mustOpen) }

func TestNotificationsPostgres(t *testing.T) {
	pgtest.DSN(t)
	testNotifications(t, openPostgres)
}

func testNotifications(t *testing.T, open func(testing.TB) *store.DB) {
	t.Run("outbox in the order's transaction", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("leases", func(t *testing.T) { testDeliveryLeases(t, open(t)) })
}

func mustEndpoint(tb testing.TB, db *store.DB, enabled bool, types ...string) notify.Endpoint {
	tb.Helper()
	now := time.Now()
	e, err := db.CreateEndpoint(context.Background(), notify.Endpoint{URL: "https://shop.example/hook",
		Types: types, Secret: notify.NewSecret(), Enabled: enabled, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func deliveryTypes(tb testing.TB, db *store.DB, endpointID int64) []string {
	tb.Helper()
	ds, _, err := db.Deliveries(context.Background(), notify.DeliveryFilter{EndpointID: endpointID, Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for i := len(ds) - 1; i >= 0; i-- {
		out = append(out, ds[i].Type)
	}
	return out
}

func testOutbox(t *testing.T, db *store.DB) {
	ctx := context.Background()
	all := mustEndpoint(t, db, true)
	paidOnly := mustEndpoint(t, db, true, notify.OrderPaid)
	off := mustEndpoint(t, db, false)

	o := storetest.MustOrder(t, db)
	// A change that fails after moving the order writes nothing, its notification included.
	boom := errors.New("boom")
	_, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StateDeclined
		return checkout.Change{}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	up, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StatePaid
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "paid"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A change that is not a new state (a timeline note) tells nothing.
	if _, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventReconciled, Message: "checked"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}

	if got := deliveryTypes(t, db, all.ID); len(got) != 2 || got[0] != notify.OrderCreated || got[1] != notify.OrderPaid {
		t.Errorf("endpoint for all types: got %v, want [order.created order.paid]", got)
	}
	if got := deliveryTypes(t, db, paidOnly.ID); len(got) != 1 || got[0] != notify.OrderPaid {
		t.Errorf("endpoint for order.paid: got %v, want [order.paid]", got)
	}
	if got := deliveryTypes(t, db, off.ID); len(got) != 0 {
		t.Errorf("disabled endpoint: got %v, want none", got)
	}

	jobs, err := db.ClaimDeliveries(ctx, time.Now(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 {
		t.Fatalf("claimed %d deliveries, want 3", len(jobs))
	}
	for _, j := range jobs {
		var s notify.Snapshot
		if err := json.Unmarshal(j.Snapshot, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type != j.Type || s.Order.ID != o.ID {
			t.Errorf("snapshot %+v does not match delivery %+v", s, j.Delivery)
		}
		if j.Type == notify.OrderPaid && (s.Order.State != checkout.StatePaid || s.Order.LastSeq != up.Order.LastSeq) {
			t.Errorf("paid snapshot: state %q seq %d, want paid and %d", s.Order.State, s.Order.LastSeq, up.Order.LastSeq)
		}
		if j.Endpoint.Secret == "" || j.Endpoint.URL == "" {
			t.Errorf("job without its endpoint: %+v", j.Endpoint)
		}
	}
}

func testDeliveryLeases(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ep := mustEndpoint(t, db, true, notify.OrderCreated)
	storetest.MustOrder(t, db)
	now := time.Now()
	jobs, err := db.ClaimDeliveries(ctx, now, time.Minute, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d jobs, %v; want 1", len(jobs), err)
	}
	if again, _ := db.ClaimDeliveries(ctx, now, time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again: %d", len(again))
	}
	// The lease runs out (its sender died): another sender claims it, and the first one's
	// outcome is no longer recorded.
	later := now.Add(2 * time.Minute)
	taken, err := db.ClaimDeliveries(ctx, later, time.Minute, 10)
	if err != nil || len(taken) != 1 {
		t.Fatalf("claim after the lease: %d jobs, %v; want 1", len(taken), err)
	}
	fail := notify.Outcome{Status: notify.DeliveryPending, Next: later.Add(5 * time.Second),
		Attempt: notify.Attempt{At: later, Status: 500, Error: "The endpoint answered 500."}}
	if err := db.FinishDelivery(ctx, jobs[0], fail); err != nil {
		t.Fatal(err)
	}
	if as, _ := db.Attempts(ctx, jobs[0].ID); len(as) != 0 {
		t.Fatalf("an expired lease recorded %d attempts, want 0", len(as))
	}
	if err := db.FinishDelivery(ctx, taken[0], fail); err != nil {
		t.Fatal(err)
	}
	d, as, err := notify.NewManager(db, notify.Policy{}, nil, nil).Delivery(ctx, taken[0].ID)
	if err != nil || len(as) != 1 || d.Attempts != 1 || d.Status != notify.DeliveryPending || d.LastStatus != 500 {
		t.Fatalf("after one failure: %+v, %d attempts, %v", d, len(as), err)
	}
	e, _ := db.Endpoint(ctx, ep.ID)
	if !e.FailingSince.Equal(later.Truncate(time.Nanosecond).UTC()) {
		t.Errorf("failing since %v, want %v", e.FailingSince, later.UTC())
	}
	// Not due before its next attempt; due after.
	if js, _ := db.ClaimDeliveries(ctx, later.Add(time.Second), time.Minute, 10); len(js) != 0 {
		t.Fatalf("claimed %d before the next attempt, want 0", len(js))
	}
	js, err := db.ClaimDeliveries(ctx, later.Add(6*time.Second), time.Minute, 10)
	if err != nil || len(js) != 1 || js[0].Attempts != 1 {
		t.Fatalf("claim when due: %+v, %v", js, err)
	}
	ok := notify.Outcome{Status: notify.DeliverySucceeded, Attempt: notify.Attempt{At: later.Add(6 * time.Second), Status: 204}}
	if err := db.FinishDelivery(ctx, js[0], ok); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.Endpoint(ctx, ep.ID); !e.FailingSince.IsZero() {
		t.Errorf("a success left failing since %v", e.FailingSince)
	}
	if js, _ := db.ClaimDeliveries(ctx, later.Add(time.Hour), time.Minute, 10); len(js) != 0 {
		t.Fatalf("a delivered notification was claimed again")
	}
	// Redeliver queues it anew, due at once.
	re, err := db.Redeliver(ctx, js[0].ID, later.Add(time.Hour))
	if err != nil || re.Status != notify.DeliveryPending || re.Attempts != 0 || re.MessageID != js[0].MessageID {
		t.Fatalf("redeliver: %+v, %v", re, err)
	}
	// A disabled endpoint's deliveries wait.
	if _, err := db.UpdateEndpoint(ctx, ep.ID, func(e *notify.Endpoint) error { e.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if js, _ := db.ClaimDeliveries(ctx, later.Add(2*time.Hour), time.Minute, 10); len(js) != 0 {
		t.Fatalf("claimed a delivery to a disabled endpoint")
	}
}

// Two instances on one PostgreSQL database claim every delivery exactly once between them.
func TestPostgresDeliveryClaimsAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := context.Background()
	mustEndpoint(t, a, true)
	mustEndpoint(t, a, true)
	const orders = 40
	for range orders {
		storetest.MustOrder(t, a)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	now := time.Now()
	for _, db := range []*store.DB{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				js, err := db.ClaimDeliveries(ctx, now, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(js) == 0 {
					return
				}
				mu.Lock()
				for _, j := range js {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2*orders {
		t.Fatalf("claimed %d deliveries, want %d", len(seen), 2*orders)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
}
