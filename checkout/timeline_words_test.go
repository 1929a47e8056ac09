package checkout_test

import (
	"context"
	"testing"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// A failed order's timeline must not end in words that read as paid: Banq's payment is the
// request, finished once the customer answered, and its transaction is the transfer that failed.
func TestWebhookTimelineWords(t *testing.T) {
	tests := []struct {
		resource banq.ResourceType
		action   banq.WebhookAction
		want     string
	}{
		{banq.ResourcePayment, banq.ActionAccepted, "Banq: the customer approved the payment request."},
		{banq.ResourcePayment, banq.ActionCompleted, "Banq: payment request finished (the transfer's entry says whether money moved)."},
		{banq.ResourceTransaction, banq.ActionFailed, "Banq: transfer failed, no money moved."},
		{banq.ResourceTransaction, banq.ActionCompleted, "Banq: transfer done, the money arrived."},
	}
	for _, tt := range tests {
		f := newFixture(t, nil)
		o := f.create(t, 0)
		up, err := f.svc.SyncPayment(context.Background(), o.PaymentID,
			checkout.Cause{Kind: checkout.EventWebhook, WebhookID: "wh-1", Resource: tt.resource, Action: tt.action})
		if err != nil || len(up.Events) == 0 {
			t.Fatalf("%s %s: got %+v, %v", tt.resource, tt.action, up.Events, err)
		}
		if got := up.Events[0].Message; got != tt.want {
			t.Errorf("%s %s on the timeline: got %q, want %q", tt.resource, tt.action, got, tt.want)
		}
	}
}
