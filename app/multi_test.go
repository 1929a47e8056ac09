package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store/pgtest"
)

// pair starts two instances of the checkout over one fresh PostgreSQL database, A with the
// sandbox and B using it. The sandbox's own webhooks are dropped and the reconciler waits an
// hour, so that the webhooks the tests POST are what moves orders.
func pair(t *testing.T) (a, b *apptest.App, admin *sql.DB) {
	t.Helper()
	dsn := pgtest.DSN(t)
	a = apptest.Start(t, apptest.Options{DB: pgtest.WithAppName(dsn, "inst-a"), ReconcileAfter: time.Hour,
		Faults: &sandbox.Faults{DropWebhooks: 1}})
	b = apptest.Start(t, apptest.Options{DB: pgtest.WithAppName(dsn, "inst-b"), Peer: a, ReconcileAfter: time.Hour})
	return a, b, pgtest.Admin(t, dsn)
}

// declined creates an order on A and has the payer decline it in the sandbox (no webhook sent).
func declined(t *testing.T, a *apptest.App, m *apptest.Merchant, payer string) checkout.Order {
	t.Helper()
	o := m.MustCreateOrder(t, "4.20", "Scone", payer)
	if o.PaymentID == "" {
		t.Fatalf("order %d has no payment id", o.ID)
	}
	a.Act(t, o.PaymentID, "decline", "")
	return o
}

func webhookFor(id string, o checkout.Order) banq.Webhook {
	return banq.Webhook{ID: id, ResourceType: banq.ResourcePayment, Action: banq.ActionDeclined,
		ResourceID: o.PaymentID, CreatedAtUTC: time.Now().UTC()}
}

// stateChanges counts the order's timeline entries that moved it to state.
func stateChanges(t *testing.T, admin *sql.DB, orderID int64, state checkout.State) int {
	t.Helper()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = $2 AND state = $3`,
		orderID, checkout.EventState, string(state)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitInboxDone(t *testing.T, admin *sql.DB, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var pending, total int
		admin.QueryRow(`SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM webhooks WHERE id = ANY($1)`, ids).Scan(&pending, &total)
		if pending == 0 && total == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox: %d of %d webhooks stored, %d still pending after %v", total, len(ids), pending, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func payState(t *testing.T, ev sse.Event) string {
	t.Helper()
	s, _ := apptest.Attr(ev.Data, "pay-state", "data-state")
	return s
}

// A customer on instance A sees, within 2s, the change a webhook received by instance B made;
// a merchant page reconnecting to B with Last-Event-ID gets exactly the events it missed.
func TestTwoInstancesLiveUpdates(t *testing.T) {
	a, b, _ := pair(t)
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	o := m.MustCreateOrder(t, "4.20", "Scone", payer)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pay, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pay.Close()
	if s := payState(t, next(t, pay, "state", 2*time.Second)); s != "waiting" {
		t.Fatalf("first state on A: got %q, want waiting", s)
	}
	first, err := a.DB.Events(ctx, o.ID, 0)
	if err != nil || len(first) == 0 {
		t.Fatalf("events: %v, %v", first, err)
	}
	seen := first[len(first)-1].Seq // what an open merchant page has shown

	a.Act(t, o.PaymentID, "decline", "")
	if code := b.PostWebhook(t, webhookFor("wh-live", o)); code != 200 {
		t.Fatalf("webhook to B: got %d, want 200", code)
	}
	if s := payState(t, next(t, pay, "state", 2*time.Second)); s != "declined" {
		t.Fatalf("state on A after B's webhook: got %q, want declined", s)
	}

	// The merchant's page comes back, to the other instance, with the last id it saw.
	mb := b.SignIn(t)
	st, err := sse.Open(ctx, mb.Client, b.URL+"/orders/"+strconv.FormatInt(o.ID, 10)+"/events", strconv.FormatInt(seen, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	missed, err := a.DB.Events(ctx, o.ID, seen)
	if err != nil || len(missed) < 2 {
		t.Fatalf("events after %d: got %d (%v), want the webhook and the state change", seen, len(missed), err)
	}
	for _, want := range missed {
		ev := next(t, st, "timeline", 2*time.Second)
		if ev.ID != strconv.FormatInt(want.Seq, 10) {
			t.Fatalf("timeline event id: got %s, want %d (missed %d events)", ev.ID, want.Seq, len(missed))
		}
	}
	next(t, st, "state", 2*time.Second)
}

// The same webhook at both instances at once: one inbox row, one state change. 50 webhook ids
// each POSTed 4 times, at once, alternately to A and B: 50 rows, 50 state changes.
func TestTwoInstancesDeduplicateWebhooks(t *testing.T) {
	a, b, admin := pair(t)
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID

	o := declined(t, a, m, payer)
	var wg sync.WaitGroup
	for _, inst := range []*apptest.App{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := inst.PostWebhook(t, webhookFor("wh-both", o)); code != 200 {
				t.Errorf("webhook: got %d, want 200", code)
			}
		}()
	}
	wg.Wait()
	waitInboxDone(t, admin, []string{"wh-both"}, 5*time.Second)
	if n := stateChanges(t, admin, o.ID, checkout.StateDeclined); n != 1 {
		t.Fatalf("same webhook at A and B: got %d state changes, want 1", n)
	}
	if w, err := a.DB.Webhook(context.Background(), "wh-both"); err != nil || w.Duplicates != 1 || w.Status != checkout.WebhookApplied {
		t.Fatalf("inbox row: got %+v, %v; want applied with 1 duplicate", w, err)
	}

	const orders, copies = 50, 4
	var list []checkout.Order
	var ids []string
	for i := 0; i < orders; i++ {
		list = append(list, declined(t, a, m, payer))
		ids = append(ids, fmt.Sprintf("wh-many-%02d", i))
	}
	start := make(chan struct{})
	for i, o := range list {
		for c := 0; c < copies; c++ {
			inst := a
			if c%2 == 1 {
				inst = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if code := inst.PostWebhook(t, webhookFor(ids[i], o)); code != 200 {
					t.Errorf("webhook %s: got %d, want 200", ids[i], code)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	waitInboxDone(t, admin, ids, 20*time.Second)
	var rows, dups int
	if err := admin.QueryRow(`SELECT count(*), COALESCE(sum(duplicates), 0) FROM webhooks WHERE id = ANY($1)`, ids).Scan(&rows, &dups); err != nil {
		t.Fatal(err)
	}
	if rows != orders || dups != orders*(copies-1) {
		t.Fatalf("inbox: got %d rows with %d duplicates, want %d rows with %d", rows, dups, orders, orders*(copies-1))
	}
	changes := 0
	for _, o := range list {
		n := stateChanges(t, admin, o.ID, checkout.StateDeclined)
		if n != 1 {
			t.Errorf("order %d: got %d state changes, want 1", o.ID, n)
		}
		changes += n
	}
	if changes != orders {
		t.Fatalf("got %d state changes, want %d", changes, orders)
	}
}

// A's listening connection is cut just as B receives a webhook: A's customer still gets it.
func TestListenerCutLosesNothing(t *testing.T) {
	a, b, admin := pair(t)
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	o := m.MustCreateOrder(t, "4.20", "Scone", payer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pay, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pay.Close()
	next(t, pay, "state", 2*time.Second)
	a.Act(t, o.PaymentID, "decline", "")

	var cut int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'inst-a-listen'`).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("terminate A's listener: cut %d (%v), want 1", cut, err)
	}
	if code := b.PostWebhook(t, webhookFor("wh-cut", o)); code != 200 {
		t.Fatalf("webhook to B: got %d, want 200", code)
	}
	if s := payState(t, next(t, pay, "state", 3*time.Second)); s != "declined" {
		t.Fatalf("state on A after its listener was cut: got %q, want declined", s)
	}
}

// Instance A is killed while it processes a webhook: B finishes it, and the order records
// exactly one state change. "Killed" in-process: all of A's PostgreSQL connections are
// terminated by the server (as when its process dies) and its pool is closed, so that nothing
// A still runs can write again.
func TestInstanceKilledMidProcessing(t *testing.T) {
	dsn := pgtest.DSN(t)
	admin := pgtest.Admin(t, dsn)
	// A short lease, so that B takes the webhook over soon after A stops renewing its claim.
	shortLease := func(c *app.Config) { c.WebhookLease = time.Second }
	a := apptest.Start(t, apptest.Options{DB: pgtest.WithAppName(dsn, "inst-a"), ReconcileAfter: time.Hour,
		Faults: &sandbox.Faults{DropWebhooks: 1}, Config: shortLease})
	m := a.SignIn(t)
	o := declined(t, a, m, a.PayerBanqs(t)[0].GUID)

	// Slow Banq: A's fetch of the payment takes a while after it claimed the webhook.
	a.Sandbox.SetFaults(sandbox.Faults{DropWebhooks: 1, APILatency: 1500 * time.Millisecond})
	if code := a.PostWebhook(t, webhookFor("wh-kill", o)); code != 200 {
		t.Fatalf("webhook to A: got %d, want 200", code)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !claimed(t, admin, "wh-kill") {
		if time.Now().After(deadline) {
			t.Fatal("A did not claim the webhook within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var cut int
	admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'inst-a%'`).Scan(&cut)
	a.DB.Close()
	if cut == 0 {
		t.Fatal("no connection of A to terminate")
	}
	a.Sandbox.SetFaults(sandbox.Faults{DropWebhooks: 1})

	b := apptest.Start(t, apptest.Options{DB: pgtest.WithAppName(dsn, "inst-b"), Peer: a, ReconcileAfter: time.Hour, Config: shortLease})
	waitInboxDone(t, admin, []string{"wh-kill"}, 10*time.Second)
	var status string
	admin.QueryRow(`SELECT status FROM webhooks WHERE id = 'wh-kill'`).Scan(&status)
	if status != checkout.WebhookApplied {
		t.Fatalf("webhook after A died: got %s, want applied", status)
	}
	if got, err := b.DB.Order(context.Background(), o.ID); err != nil || got.State != checkout.StateDeclined {
		t.Fatalf("order after A died: got %s (%v), want declined", got.State, err)
	}
	time.Sleep(2 * time.Second) // A's fetch ends meanwhile; it must not write
	if n := stateChanges(t, admin, o.ID, checkout.StateDeclined); n != 1 {
		t.Fatalf("got %d state changes, want 1", n)
	}
}

// claimed reports whether some instance holds the webhook's claim (it is pending and leased).
func claimed(t *testing.T, admin *sql.DB, id string) bool {
	t.Helper()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM webhooks WHERE id = $1 AND status = 'pending' AND lease_id <> ''`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Failed sign-ins are counted where every instance sees them: after five at instance A, the
// account is locked at that address on instance B too.
func TestTwoInstancesShareSignInFailures(t *testing.T) {
	a, b, _ := pair(t)
	signIn := func(inst *apptest.App, password string) int {
		m := inst.NewMerchant()
		return m.PostForm(t, "/login", "/login", url.Values{"email": {app.DemoEmail}, "password": {password}}).Status
	}
	for i := 0; i < 5; i++ {
		if got := signIn(a, "guess-"+strconv.Itoa(i)); got != http.StatusUnauthorized {
			t.Fatalf("failure %d at A: got %d, want 401", i+1, got)
		}
	}
	if got := signIn(b, a.DemoPassword(t)); got != http.StatusTooManyRequests {
		t.Fatalf("at B after 5 failures at A: got %d, want 429 (the account is locked at this address)", got)
	}
}

// Duplicates of a webhook that an instance is processing, with Banq slow to answer, are
// answered at once at either instance: the claim is a committed lease, and no transaction or
// row lock is held while Banq is asked.
func TestTwoInstancesAnswerDuplicatesOfAWebhookInProcess(t *testing.T) {
	a, b, admin := pair(t)
	m := a.SignIn(t)
	o := declined(t, a, m, a.PayerBanqs(t)[0].GUID)
	a.Sandbox.SetFaults(sandbox.Faults{DropWebhooks: 1, APILatency: 2 * time.Second})
	defer a.Sandbox.SetFaults(sandbox.Faults{DropWebhooks: 1})
	if code := a.PostWebhook(t, webhookFor("wh-slow", o)); code != 200 {
		t.Fatalf("webhook to A: got %d, want 200", code)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !claimed(t, admin, "wh-slow") {
		if time.Now().After(deadline) {
			t.Fatal("no instance claimed the webhook within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Banq is being asked (for 2s at least): nothing may sit in a transaction meanwhile.
	var open int
	if err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE application_name LIKE 'inst-%' AND state LIKE 'idle in transaction%'`).Scan(&open); err != nil || open != 0 {
		t.Fatalf("transactions held open while Banq is asked: %d (%v), want 0", open, err)
	}
	const dups = 10
	var wg sync.WaitGroup
	for i := range dups {
		inst := []*apptest.App{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			code := inst.PostWebhook(t, webhookFor("wh-slow", o))
			if took := time.Since(start); code != 200 || took > time.Second {
				t.Errorf("duplicate %d: got %d after %v, want 200 at once (under 1s; Banq takes 2s per call)", i, code, took)
			}
		}()
	}
	wg.Wait()
	waitInboxDone(t, admin, []string{"wh-slow"}, 15*time.Second)
	if w, err := a.DB.Webhook(context.Background(), "wh-slow"); err != nil || w.Duplicates != dups || w.Status != checkout.WebhookApplied {
		t.Fatalf("inbox row: got status %s with %d duplicates (%v); want applied with %d", w.Status, w.Duplicates, err, dups)
	}
	if n := stateChanges(t, admin, o.ID, checkout.StateDeclined); n != 1 {
		t.Fatalf("got %d state changes, want 1", n)
	}
}

// A webhook's apply and the record of its outcome are one transaction: when recording fails
// (as when the instance dies between the two), the apply is undone too, and the webhook, tried
// again, is applied once. The failure is a trigger refusing to mark the webhook applied.
func TestTwoInstancesApplyAndRecordAWebhookTogether(t *testing.T) {
	a, b, admin := pair(t)
	m := a.SignIn(t)
	o := declined(t, a, m, a.PayerBanqs(t)[0].GUID)
	if _, err := admin.Exec(`CREATE FUNCTION refuse_applied() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'the instance died before recording the outcome'; END $$;
		CREATE TRIGGER refuse_applied BEFORE UPDATE ON webhooks FOR EACH ROW
		WHEN (NEW.status = 'applied') EXECUTE FUNCTION refuse_applied()`); err != nil {
		t.Fatal(err)
	}
	if code := b.PostWebhook(t, webhookFor("wh-crash", o)); code != 200 {
		t.Fatalf("webhook to B: got %d, want 200", code)
	}
	applies := func() int {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM order_events WHERE webhook_id = 'wh-crash' AND kind = $1`,
			checkout.EventWebhook).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Wait for a first attempt to be over: recorded as failed (pending again), or, when apply
	// and record are apart, applied more than once.
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
	if _, err := admin.Exec(`DROP TRIGGER refuse_applied ON webhooks`); err != nil {
		t.Fatal(err)
	}
	waitInboxDone(t, admin, []string{"wh-crash"}, 15*time.Second)
	if n := applies(); n != 1 {
		t.Fatalf("the webhook is on the timeline %d times, want 1", n)
	}
	if n := stateChanges(t, admin, o.ID, checkout.StateDeclined); n != 1 {
		t.Fatalf("got %d state changes, want 1", n)
	}
}
