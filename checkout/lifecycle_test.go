package checkout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

func TestOrderExpiresOnTimeThenLatePaymentIsKeptAndFlagged(t *testing.T) {
	f := newFixture(t, nil)
	o := f.create(t, 0) // the configured default, 30 minutes
	if want := t0.Add(30 * time.Minute); !o.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", o.ExpiresAt, want)
	}
	// The reconciler wakes the order at its expiry at the latest.
	if o.NextCheckAt.After(o.ExpiresAt) {
		t.Fatalf("next check %v is after the expiry %v", o.NextCheckAt, o.ExpiresAt)
	}
	f.reconcileAt(t, o.ExpiresAt.Add(-time.Second))
	if got := f.order(t, o.ID); got.State != checkout.StateWaiting {
		t.Fatalf("a second before expiry: got %s, want waiting", got.State)
	}
	got := f.order(t, o.ID)
	if got.NextCheckAt.After(o.ExpiresAt) {
		t.Fatalf("after a check, the next one %v is after the expiry %v", got.NextCheckAt, o.ExpiresAt)
	}

	f.reconcileAt(t, o.ExpiresAt)
	got = f.order(t, o.ID)
	if got.State != checkout.StateExpired || got.Late {
		t.Fatalf("at expiry: got %s late=%v, want expired, not late", got.State, got.Late)
	}
	up, ok := f.pub.last(o.ID)
	if !ok || up.Order.State != checkout.StateExpired || len(up.Events) == 0 {
		t.Fatalf("expiry was not published: %+v", up)
	}
	if msg := up.Events[len(up.Events)-1].Message; !strings.Contains(msg, "Expired") || !strings.Contains(msg, "flagged late") {
		t.Fatalf("expiry message %q does not say what happened and what a late payment becomes", msg)
	}
	// Banq cannot withdraw the request, so the reconciler keeps an eye on it.
	if got.NextCheckAt.IsZero() {
		t.Fatal("an expired order whose Banq payment is still open is no longer checked")
	}

	// While Banq's request stays open, the reconciler keeps asking, backing off.
	watched := got.NextCheckAt
	f.reconcileAt(t, watched)
	got = f.order(t, o.ID)
	if got.State != checkout.StateExpired || !got.NextCheckAt.After(watched.Add(f.cfg.ReconcileAfter)) {
		t.Fatalf("still pending at Banq: got %s, next check %v; want expired, checked again after more than %v",
			got.State, got.NextCheckAt, f.cfg.ReconcileAfter)
	}

	// The payer approves anyway; the webhook is lost; the reconciler finds the money.
	f.banq.pay(o.PaymentID)
	f.reconcileAt(t, got.NextCheckAt)
	got = f.order(t, o.ID)
	if got.State != checkout.StatePaid || !got.Late {
		t.Fatalf("paid after expiry: got %s late=%v, want paid and late", got.State, got.Late)
	}
	if got.TransactionID == "" || got.PaidAt.IsZero() || !got.NextCheckAt.IsZero() {
		t.Fatalf("late payment lacks its receipt data or is still checked: %+v", got)
	}
	events, _ := f.db.Events(context.Background(), o.ID, 0)
	last := events[len(events)-1]
	if last.State != checkout.StatePaid || !strings.Contains(last.Message, "Paid after the order was expired") {
		t.Fatalf("last timeline entry %+v does not flag the late payment", last)
	}
}

func TestExpiryAsksBanqFirst(t *testing.T) {
	f := newFixture(t, nil)
	o := f.create(t, 10*time.Minute)
	f.banq.pay(o.PaymentID) // approved a moment before expiry; its webhook not yet here
	f.reconcileAt(t, o.ExpiresAt)
	got := f.order(t, o.ID)
	if got.State != checkout.StatePaid || got.Late {
		t.Fatalf("got %s late=%v, want paid on time", got.State, got.Late)
	}
}

func TestExpiryWhileBanqIsDownStillExpires(t *testing.T) {
	f := newFixture(t, nil)
	o := f.create(t, 10*time.Minute)
	f.banq.down = true
	f.reconcileAt(t, o.ExpiresAt)
	if got := f.order(t, o.ID); got.State != checkout.StateExpired {
		t.Fatalf("got %s, want expired even though Banq did not answer", got.State)
	}
}

func TestAcceptedOrderDoesNotExpire(t *testing.T) {
	f := newFixture(t, nil)
	o := f.create(t, 10*time.Minute)
	f.banq.setStatus(o.PaymentID, banq.PaymentAccepted)
	f.reconcileAt(t, o.ExpiresAt)
	if got := f.order(t, o.ID); got.State != checkout.StateAccepted {
		t.Fatalf("got %s, want accepted: the payer approved in time", got.State)
	}
}

func TestCancelThenPaymentCompletesAnyway(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := f.create(t, 0)
	got, err := f.svc.CancelOrder(ctx, o.ID, "clerk@shop.test")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != checkout.StateCanceled {
		t.Fatalf("got %s, want canceled", got.State)
	}
	up, ok := f.pub.last(o.ID)
	if !ok || up.Order.State != checkout.StateCanceled || !strings.Contains(up.Events[0].Message, "clerk@shop.test") {
		t.Fatalf("cancel was not published with who did it: %+v", up)
	}
	if _, err := f.svc.CancelOrder(ctx, o.ID, ""); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("canceling twice: got %v, want EConflict", err)
	}
	// The payer approves in the Banq app all the same; this time the webhook arrives.
	f.banq.pay(o.PaymentID)
	f.clock.Add(time.Minute)
	if _, err := f.svc.Receive(ctx, banq.Webhook{ID: "wh-1", ResourceType: banq.ResourcePayment,
		Action: banq.ActionCompleted, ResourceID: o.PaymentID}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	pending, _ := f.db.PendingWebhooks(ctx, f.clock.Now(), 10)
	if len(pending) != 1 {
		t.Fatalf("got %d pending webhooks, want 1", len(pending))
	}
	w, err := f.svc.Process(ctx, pending[0])
	if err != nil || w.Status != checkout.WebhookApplied {
		t.Fatalf("process: %+v, %v", w, err)
	}
	got = f.order(t, o.ID)
	if got.State != checkout.StatePaid || !got.Late {
		t.Fatalf("paid after cancel: got %s late=%v, want paid and late", got.State, got.Late)
	}
}

func TestCannotCancelAcceptedOrder(t *testing.T) {
	f := newFixture(t, nil)
	o := f.create(t, 0)
	f.banq.setStatus(o.PaymentID, banq.PaymentAccepted)
	if _, err := f.svc.SyncPayment(context.Background(), o.PaymentID, checkout.Cause{Kind: checkout.EventWebhook}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.CancelOrder(context.Background(), o.ID, "")
	if checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("cancel an accepted order: got %v, want EConflict", err)
	}
	if got := f.order(t, o.ID); got.State != checkout.StateAccepted {
		t.Fatalf("got %s, want accepted unchanged", got.State)
	}
}

func TestReprocessIsIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := f.create(t, 0)
	f.banq.pay(o.PaymentID)
	// A webhook arrives but its processing fails for good (say Banq was down for its retries).
	if _, err := f.svc.Receive(ctx, banq.Webhook{ID: "wh-paid", ResourceType: banq.ResourcePayment,
		Action: banq.ActionCompleted, ResourceID: o.PaymentID}, []byte(`{"id":"wh-paid"}`)); err != nil {
		t.Fatal(err)
	}
	w, _ := f.db.Webhook(ctx, "wh-paid")
	w.Status, w.Error, w.Attempts = checkout.WebhookFailed, "fetch payment: Banq unavailable", 10
	if err := f.db.FinishWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}

	// The merchant reprocesses it: the order is paid, the inbox says applied.
	w, err := f.svc.Reprocess(ctx, "wh-paid")
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != checkout.WebhookApplied || w.OrderID != o.ID || w.Error != "" {
		t.Fatalf("after reprocess: inbox %+v, want applied to order %d", w, o.ID)
	}
	paid := f.order(t, o.ID)
	if paid.State != checkout.StatePaid {
		t.Fatalf("after reprocess: got %s, want paid", paid.State)
	}
	events, _ := f.db.Events(ctx, o.ID, 0)
	if last := events[len(events)-1]; last.WebhookID != "wh-paid" || !strings.Contains(last.Message, "reprocessing") {
		t.Fatalf("the state change %+v does not name the reprocessed webhook", last)
	}

	// Again, twice: nothing changes.
	for i := 0; i < 2; i++ {
		f.clock.Add(time.Minute)
		if _, err := f.svc.Reprocess(ctx, "wh-paid"); err != nil {
			t.Fatal(err)
		}
	}
	again := f.order(t, o.ID)
	after, _ := f.db.Events(ctx, o.ID, 0)
	if again.State != paid.State || again.PaidAt != paid.PaidAt || again.TransactionID != paid.TransactionID ||
		again.Late != paid.Late || len(after) != len(events) {
		t.Fatalf("reprocessing again changed the order: %+v (%d events), was %+v (%d events)", again, len(after), paid, len(events))
	}
	if _, err := f.svc.Reprocess(ctx, "no-such-webhook"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("unknown webhook: got %v, want ENotFound", err)
	}
	// Banq down: the merchant is told, the inbox keeps its record.
	f.banq.down = true
	if _, err := f.svc.Reprocess(ctx, "wh-paid"); checkout.ErrorCode(err) != checkout.EUnavailable {
		t.Fatalf("Banq down: got %v, want EUnavailable", err)
	}
	if w, _ := f.db.Webhook(ctx, "wh-paid"); w.Status != checkout.WebhookApplied {
		t.Fatalf("a failed reprocess changed the inbox to %s", w.Status)
	}
}

func TestWebhookHealthBannerAppearsAndClears(t *testing.T) {
	f := newFixture(t, func(c *checkout.Config) {
		c.WebhookGap = 5 * time.Minute
		c.MissWindow = 30 * time.Minute
		c.MissLimit = 3
	})
	ctx := context.Background()
	health := func() checkout.WebhookHealth {
		t.Helper()
		h, err := f.svc.WebhookHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := health(); h.Broken {
		t.Fatalf("no orders yet: broken (%s)", h.Reason)
	}
	// An order is sent; Banq would announce it with a webhook at once; none comes.
	o := f.create(t, time.Hour)
	f.clock.Add(5*time.Minute - time.Second)
	if h := health(); h.Broken || h.SilentOrders != 1 {
		t.Fatalf("before the gap: got %+v, want not broken with 1 silent order", h)
	}
	f.clock.Add(time.Second)
	h := health()
	if !h.Broken || !strings.Contains(h.Reason, "No webhook from Banq has ever arrived") || !strings.Contains(h.Reason, "1 order was sent") {
		t.Fatalf("after the gap: got %+v, want broken, saying why", h)
	}
	// A webhook arrives: the alert clears.
	f.clock.Add(time.Second)
	if _, err := f.svc.Receive(ctx, banq.Webhook{ID: "wh-created", ResourceType: banq.ResourcePayment,
		Action: banq.ActionCreated, ResourceID: o.PaymentID}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Broken || h.LastWebhookAt.IsZero() {
		t.Fatalf("after a webhook: got %+v, want healthy", h)
	}

	// Now the reconciler keeps finding changes no webhook announced.
	for i := 0; i < 3; i++ {
		o := f.create(t, time.Hour)
		f.clock.Add(time.Second)
		if _, err := f.svc.Receive(ctx, banq.Webhook{ID: "wh-c-" + o.Number(), ResourceType: banq.ResourcePayment,
			Action: banq.ActionCreated, ResourceID: o.PaymentID}, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		f.banq.pay(o.PaymentID)
		f.reconcileAt(t, f.order(t, o.ID).NextCheckAt)
		if got := f.order(t, o.ID); got.State != checkout.StatePaid {
			t.Fatalf("reconciler: got %s, want paid", got.State)
		}
		if h := health(); h.Broken != (i == 2) || h.Unannounced != i+1 {
			t.Fatalf("after %d unannounced changes: got %+v, want broken only from 3", i+1, h)
		}
	}
	if h := health(); !strings.Contains(h.Reason, "3 payment changes that no webhook announced") {
		t.Fatalf("reason %q does not say what the reconciler found", h.Reason)
	}
	// Half an hour without new surprises: the alert clears.
	f.clock.Add(31 * time.Minute)
	if h := health(); h.Broken {
		t.Fatalf("after the window: got %+v, want healthy", h)
	}
}

func TestRejectedWebhooksAreBoundedAndRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for i := 0; i < 130; i++ {
		f.clock.Add(time.Second)
		if err := f.svc.RejectWebhook(ctx, checkout.RejectedWebhook{Reason: "webhook signature invalid",
			Body: []byte(strings.Repeat("x", 5000))}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.db.RejectedWebhooks(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || len(got[0].Body) != checkout.MaxRejectedBody {
		t.Fatalf("got %d kept (body %d bytes), want the newest 100 with bodies cut to %d", len(got), len(got[0].Body), checkout.MaxRejectedBody)
	}
	// A burst within the same instant writes one.
	f.clock.Add(time.Second)
	for i := 0; i < 50; i++ {
		f.svc.RejectWebhook(ctx, checkout.RejectedWebhook{Reason: "burst"})
	}
	got, _ = f.db.RejectedWebhooks(ctx, 1000)
	n := 0
	for _, r := range got {
		if r.Reason == "burst" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("a burst of 50 in one instant wrote %d rows, want 1", n)
	}
}

// TestParseNewOrderTimeToPay: the time to pay is parsed with the rest of the order, and its error
// comes with the others.
func TestParseNewOrderTimeToPay(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		invalid bool
	}{
		{"", 30 * time.Minute, false},
		{"15", 15 * time.Minute, false},
		{" 1 ", time.Minute, false},
		{"10080", 7 * 24 * time.Hour, false},
		{"0", 0, true},
		{"10081", 0, true},
		{"-5", 0, true},
		{"1.5", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		n, err := checkout.ParseNewOrder(checkout.OrderForm{Amount: "", Description: "Socks", ByLink: true, ExpiresIn: tt.in}, 30*time.Minute)
		var ce *checkout.Error
		switch {
		case !errors.As(err, &ce) || ce.Fields["amount"] == "":
			t.Errorf("expires %q with no amount: got %v; want an error on amount too", tt.in, err)
		case tt.invalid && ce.Fields["expires"] == "":
			t.Errorf("expires %q: got %v; want an error on field expires", tt.in, err)
		case !tt.invalid && (ce.Fields["expires"] != "" || n.TTL != tt.want):
			t.Errorf("expires %q: got %v, %v; want %v", tt.in, n.TTL, err, tt.want)
		}
	}
}

// An order whose create never reached Banq is not sent after its time to pay ran out: not by
// the reconciler, not by the recovery at start-up.
func TestUnsentOrderExpiresInsteadOfBeingSentLate(t *testing.T) {
	for _, via := range []string{"reconcile", "recover"} {
		t.Run(via, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			f.banq.down = true
			o, err := f.svc.CreateOrder(ctx, checkout.NewOrder{Amount: 100, Description: "x", CustomerBanq: "payer", CustomerName: "P", TTL: 5 * time.Minute})
			if checkout.ErrorCode(err) != checkout.EUnavailable || o.State != checkout.StateCreating {
				t.Fatalf("create with Banq down: got %s, %v", o.State, err)
			}
			f.banq.down = false
			f.clock.Set(o.ExpiresAt)
			if via == "reconcile" {
				_, err = f.svc.Reconcile(ctx)
			} else {
				_, err = f.svc.Recover(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.order(t, o.ID); got.State != checkout.StateExpired || !got.NextCheckAt.IsZero() {
				t.Fatalf("got %s (next check %v), want expired and no longer checked", got.State, got.NextCheckAt)
			}
			if n := len(f.banq.payments); n != 0 {
				t.Fatalf("Banq got %d payment requests after the order expired, want 0", n)
			}
		})
	}
}

// The watch over an order that ended here stops a day after its expiry (Config.LateWatch), or
// as soon as Banq ends the payment itself.
func TestLateWatchEnds(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := f.create(t, 10*time.Minute)
	f.reconcileAt(t, o.ExpiresAt)
	for i := 0; i < 500; i++ {
		got := f.order(t, o.ID)
		if got.NextCheckAt.IsZero() {
			if end := o.ExpiresAt.Add(24 * time.Hour); f.clock.Now().Before(end.Add(-10 * time.Minute)) {
				t.Fatalf("the watch ended at %v, before a day after the expiry (%v)", f.clock.Now(), end)
			}
			break
		}
		if got.NextCheckAt.After(o.ExpiresAt.Add(24 * time.Hour)) {
			t.Fatalf("next check %v is beyond a day after the expiry", got.NextCheckAt)
		}
		f.reconcileAt(t, got.NextCheckAt)
	}
	if got := f.order(t, o.ID); !got.NextCheckAt.IsZero() || got.State != checkout.StateExpired {
		t.Fatalf("after a day: got %s, next check %v; want expired, no longer checked", got.State, got.NextCheckAt)
	}

	// Banq expires its request itself: nothing left to watch.
	o = f.create(t, 10*time.Minute)
	if _, err := f.svc.CancelOrder(ctx, o.ID, ""); err != nil {
		t.Fatal(err)
	}
	f.banq.setStatus(o.PaymentID, banq.PaymentExpired)
	f.reconcileAt(t, f.order(t, o.ID).NextCheckAt)
	if got := f.order(t, o.ID); !got.NextCheckAt.IsZero() || got.State != checkout.StateCanceled {
		t.Fatalf("Banq expired it: got %s, next check %v; want canceled, no longer checked", got.State, got.NextCheckAt)
	}
}

// TestLinkOrderIsSentAsLinkAlsoWhenRetried: an order with no customer goes to Banq's
// get-paid-link, first time or after Banq was away, and keeps the link Banq made.
func TestLinkOrderIsSentAsLinkAlsoWhenRetried(t *testing.T) {
	f := newFixture(t, nil)
	n, err := checkout.ParseNewOrder(checkout.OrderForm{Amount: "8.00", Description: "Socks", ByLink: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.banq.down = true
	o, err := f.svc.CreateOrder(context.Background(), n)
	if checkout.ErrorCode(err) != checkout.EUnavailable || o.State != checkout.StateCreating || !o.ByLink() {
		t.Fatalf("with Banq away: got %s (%v), want a creating link order", o.State, err)
	}
	f.banq.down = false
	o, err = f.svc.RetryCreate(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	o = f.order(t, o.ID)
	p := f.banq.payments[o.PaymentID]
	if o.State != checkout.StateWaiting || o.PaymentLink != "https://banq.test/pay/"+o.PaymentID || p.Source != nil {
		t.Fatalf("got state %s, link %q, Banq's source %v; want waiting with Banq's link and no source", o.State, o.PaymentLink, p.Source)
	}
}
