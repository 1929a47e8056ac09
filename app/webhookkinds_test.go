package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// TestSignedWebhooksOfAnyKindAreKept: a signed, well-formed delivery is stored and answered 2xx
// whatever its type and action say, so that nothing Banq sends is lost. Type and action match
// whatever their case; an action the checkout does not know still means "fetch it again"; a
// type it does not know is logged and ignored.
func TestSignedWebhooksOfAnyKindAreKept(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := start(t, apptest.Options{Log: logs})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.00", "Any kind of webhook", a.PayerBanqs(t)[0].GUID)

	tests := []struct {
		id           string
		resourceType banq.ResourceType
		action       banq.WebhookAction
		resourceID   string
		want         string // the inbox status it ends in
	}{
		{"wh-lower-case", "payment", "accepted", o.PaymentID, checkout.WebhookApplied},
		{"wh-unknown-action", banq.ResourcePayment, "Refunded", o.PaymentID, checkout.WebhookApplied},
		{"wh-unknown-type", "Refund", banq.ActionCreated, "refund-1", checkout.WebhookIgnored},
	}
	for _, tt := range tests {
		status := a.PostWebhook(t, banq.Webhook{ID: tt.id, ResourceType: tt.resourceType, Action: tt.action,
			ResourceID: tt.resourceID, AccountSpaceID: 1, CreatedAtUTC: time.Now().UTC()})
		if status < 200 || status > 299 {
			t.Errorf("%s: got %d, want 2xx", tt.id, status)
		}
	}
	for _, tt := range tests {
		var w checkout.InboxWebhook
		eventually(t, 10*time.Second, func() bool {
			var err error
			w, err = a.DB.Webhook(context.Background(), tt.id)
			return err == nil && w.Status == tt.want
		}, func() string { return tt.id + ": inbox status " + w.Status + " (" + w.Error + "), want " + tt.want })
		if tt.want == checkout.WebhookApplied && w.OrderID != o.ID {
			t.Errorf("%s: applied to order %d, want %d", tt.id, w.OrderID, o.ID)
		}
	}
	eventually(t, 5*time.Second, func() bool {
		for _, l := range parseLogs(t, logs.String()) {
			if l["msg"] == "webhook ignored: unknown resource type" && l["webhook_id"] == "wh-unknown-type" {
				return true
			}
		}
		return false
	}, func() string { return "no log line says the webhook of unknown type was ignored" })
}
