package checkout_test

import (
	"context"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/checkout"
)

// TestOrdersWaitUntilConnected: the service is the one owner of the merchant's banq. Before
// Connect an order is saved and waits, saying why; Connect learns the banq and its name, and the
// order is then sent to it.
func TestOrdersWaitUntilConnected(t *testing.T) {
	f := newFixture(t, nil)
	svc := checkout.New(f.cfg, f.db, f.banq, f.pub)
	ctx := context.Background()
	if m := svc.Merchant(); m != (checkout.Merchant{}) {
		t.Fatalf("merchant before Connect: got %+v, want none", m)
	}
	if err := svc.NotConnected(); err == nil {
		t.Fatal("NotConnected before Connect: got nil, want a reason")
	}
	o, err := svc.CreateOrder(ctx, checkout.NewOrder{Amount: 1250, Description: "Coffee", CustomerBanq: "payer", CustomerName: "Ada"})
	if checkout.ErrorCode(err) != checkout.EUnavailable || !strings.Contains(checkout.ErrorMessage(err), "not connected") || o.State != checkout.StateCreating {
		t.Fatalf("create before Connect: got %s, %v; want a saved order and EUnavailable saying it is not connected", o.State, err)
	}
	if err := svc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if m := svc.Merchant(); m.Banq != "merchant" || m.Name != "Demo Shop" || svc.NotConnected() != nil {
		t.Fatalf("after Connect: got %+v, %v; want the merchant's banq and name", m, svc.NotConnected())
	}
	if o, err = svc.RetryCreate(ctx, o.ID); err != nil || o.State != checkout.StateWaiting {
		t.Fatalf("retry after Connect: got %s, %v; want waiting", o.State, err)
	}
	if p := f.banq.payments[o.PaymentID]; p.Destination.BanqGUID != "merchant" {
		t.Fatalf("payment destination: got %q, want the merchant's banq", p.Destination.BanqGUID)
	}
}
