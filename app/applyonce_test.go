package app_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// On SQLite too, a webhook's apply and the record of its outcome are one transaction: when
// recording fails, as when the process dies between the two, the apply is undone with it, and
// the webhook, tried again, is on the timeline once. (TestTwoInstancesApplyAndRecordAWebhookTogether
// is the same on PostgreSQL with two instances.)
func TestApplyAndRecordAWebhookTogether(t *testing.T) {
	a := apptest.Start(t, apptest.Options{ReconcileAfter: time.Hour, Faults: &sandbox.Faults{DropWebhooks: 1}})
	m := a.SignIn(t)
	o := declined(t, a, m, a.PayerBanqs(t)[0].GUID)
	admin, err := sql.Open("sqlite3", "file:"+filepath.Join(a.Dir, "checkout.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE TRIGGER refuse_applied BEFORE UPDATE ON webhooks
		WHEN NEW.status = 'applied' BEGIN SELECT RAISE(ABORT, 'the process died before recording the outcome'); END`); err != nil {
		t.Fatal(err)
	}
	if code := a.PostWebhook(t, webhookFor("wh-crash", o)); code != 200 {
		t.Fatalf("webhook: got %d, want 200", code)
	}
	applies := func() int {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM order_events WHERE webhook_id = 'wh-crash' AND kind = ?`,
			checkout.EventWebhook).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var attempts int
		admin.QueryRow(`SELECT attempts FROM webhooks WHERE id = 'wh-crash'`).Scan(&attempts)
		if attempts > 0 || applies() > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt at the webhook within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := admin.Exec(`DROP TRIGGER refuse_applied`); err != nil {
		t.Fatal(err)
	}
	for {
		w, err := a.DB.Webhook(t.Context(), "wh-crash")
		if err == nil && w.Status != checkout.WebhookPending {
			if w.Status != checkout.WebhookApplied {
				t.Fatalf("webhook: got %s (%s), want applied", w.Status, w.Error)
			}
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("webhook still pending: %+v, %v", w, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := applies(); n != 1 {
		t.Fatalf("the webhook is on the timeline %d times, want 1", n)
	}
}
