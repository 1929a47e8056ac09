package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

func testOrdersByDateRangeAndEachOrder(t *testing.T, open Opener) {
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
	if err := db.EachOrder(ctx, f, func(o checkout.Order) error { each = append(each, o.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(each) != fmt.Sprint([]int64{ids[2], ids[1]}) {
		t.Fatalf("EachOrder: got %v, want the same orders as the list", each)
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := db.EachOrder(ctx, checkout.OrderFilter{}, func(checkout.Order) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("EachOrder stops at fn's error: got %v after %d", err, n)
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
