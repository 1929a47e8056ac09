package checkout_test

import (
	"context"
	"slices"
	"testing"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store/storetest"
)

// Banq gets an order's number as its order code. Before the payment's id is known (its create
// call timed out), a payment with that code finds the order only if it is the request we made:
// another program paying into the same Banq account may use the same numbers.
func TestOrderCodeClaimsOnlyOurRequest(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := storetest.MustOrder(t, f.db) // creating: no payment id yet
	f.banq.mu.Lock()
	f.banq.payments["foreign"] = banq.Payment{ID: "foreign", Status: banq.PaymentPending, Funds: 999,
		ExternalOrderCode: o.Number(), Source: &banq.BanqRef{BanqGUID: o.CustomerBanq}}
	f.banq.payments["ours"] = banq.Payment{ID: "ours", Status: banq.PaymentPending, Funds: o.Amount,
		ExternalOrderCode: o.Number(), Source: &banq.BanqRef{BanqGUID: o.CustomerBanq}}
	f.banq.mu.Unlock()

	if _, err := f.svc.SyncPayment(ctx, "foreign", checkout.Cause{Kind: checkout.EventReconciled}); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("another program's payment with order %s's number: got %v, want ENotFound", o.Number(), err)
	}
	up, err := f.svc.SyncPayment(ctx, "ours", checkout.Cause{Kind: checkout.EventReconciled})
	if err != nil || up.Order.ID != o.ID || up.Order.PaymentID != "ours" {
		t.Fatalf("our payment by its order code: got order %d payment %q, %v; want order %d with payment ours", up.Order.ID, up.Order.PaymentID, err, o.ID)
	}
}

// Banq's webhook about a new payment can be applied before the create call's answer is recorded.
// The timeline still reads in the order things happened: the request sent, then Banq's webhook,
// with "Request sent" once.
func TestWebhookBeforeCreateAnswerKeepsRequestSentFirst(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.banq.created = func(p banq.Payment) {
		if _, err := f.svc.SyncPayment(ctx, p.ID, checkout.Cause{Kind: checkout.EventWebhook, WebhookID: "wh-1",
			Resource: banq.ResourcePayment, Action: banq.ActionCreated}); err != nil {
			t.Errorf("the webhook that overtook the answer: %v", err)
		}
	}
	o := f.create(t, 0)
	events, err := f.db.Events(ctx, o.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{checkout.EventCreated, checkout.EventRequestSent, checkout.EventWebhook, checkout.EventState}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline: got %v, want %v", kinds, want)
	}
}
