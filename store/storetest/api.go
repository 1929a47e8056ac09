package storetest

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

func testAPIKeys(t *testing.T, open Opener) {
	db, ctx := open(t), context.Background()
	secret, k, err := checkout.NewAPIKey("web shop", []string{checkout.ScopeOrdersRead})
	if err != nil {
		t.Fatal(err)
	}
	k, err = db.CreateAPIKey(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	prefix, ok := checkout.APIKeyPrefix(secret)
	if !ok {
		t.Fatalf("APIKeyPrefix(%q) refused a key NewAPIKey made", secret)
	}
	got, err := db.APIKeyByPrefix(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Matches(secret) || got.Name != "web shop" || !reflect.DeepEqual(got.Scopes, []string{checkout.ScopeOrdersRead}) || got.Revoked() {
		t.Fatalf("got %+v, want the stored key matching its secret", got)
	}
	if got.Matches(secret[:len(secret)-1] + "x") {
		t.Fatal("another secret with the same prefix matches")
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := db.TouchAPIKey(ctx, k.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = db.APIKeyByPrefix(ctx, prefix)
	if !got.Revoked() || !got.LastUsedAt.Equal(at) {
		t.Fatalf("got revoked %v, last used %v; want revoked, used at %v", got.Revoked(), got.LastUsedAt, at)
	}
	if err := db.RevokeAPIKey(ctx, k.ID+100); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("revoking an unknown key: got %v, want not found", err)
	}
	keys, err := db.APIKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("got %d keys (%v), want 1", len(keys), err)
	}
}

func testAPIOrderFields(t *testing.T, open Opener) {
	db, ctx := open(t), context.Background()
	mk := func(ref string) (checkout.Order, error) {
		return db.CreateOrder(ctx, checkout.Order{
			Token: "t-" + ref, IdempotencyKey: "k-" + ref, Amount: 100, Description: "Tea", State: checkout.StateCreating,
			Reference: ref, RequestHash: "h-" + ref, Metadata: map[string]string{"cart": "42"},
			ReturnURL: "https://shop.example/ok", CancelURL: "https://shop.example/no",
		}, checkout.Event{Kind: checkout.EventCreated, State: checkout.StateCreating, Message: "created"})
	}
	o, err := mk("A-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk("A-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateOrder(ctx, checkout.Order{Token: "t-x", IdempotencyKey: "k-x", Amount: 100, Description: "x",
		State: checkout.StateCreating, Reference: "A-1"}, checkout.Event{Kind: checkout.EventCreated}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("a second order with reference A-1: got %v, want conflict", err)
	}
	// Orders without a reference (the form's) do not clash with each other.
	MustOrder(t, db)
	MustOrder(t, db)
	got, err := db.OrderByReference(ctx, "A-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.RequestHash != "h-A-1" || got.Metadata["cart"] != "42" || got.ReturnURL != "https://shop.example/ok" ||
		got.CancelURL != "https://shop.example/no" || !got.ByLink() {
		t.Fatalf("got %+v, want the order as stored", got)
	}
	up, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.PaymentLink = "https://banq.example/pay/1"
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventRequestSent}}}, nil
	})
	if err != nil || up.Order.PaymentLink == "" {
		t.Fatalf("update: %v", err)
	}
	if got, _ = db.Order(ctx, o.ID); got.PaymentLink != "https://banq.example/pay/1" {
		t.Fatalf("payment link %q, want it stored", got.PaymentLink)
	}
	list, _, err := db.ListOrders(ctx, checkout.OrderFilter{Reference: "A-2"})
	if err != nil || len(list) != 1 || list[0].Reference != "A-2" {
		t.Fatalf("list by reference A-2: got %d orders (%v), want 1", len(list), err)
	}
	// The merchant's search box finds an order by the shop's reference too.
	list, _, err = db.ListOrders(ctx, checkout.OrderFilter{Search: "A-2"})
	if err != nil || len(list) != 1 || list[0].Reference != "A-2" {
		t.Fatalf("search A-2: got %d orders (%v), want the one with that reference", len(list), err)
	}
}

func testIdempotencyKeys(t *testing.T, open Opener) {
	db, ctx := open(t), context.Background()
	now := time.Now()
	claim := func(db *store.DB, key, hash string, stale time.Time) (checkout.IdempotentAnswer, bool) {
		t.Helper()
		a, ok, err := db.ClaimIdempotencyKey(ctx, key, hash, stale, now.Add(-48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return a, ok
	}
	if _, ok := claim(db, "k1", "h1", now.Add(-time.Minute)); !ok {
		t.Fatal("the first claim of k1 was refused")
	}
	if a, ok := claim(db, "k1", "h1", now.Add(-time.Minute)); ok || a.Status != 0 {
		t.Fatalf("a second claim while the first is unanswered: claimed %v, status %d; want refused, in progress", ok, a.Status)
	}
	if err := db.AnswerIdempotencyKey(ctx, "k1", 201, []byte(`{"id":"1"}`)); err != nil {
		t.Fatal(err)
	}
	a, ok := claim(db, "k1", "h2", now.Add(time.Hour))
	if ok || a.Status != 201 || string(a.Body) != `{"id":"1"}` || a.RequestHash != "h1" {
		t.Fatalf("after the answer: claimed %v, got %+v; want the kept answer", ok, a)
	}
	// An unanswered claim older than the stale bound is taken over; a released one is free.
	claim(db, "k2", "h", now)
	if _, ok := claim(db, "k2", "h", now.Add(time.Hour)); !ok {
		t.Fatal("a stale claim was not taken over")
	}
	if err := db.ReleaseIdempotencyKey(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(db, "k2", "other", now.Add(-time.Minute)); !ok {
		t.Fatal("a released key could not be claimed again")
	}
	// Of many first requests at once, one claims the key.
	var wg sync.WaitGroup
	var claims atomic.Int32
	start := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, ok, err := db.ClaimIdempotencyKey(ctx, "race", "h", now.Add(-time.Minute), now.Add(-48*time.Hour))
			if err != nil {
				t.Error(err)
			}
			if ok {
				claims.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := claims.Load(); n != 1 {
		t.Fatalf("16 concurrent first requests: %d claimed the key, want 1", n)
	}
	// Answers older than the expiry bound are gone.
	if _, _, err := db.ClaimIdempotencyKey(ctx, "k3", "h", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(db, "k1", "h2", now.Add(-time.Minute)); !ok {
		t.Fatal("an expired answer was still kept")
	}
}
