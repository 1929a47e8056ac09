package checkout_test

import (
	"context"
	"testing"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// A stale answer from Banq (a lagging replica, a slow fetch overtaken by a newer one) never takes
// an order back: once paid, an answer saying Accepted or Pending changes nothing and adds no
// state to the timeline. The real sandbox cannot answer with an older state, so a fake does.
func TestStaleAnswersNeverMoveAnOrderBack(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := f.create(t, 0)
	cause := checkout.Cause{Kind: checkout.EventReconciled}

	f.banq.setStatus(o.PaymentID, banq.PaymentAccepted)
	if up, err := f.svc.SyncPayment(ctx, o.PaymentID, cause); err != nil || up.Order.State != checkout.StateAccepted {
		t.Fatalf("accepted: got %s, %v", up.Order.State, err)
	}
	f.banq.pay(o.PaymentID)
	if up, err := f.svc.SyncPayment(ctx, o.PaymentID, cause); err != nil || up.Order.State != checkout.StatePaid {
		t.Fatalf("paid: got %s, %v", up.Order.State, err)
	}
	before, err := f.db.Events(ctx, o.ID, 0)
	if err != nil {
		t.Fatal(err)
	}

	// Banq now answers as it did before the payment: no transaction, and an earlier status.
	f.banq.mu.Lock()
	delete(f.banq.txns, "tx-"+o.PaymentID)
	f.banq.mu.Unlock()
	for _, stale := range []banq.PaymentStatus{banq.PaymentAccepted, banq.PaymentPending, banq.PaymentOnHold} {
		f.banq.setStatus(o.PaymentID, stale)
		up, err := f.svc.SyncPayment(ctx, o.PaymentID, checkout.Cause{Kind: checkout.EventWebhook, WebhookID: "wh-" + string(stale),
			Resource: banq.ResourcePayment, Action: banq.ActionAccepted})
		if err != nil {
			t.Fatal(err)
		}
		if up.Order.State != checkout.StatePaid {
			t.Fatalf("after a stale %s: got %s, want paid", stale, up.Order.State)
		}
	}
	after, _ := f.db.Events(ctx, o.ID, 0)
	for _, e := range after[len(before):] {
		if e.Kind == checkout.EventState {
			t.Fatalf("a stale answer added a state to the timeline: %+v", e)
		}
	}
	if got := f.order(t, o.ID); got.State != checkout.StatePaid || got.TransactionID == "" {
		t.Fatalf("stored: got %s with transaction %q, want paid with its transaction", got.State, got.TransactionID)
	}
}
