package store_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/storetest"
)

// Changes of orders made at once share commits on SQLite, even on one P, yet each is its own:
// every change is written with its events in seq order, a change that fails (here on the unique
// payment id, after its event was inserted) writes nothing and fails no other, and ErrNoChange
// writes nothing.
func TestUpdateOrderGroupCommit(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	const callers, each = 16, 20
	orders := make([]checkout.Order, callers)
	for c := range orders {
		orders[c] = storetest.MustOrder(t, db)
	}
	taken := storetest.MustOrder(t, db)
	if _, err := db.UpdateOrder(ctx, taken.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.PaymentID = "pay-taken"
		return checkout.Change{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	batches0, writes0 := store.WriteBatches(db)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				up, err := db.UpdateOrder(ctx, orders[c].ID, func(o *checkout.Order) (checkout.Change, error) {
					o.CheckAttempts++
					msg := fmt.Sprintf("change %d", i)
					switch i % 4 {
					case 1:
						o.State, o.PaymentID = checkout.StateFailed, "pay-taken" // another order's
					case 2:
						return checkout.Change{}, checkout.ErrNoChange
					}
					return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: msg}}}, nil
				})
				switch {
				case i%4 == 1 && checkout.ErrorCode(err) != checkout.EConflict:
					t.Errorf("order %d change %d: got %v, want EConflict", c, i, err)
				case i%4 != 1 && err != nil:
					t.Errorf("order %d change %d: %v", c, i, err)
				case i%4 != 1 && i%4 != 2 && (len(up.Events) != 1 || up.Order.LastSeq != up.Events[0].Seq):
					t.Errorf("order %d change %d: got %+v, want one event, the order's last", c, i, up)
				}
			}
		}()
	}
	wg.Wait()
	batches, writes := store.WriteBatches(db)
	batches, writes = batches-batches0, writes-writes0
	if writes != callers*each {
		t.Fatalf("%d changes went through the group commit, want %d", writes, callers*each)
	}
	if per := float64(writes) / float64(batches); per < 4 {
		t.Errorf("%d changes by %d callers took %d commits (%.1f per commit), want 4 or more per commit", writes, callers, batches, per)
	}
	for c, o := range orders {
		got, err := db.Order(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != checkout.StateCreating || got.CheckAttempts != each/2 {
			t.Errorf("order %d: state %s, %d changes written; want %s and %d", c, got.State, got.CheckAttempts, checkout.StateCreating, each/2)
		}
		events, err := db.Events(ctx, o.ID, o.LastSeq)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 0; i < each; i += 4 {
			want = append(want, fmt.Sprintf("change %d", i), fmt.Sprintf("change %d", i+3))
		}
		if len(events) != len(want) {
			t.Fatalf("order %d: %d events, want %d", c, len(events), len(want))
		}
		for k, e := range events {
			if e.Message != want[k] || (k > 0 && e.Seq <= events[k-1].Seq) {
				t.Errorf("order %d event %d: %q seq %d; want %q after seq %d", c, k, e.Message, e.Seq, want[k], events[max(k-1, 0)].Seq)
			}
		}
	}
}

// A change that panics, in a batch another caller leads, panics in its own caller and writes
// nothing; the others are written and later changes are not held up.
func TestUpdateOrderPanicStaysWithItsCaller(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	const callers = 8
	orders := make([]checkout.Order, callers)
	for c := range orders {
		orders[c] = storetest.MustOrder(t, db)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	recovered := make([]any, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { recovered[c] = recover() }()
			db.UpdateOrder(ctx, orders[c].ID, func(o *checkout.Order) (checkout.Change, error) {
				o.CheckAttempts++
				if c == callers/2 {
					panic("boom")
				}
				return checkout.Change{}, nil
			})
		}()
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("changes batched with the panicking one are held up")
	}
	for c := range callers {
		got, err := db.Order(ctx, orders[c].ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c == callers/2 && (recovered[c] != "boom" || got.CheckAttempts != 0):
			t.Errorf("the panicking change: recovered %v, written %d times; want boom, not written", recovered[c], got.CheckAttempts)
		case c != callers/2 && (recovered[c] != nil || got.CheckAttempts != 1):
			t.Errorf("order %d: recovered %v, written %d times; want no panic, written once", c, recovered[c], got.CheckAttempts)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.UpdateOrder(ctx, orders[0].ID, func(o *checkout.Order) (checkout.Change, error) {
			o.CheckAttempts++
			return checkout.Change{}, nil
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a change after the panic is held up")
	}
}
