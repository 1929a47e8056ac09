package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

func testOrdersByDateRangeAndEachExportRow(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 23, 30, 0, 0, time.UTC)
	db.Now = func() time.Time { return at }
	var ids []int64
	for i := 0; i < 4; i++ { // 1 Feb 23:30, 2 Feb 11:30, 2 Feb 23:30, 3 Feb 11:30
		ids = append(ids, MustOrder(t, db).ID)
		at = at.Add(12 * time.Hour)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	f := checkout.OrderFilter{From: day("2026-02-02"), To: day("2026-02-03")}
	page, _, err := db.ListOrders(ctx, f)
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("2 Feb: got %d orders (%v), want orders %d and %d", len(page), err, ids[2], ids[1])
	}
	var each []int64
	f.Search = "coffee" // and case-insensitive search, as the list does
	if err := db.EachExportRow(ctx, f, func(r checkout.ExportRow) error { each = append(each, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(each) != fmt.Sprint([]int64{ids[2], ids[1]}) {
		t.Fatalf("EachExportRow: got %v, want the same orders as the list", each)
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := db.EachExportRow(ctx, checkout.OrderFilter{}, func(checkout.ExportRow) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("EachExportRow stops at fn's error: got %v after %d", err, n)
	}
}

func testWebhookLogPagesNewestFirst(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	for i := 0; i < 5; i++ {
		if _, err := db.InsertWebhook(ctx, checkout.InboxWebhook{ID: fmt.Sprintf("wh-%d", i), ResourceType: banq.ResourcePayment,
			Action: banq.ActionCreated, ResourceID: "pay", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := db.Webhook(ctx, "wh-3")
	w.Status, w.OrderID = checkout.WebhookApplied, o.ID
	if err := db.FinishWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	page, more, err := db.ListWebhooks(ctx, checkout.WebhookFilter{Limit: 2})
	if err != nil || len(page) != 2 || !more || page[0].ID != "wh-4" || page[1].ID != "wh-3" {
		t.Fatalf("first page: got %+v, more %v, %v", page, more, err)
	}
	page, more, _ = db.ListWebhooks(ctx, checkout.WebhookFilter{Limit: 2, Before: page[1].Seq})
	if len(page) != 2 || !more || page[0].ID != "wh-2" {
		t.Fatalf("second page: got %+v, more %v", page, more)
	}
	page, _, _ = db.ListWebhooks(ctx, checkout.WebhookFilter{OrderID: o.ID})
	if len(page) != 1 || page[0].ID != "wh-3" {
		t.Fatalf("by order: got %+v", page)
	}
}

func testRejectedWebhooksAreBounded(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		if err := db.InsertRejectedWebhook(ctx, checkout.RejectedWebhook{Remote: "192.0.2.1", Reason: fmt.Sprint("reason ", i),
			Body: make([]byte, checkout.MaxRejectedBody+10)}, 5); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.RejectedWebhooks(ctx, 100)
	if err != nil || len(got) != 5 || got[0].Reason != "reason 11" || got[4].Reason != "reason 7" {
		t.Fatalf("got %d (%v), want the newest 5, newest first", len(got), err)
	}
	if len(got[0].Body) != checkout.MaxRejectedBody || got[0].Remote != "192.0.2.1" {
		t.Fatalf("body %d bytes from %q, want cut to %d", len(got[0].Body), got[0].Remote, checkout.MaxRejectedBody)
	}
}

func testWebhookSilence(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return at }
	waiting := func() checkout.Order {
		o := MustOrder(t, db)
		if _, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
			o.State = checkout.StateWaiting
			return checkout.Change{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		return o
	}
	first := waiting()
	last, open2, oldest, err := db.WebhookSilence(ctx)
	if err != nil || !last.IsZero() || open2 != 1 || !oldest.Equal(first.CreatedAt) {
		t.Fatalf("no webhook yet: got %v %d %v %v", last, open2, oldest, err)
	}
	at = at.Add(time.Minute)
	if _, err := db.InsertWebhook(ctx, checkout.InboxWebhook{ID: "wh", ResourceType: banq.ResourcePayment,
		Action: banq.ActionCreated, ResourceID: "p", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	at = at.Add(time.Minute)
	second := waiting()
	last, open2, oldest, _ = db.WebhookSilence(ctx)
	if !last.Equal(second.CreatedAt.Add(-time.Minute)) || open2 != 1 || !oldest.Equal(second.CreatedAt) {
		t.Fatalf("after a webhook: got last %v, %d open since %v; want only the order sent after it", last, open2, oldest)
	}
}

// The export's rows hold what the orders hold, on every dialect: text in any script with the
// characters CSV quotes, empty and missing values (no payment yet, a NULL payment id), times to
// the nanosecond, a late payment and a failure's reason.
func testExportRowsAreTheOrders(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 28, 23, 59, 59, 123456789, time.UTC)
	db.Now = func() time.Time { return at }
	texts := []string{`Cake, "large"`, "Two lines\nof text\r\n", "=SUM(A1:A9)", " padded ", "Crème brûlée ☕",
		"Аня Петрова", "Νίκος", `\.`, "-", "@handle", "\ttab", ""}
	var want []checkout.Order
	for i, text := range texts {
		at = at.Add(time.Duration(i) * 1001 * time.Millisecond)
		o, err := db.CreateOrder(ctx, checkout.Order{
			Token: fmt.Sprintf("export-token-%d", i), IdempotencyKey: fmt.Sprintf("export-key-%d", i),
			Amount: banq.Money(i*1001 + 5), Description: text, CustomerBanq: "banq-" + text,
			CustomerName: texts[len(texts)-1-i], State: checkout.StateWaiting, ExpiresAt: at.Add(15 * time.Minute),
		}, checkout.Event{Kind: checkout.EventCreated, Message: "created"})
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 1: // paid, late
			o = mustUpdate(t, db, o.ID, func(o *checkout.Order) {
				o.State, o.PaymentID, o.TransactionID, o.PaidAt, o.Late = checkout.StatePaid, "pay-"+text, "tx-"+text, at.Add(time.Minute), true
			})
		case 2: // failed, with Banq's reason
			o = mustUpdate(t, db, o.ID, func(o *checkout.Order) {
				o.State, o.PaymentID, o.FailReason = checkout.StateFailed, fmt.Sprintf("pay-failed-%d", i), banq.FailLimitsExceeded
			})
		}
		want = append(want, o)
	}
	var got []checkout.ExportRow
	if err := db.EachExportRow(ctx, checkout.OrderFilter{}, func(r checkout.ExportRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i, r := range got {
		o, err := db.Order(ctx, want[len(want)-1-i].ID) // newest first
		if err != nil {
			t.Fatal(err)
		}
		w := checkout.ExportRow{ID: o.ID, CreatedAt: o.CreatedAt, State: o.State, Late: o.Late, Amount: o.Amount,
			Description: o.Description, CustomerName: o.CustomerName, CustomerBanq: o.CustomerBanq, PaymentID: o.PaymentID,
			TransactionID: o.TransactionID, PaidAt: o.PaidAt, ExpiresAt: o.ExpiresAt, FailReason: o.FailReason}
		if r != w || !r.CreatedAt.Equal(want[len(want)-1-i].CreatedAt) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, r, w)
		}
	}
}

func mustUpdate(tb testing.TB, db *store.DB, id int64, change func(*checkout.Order)) checkout.Order {
	tb.Helper()
	up, err := db.UpdateOrder(context.Background(), id, func(o *checkout.Order) (checkout.Change, error) {
		change(o)
		return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "changed"}}}, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return up.Order
}
