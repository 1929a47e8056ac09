package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

func mustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var n int

func mustOrder(tb testing.TB, db *store.DB) checkout.Order {
	tb.Helper()
	n++
	o, err := db.CreateOrder(context.Background(), checkout.Order{
		Token: fmt.Sprintf("token-%d-%d", n, time.Now().UnixNano()), IdempotencyKey: fmt.Sprintf("key-%d-%d", n, time.Now().UnixNano()),
		Amount: 1250, Description: "Coffee", CustomerBanq: "banq-1", CustomerName: "Ada", State: checkout.StateCreating,
	}, checkout.Event{Kind: checkout.EventCreated, State: checkout.StateCreating, Message: "created"})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

func TestOpenUsesWAL(t *testing.T) {
	db := mustOpen(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Reopening applies no migration twice.
	db2, err := store.Open(context.Background(), db.Path())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db2.Close()
}

func TestCreateAndReadOrder(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	o := mustOrder(t, db)
	if o.ID == 0 || o.LastSeq == 0 {
		t.Fatalf("got id %d seq %d, want both set", o.ID, o.LastSeq)
	}
	got, err := db.OrderByToken(ctx, o.Token)
	if err != nil || got.ID != o.ID || got.Amount != 1250 || got.State != checkout.StateCreating {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := db.OrderByToken(ctx, "nope"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("got %v, want ENotFound", err)
	}
	// The idempotency key also finds the order before the payment id is known.
	got, err = db.OrderForPayment(ctx, "pay-1", o.IdempotencyKey)
	if err != nil || got.ID != o.ID {
		t.Fatalf("got %+v, %v", got, err)
	}
	dup := o
	dup.Token = "other"
	if _, err := db.CreateOrder(ctx, dup, checkout.Event{Kind: "created"}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("duplicate idempotency key: got %v, want EConflict", err)
	}
}

func TestUpdateOrderWritesEventsAndSnapshots(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	o := mustOrder(t, db)
	up, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State, o.PaymentID, o.TransactionID = checkout.StatePaid, "pay-1", "tx-1"
		return checkout.Change{
			Events:       []checkout.Event{{Kind: checkout.EventState, Message: "paid"}},
			Payment:      &banq.Payment{ID: "pay-1", Status: banq.PaymentCompleted, Funds: 1250},
			Transactions: []banq.Transaction{{ID: "tx-1", PaymentID: "pay-1", Status: banq.TransactionCompleted, Funds: 1250}},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Events) != 1 || up.Events[0].Seq <= o.LastSeq || up.Order.LastSeq != up.Events[0].Seq || up.Events[0].State != checkout.StatePaid {
		t.Fatalf("got %+v", up)
	}
	got, _ := db.OrderForPayment(ctx, "pay-1", "")
	if got.ID != o.ID || got.State != checkout.StatePaid {
		t.Fatalf("got %+v", got)
	}
	txns, err := db.Transactions(ctx, o.ID)
	if err != nil || len(txns) != 1 || txns[0].ID != "tx-1" {
		t.Fatalf("got %+v, %v", txns, err)
	}
	events, _ := db.Events(ctx, o.ID, 0)
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	// ErrNoChange writes nothing.
	up, err = db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StateWaiting
		return checkout.Change{}, checkout.ErrNoChange
	})
	if err != nil || len(up.Events) != 0 {
		t.Fatalf("got %+v, %v", up, err)
	}
	if got, _ := db.Order(ctx, o.ID); got.State != checkout.StatePaid {
		t.Fatalf("ErrNoChange wrote state %s", got.State)
	}
}

// Two and more writers at once: every read-modify-write lands, none fails with "locked".
func TestConcurrentWriters(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	o := mustOrder(t, db)
	other := mustOrder(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := o.ID
				if w%2 == 1 {
					id = other.ID
				}
				_, err := db.UpdateOrder(ctx, id, func(o *checkout.Order) (checkout.Change, error) {
					o.CheckAttempts++
					return checkout.Change{Events: []checkout.Event{{Kind: "test", Message: "tick"}}}, nil
				})
				if err != nil {
					errs <- err
				}
				// Readers run beside the writer.
				if _, err := db.Order(ctx, id); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range []int64{o.ID, other.ID} {
		got, _ := db.Order(ctx, id)
		if got.CheckAttempts != 100 {
			t.Errorf("order %d: got %d increments, want 100", id, got.CheckAttempts)
		}
		events, _ := db.Events(ctx, id, 0)
		if len(events) != 101 {
			t.Errorf("order %d: got %d events, want 101", id, len(events))
		}
	}
}

func TestWebhookInboxDeduplicates(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	w := checkout.InboxWebhook{ID: "wh-1", ResourceType: banq.ResourcePayment, Action: banq.ActionCreated, ResourceID: "pay-1", Body: []byte(`{}`)}
	for i, want := range []bool{true, false, false} {
		got, err := db.InsertWebhook(ctx, w)
		if err != nil || got != want {
			t.Fatalf("insert %d: got %v, %v; want %v", i, got, err, want)
		}
	}
	pending, err := db.PendingWebhooks(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(pending) != 1 || pending[0].Duplicates != 2 {
		t.Fatalf("got %+v, %v", pending, err)
	}
	w = pending[0]
	w.Status, w.Attempts, w.ProcessedAt = checkout.WebhookApplied, 1, time.Now()
	if err := db.FinishWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if pending, _ := db.PendingWebhooks(ctx, time.Now().Add(time.Second), 10); len(pending) != 0 {
		t.Fatalf("got %d pending after finishing, want 0", len(pending))
	}
}

func TestListOrdersFiltersAndPages(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, mustOrder(t, db).ID)
	}
	db.UpdateOrder(ctx, ids[1], func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StatePaid
		return checkout.Change{}, nil
	})
	page, more, err := db.ListOrders(ctx, checkout.OrderFilter{Limit: 2})
	if err != nil || len(page) != 2 || !more || page[0].ID != ids[4] {
		t.Fatalf("got %d orders, more %v, %v", len(page), more, err)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Limit: 2, Before: page[1].ID})
	if len(page) != 2 || page[0].ID != ids[2] {
		t.Fatalf("second page starts at %d, want %d", page[0].ID, ids[2])
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{State: checkout.StatePaid})
	if len(page) != 1 || page[0].ID != ids[1] {
		t.Fatalf("state filter: got %+v", page)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Search: "#" + fmt.Sprint(ids[3])})
	if len(page) != 1 || page[0].ID != ids[3] {
		t.Fatalf("number search: got %d orders", len(page))
	}
	// LIKE wildcards in the search are literal.
	special, err := db.CreateOrder(ctx, checkout.Order{Token: "t-special", IdempotencyKey: "k-special", Amount: 1,
		Description: "x", CustomerBanq: "b", CustomerName: "50%_off", State: checkout.StateWaiting}, checkout.Event{Kind: "created"})
	if err != nil {
		t.Fatal(err)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Search: "%_"})
	if len(page) != 1 || page[0].ID != special.ID {
		t.Fatalf("literal search: got %d orders", len(page))
	}
}

func TestBackupRestores(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	o := mustOrder(t, db)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, dest); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("backup over an existing file: got %v, want EConflict", err)
	}
	restored, err := store.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	got, err := restored.OrderByToken(ctx, o.Token)
	if err != nil || got.ID != o.ID {
		t.Fatalf("restored: got %+v, %v", got, err)
	}
}

func TestSessions(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, checkout.User{Email: "A@example.com", PasswordHash: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, checkout.User{Email: "a@example.com", PasswordHash: []byte("y")}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("same email in other case: got %v, want EConflict", err)
	}
	now := time.Now()
	for _, id := range []string{"s1", "s2"} {
		if err := db.CreateSession(ctx, checkout.Session{ID: id, UserID: u.ID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetPassword(ctx, u.ID, []byte("new"), "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, "s2"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("other session after password change: got %v, want ENotFound", err)
	}
	if _, err := db.Session(ctx, "s1"); err != nil {
		t.Fatalf("current session: %v", err)
	}
	db.DeleteSession(ctx, "s1")
	if _, err := db.Session(ctx, "s1"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("after sign-out: got %v, want ENotFound", err)
	}
}
