// Package storetest is the store contract: one suite that every dialect of store.DB must pass.
// store's own tests run it on SQLite and, when a server is available, on PostgreSQL.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// Opener opens a fresh, empty, migrated database for one test, closed when the test ends.
type Opener func(tb testing.TB) *store.DB

// Run runs the whole contract suite, each test on its own fresh database.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CreateAndReadOrder", testCreateAndReadOrder},
		{"UpdateOrderWritesEventsAndSnapshots", testUpdateOrderWritesEventsAndSnapshots},
		{"ConcurrentWriters", testConcurrentWriters},
		{"WebhookInboxDeduplicates", testWebhookInboxDeduplicates},
		{"ListOrdersFiltersAndPages", testListOrdersFiltersAndPages},
		{"SearchFoldsCaseInEveryScript", testSearchFoldsCaseInEveryScript},
		{"Sessions", testSessions},
		{"ConcurrentTransitionsOfOneOrder", testConcurrentTransitionsOfOneOrder},
		{"ClaimsAreExclusive", testClaimsAreExclusive},
		{"SettingOrInitRace", testSettingOrInitRace},
		{"EventsAfterSeq", testEventsAfterSeq},
		{"OrdersByDateRangeAndEachExportRow", testOrdersByDateRangeAndEachExportRow},
		{"ExportRowsAreTheOrders", testExportRowsAreTheOrders},
		{"WebhookLogPagesNewestFirst", testWebhookLogPagesNewestFirst},
		{"RejectedWebhooksAreBounded", testRejectedWebhooksAreBounded},
		{"WebhookSilence", testWebhookSilence},
		{"APIKeys", testAPIKeys},
		{"APIOrderFields", testAPIOrderFields},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"Team", testTeam},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var n atomic.Int64

// MustOrder creates a creating order with its first event.
func MustOrder(tb testing.TB, db *store.DB) checkout.Order {
	tb.Helper()
	i := n.Add(1)
	o, err := db.CreateOrder(context.Background(), checkout.Order{
		Token: fmt.Sprintf("token-%d-%d", i, time.Now().UnixNano()), IdempotencyKey: fmt.Sprintf("key-%d-%d", i, time.Now().UnixNano()),
		Amount: 1250, Description: "Coffee", CustomerBanq: "banq-1", CustomerName: "Ada", State: checkout.StateCreating,
	}, checkout.Event{Kind: checkout.EventCreated, State: checkout.StateCreating, Message: "created"})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// noChange is an update that writes nothing.
func noChange(*checkout.Order) (checkout.Change, error) {
	return checkout.Change{}, checkout.ErrNoChange
}

// paymentOrder is the id of the order UpdatePaymentOrder finds for a payment.
func paymentOrder(tb testing.TB, db *store.DB, paymentID, externalOrderCode string) int64 {
	tb.Helper()
	up, err := db.UpdatePaymentOrder(context.Background(), paymentID, externalOrderCode, noChange)
	if err != nil {
		tb.Fatalf("order for payment %s: %v", paymentID, err)
	}
	return up.Order.ID
}

func testCreateAndReadOrder(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	if o.ID == 0 || o.LastSeq == 0 {
		t.Fatalf("got id %d seq %d, want both set", o.ID, o.LastSeq)
	}
	got, err := db.OrderByToken(ctx, o.Token)
	if err != nil || got.ID != o.ID || got.Amount != 1250 || got.State != checkout.StateCreating {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := db.OrderByToken(ctx, "nope"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("got %v, want ENotFound", err)
	}
	// The idempotency key also finds the order before the payment id is known.
	if id := paymentOrder(t, db, "pay-1", o.IdempotencyKey); id != o.ID {
		t.Fatalf("order for the payment: got %d, want %d", id, o.ID)
	}
	// So does its number, the order code of payments sent since.
	if id := paymentOrder(t, db, "pay-1", fmt.Sprint(o.ID)); id != o.ID {
		t.Fatalf("order for the payment by number: got %d, want %d", id, o.ID)
	}
	if _, err := db.UpdatePaymentOrder(ctx, "pay-nope", "key-nope", noChange); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("order for an unknown payment: got %v, want ENotFound", err)
	}
	dup := o
	dup.Token = "other"
	if _, err := db.CreateOrder(ctx, dup, checkout.Event{Kind: "created"}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("duplicate idempotency key: got %v, want EConflict", err)
	}
}

func testUpdateOrderWritesEventsAndSnapshots(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	up, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State, o.PaymentID, o.TransactionID = checkout.StatePaid, "pay-1", "tx-1"
		return checkout.Change{
			Events:       []checkout.Event{{Kind: checkout.EventState, Message: "paid"}},
			Payment:      &banq.Payment{ID: "pay-1", Status: banq.PaymentCompleted, Funds: 1250},
			Transactions: []banq.Transaction{{ID: "tx-1", PaymentID: "pay-1", Status: banq.TransactionCompleted, Funds: 1250}},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Events) != 1 || up.Events[0].Seq <= o.LastSeq || up.Order.LastSeq != up.Events[0].Seq || up.Events[0].State != checkout.StatePaid {
		t.Fatalf("got %+v", up)
	}
	got, _ := db.Order(ctx, o.ID)
	if got.ID != o.ID || got.State != checkout.StatePaid {
		t.Fatalf("got %+v", got)
	}
	if id := paymentOrder(t, db, "pay-1", ""); id != o.ID {
		t.Fatalf("order by payment id: got %d, want %d", id, o.ID)
	}
	txns, err := db.Transactions(ctx, o.ID)
	if err != nil || len(txns) != 1 || txns[0].ID != "tx-1" {
		t.Fatalf("got %+v, %v", txns, err)
	}
	events, _ := db.Events(ctx, o.ID, 0)
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	// ErrNoChange writes nothing.
	up, err = db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StateWaiting
		return checkout.Change{}, checkout.ErrNoChange
	})
	if err != nil || len(up.Events) != 0 {
		t.Fatalf("got %+v, %v", up, err)
	}
	if got, _ := db.Order(ctx, o.ID); got.State != checkout.StatePaid {
		t.Fatalf("ErrNoChange wrote state %s", got.State)
	}
}

// Two and more writers at once: every read-modify-write lands, none fails with "locked".
func testConcurrentWriters(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	other := MustOrder(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := o.ID
				if w%2 == 1 {
					id = other.ID
				}
				_, err := db.UpdateOrder(ctx, id, func(o *checkout.Order) (checkout.Change, error) {
					o.CheckAttempts++
					return checkout.Change{Events: []checkout.Event{{Kind: "test", Message: "tick"}}}, nil
				})
				if err != nil {
					errs <- err
				}
				// Readers run beside the writer.
				if _, err := db.Order(ctx, id); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range []int64{o.ID, other.ID} {
		got, _ := db.Order(ctx, id)
		if got.CheckAttempts != 100 {
			t.Errorf("order %d: got %d increments, want 100", id, got.CheckAttempts)
		}
		events, _ := db.Events(ctx, id, 0)
		if len(events) != 101 {
			t.Errorf("order %d: got %d events, want 101", id, len(events))
		}
	}
}

func testWebhookInboxDeduplicates(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	w := checkout.InboxWebhook{ID: "wh-1", ResourceType: banq.ResourcePayment, Action: banq.ActionCreated, ResourceID: "pay-1", Body: []byte(`{}`)}
	for i, want := range []bool{true, false, false} {
		got, err := db.InsertWebhook(ctx, w)
		if err != nil || got != want {
			t.Fatalf("insert %d: got %v, %v; want %v", i, got, err, want)
		}
	}
	pending, err := db.PendingWebhooks(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(pending) != 1 || pending[0].Duplicates != 2 {
		t.Fatalf("got %+v, %v", pending, err)
	}
	w = pending[0]
	w.Status, w.Attempts, w.ProcessedAt = checkout.WebhookApplied, 1, time.Now()
	if err := db.FinishWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if pending, _ := db.PendingWebhooks(ctx, time.Now().Add(time.Second), 10); len(pending) != 0 {
		t.Fatalf("got %d pending after finishing, want 0", len(pending))
	}
	counts, err := db.WebhookCounts(ctx)
	if err != nil || len(counts) != 1 || counts[checkout.WebhookApplied] != 1 {
		t.Fatalf("WebhookCounts: got %v, %v; want map[applied:1]", counts, err)
	}
}

func testListOrdersFiltersAndPages(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, MustOrder(t, db).ID)
	}
	db.UpdateOrder(ctx, ids[1], func(o *checkout.Order) (checkout.Change, error) {
		o.State = checkout.StatePaid
		return checkout.Change{}, nil
	})
	page, more, err := db.ListOrders(ctx, checkout.OrderFilter{Limit: 2})
	if err != nil || len(page) != 2 || !more || page[0].ID != ids[4] {
		t.Fatalf("got %d orders, more %v, %v", len(page), more, err)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Limit: 2, Before: page[1].ID})
	if len(page) != 2 || page[0].ID != ids[2] {
		t.Fatalf("second page starts at %d, want %d", page[0].ID, ids[2])
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{State: checkout.StatePaid})
	if len(page) != 1 || page[0].ID != ids[1] {
		t.Fatalf("state filter: got %+v", page)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Search: "#" + fmt.Sprint(ids[3])})
	if len(page) != 1 || page[0].ID != ids[3] {
		t.Fatalf("number search: got %d orders", len(page))
	}
	// LIKE wildcards in the search are literal.
	special, err := db.CreateOrder(ctx, checkout.Order{Token: "t-special", IdempotencyKey: "k-special", Amount: 1,
		Description: "x", CustomerBanq: "b", CustomerName: "50%_off", State: checkout.StateWaiting}, checkout.Event{Kind: "created"})
	if err != nil {
		t.Fatal(err)
	}
	page, _, _ = db.ListOrders(ctx, checkout.OrderFilter{Search: "%_"})
	if len(page) != 1 || page[0].ID != special.ID {
		t.Fatalf("literal search: got %d orders", len(page))
	}
}

// The merchant list's search finds a substring of a customer's name or of a description,
// whatever its case, in Cyrillic, Greek and accented Latin as in ASCII; short searches too.
func testSearchFoldsCaseInEveryScript(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	ids := map[string]int64{}
	for _, o := range []struct{ name, description string }{
		{"Аня Петрова", "Чай с лимоном"},
		{"Σίσυφος Παπαδόπουλος", "Ελληνικός καφές"},
		{"Élodie Dupré", "Crème brûlée"},
		{"Ada Lovelace", "Analytical engine"},
		{"Adalbert Payer", "Invoice 4711"},
	} {
		created, err := db.CreateOrder(ctx, checkout.Order{Token: "t-" + o.name, IdempotencyKey: "k-" + o.name, Amount: 1,
			Description: o.description, CustomerBanq: "b", CustomerName: o.name, State: checkout.StateWaiting},
			checkout.Event{Kind: checkout.EventCreated, State: checkout.StateWaiting, Message: "created"})
		if err != nil {
			t.Fatal(err)
		}
		ids[o.name] = created.ID
	}
	for _, tc := range []struct{ search, want string }{
		{"аня", "Аня Петрова"},
		{"АНЯ", "Аня Петрова"},
		{"ПЕТРОВ", "Аня Петрова"},
		{"етро", "Аня Петрова"},
		{"ЛИМОН", "Аня Петрова"},
		{"ан", "Аня Петрова"}, // shorter than a trigram
		{"σίσυφ", "Σίσυφος Παπαδόπουλος"},
		{"ΠΑΠΑΔΌΠ", "Σίσυφος Παπαδόπουλος"},
		{"ΚΑΦΈ", "Σίσυφος Παπαδόπουλος"},
		{"élodie", "Élodie Dupré"},
		{"DUPRÉ", "Élodie Dupré"},
		{"CRÈME BRÛ", "Élodie Dupré"},
		{"É", "Élodie Dupré"},
		{"LOVEL", "Ada Lovelace"},
		{"engine", "Ada Lovelace"},
		{"4711", "Adalbert Payer"}, // a number that is no order's, found in a description
	} {
		page, _, err := db.ListOrders(ctx, checkout.OrderFilter{Search: tc.search})
		if err != nil {
			t.Fatalf("search %q: %v", tc.search, err)
		}
		if len(page) != 1 || page[0].ID != ids[tc.want] {
			var got []string
			for _, o := range page {
				got = append(got, o.CustomerName)
			}
			t.Errorf("search %q: got %q, want [%s]", tc.search, got, tc.want)
		}
	}
	// A search combines with the other filters and pages.
	if page, _, err := db.ListOrders(ctx, checkout.OrderFilter{Search: "аня", State: checkout.StatePaid}); err != nil || len(page) != 0 {
		t.Errorf("search аня among paid orders: got %d, %v; want none", len(page), err)
	}
	if page, _, err := db.ListOrders(ctx, checkout.OrderFilter{Search: "аня", State: checkout.StateWaiting}); err != nil || len(page) != 1 {
		t.Errorf("search аня among waiting orders: got %d, %v; want 1", len(page), err)
	}
	page, more, err := db.ListOrders(ctx, checkout.OrderFilter{Search: "ada", Limit: 1})
	if err != nil || len(page) != 1 || !more {
		t.Fatalf("search ada, one per page: got %d, more %v, %v; want 1 and more", len(page), more, err)
	}
	next, more, err := db.ListOrders(ctx, checkout.OrderFilter{Search: "ada", Limit: 1, Before: page[0].ID})
	if err != nil || len(next) != 1 || more || next[0].ID >= page[0].ID {
		t.Fatalf("search ada, second page: got %d, more %v, %v; want one older order, the last", len(next), more, err)
	}
	// Quotes and the full-text query syntax are searched for, not interpreted.
	for _, s := range []string{`"`, `a"b"c`, `Аня OR Ada`, `Ada*`, `NEAR(Ada)`, `-Ada`} {
		if page, _, err := db.ListOrders(ctx, checkout.OrderFilter{Search: s}); err != nil || len(page) != 0 {
			t.Errorf("search %q: got %d orders, %v; want none", s, len(page), err)
		}
	}
}

func testSessions(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, checkout.User{Email: "A@example.com", PasswordHash: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, checkout.User{Email: "a@example.com", PasswordHash: []byte("y")}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("same email in other case: got %v, want EConflict", err)
	}
	now := time.Now()
	for _, id := range []string{"s1", "s2"} {
		if err := db.CreateSession(ctx, checkout.Session{ID: id, UserID: u.ID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetPassword(ctx, u.ID, []byte("new"), "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, "s2"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("other session after password change: got %v, want ENotFound", err)
	}
	if _, err := db.Session(ctx, "s1"); err != nil {
		t.Fatalf("current session: %v", err)
	}
	db.DeleteSession(ctx, "s1")
	if _, err := db.Session(ctx, "s1"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("after sign-out: got %v, want ENotFound", err)
	}
}

// Many goroutines race to move one order along waiting → accepted → paid, forward only, as
// webhooks processed at once by several workers (or instances) do: each transition is recorded
// exactly once and the order ends paid.
func testConcurrentTransitionsOfOneOrder(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, next := range []checkout.State{checkout.StateWaiting, checkout.StateAccepted, checkout.StatePaid} {
				_, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
					ch := checkout.Change{Events: []checkout.Event{{Kind: checkout.EventWebhook, Message: fmt.Sprintf("worker %d", i)}}}
					if o.State.CanMoveTo(next) {
						o.State = next
						ch.Events = append(ch.Events, checkout.Event{Kind: checkout.EventState, State: next, Message: string(next)})
					}
					return ch, nil
				})
				if err != nil {
					errs <- err
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := db.Order(ctx, o.ID)
	if err != nil || got.State != checkout.StatePaid {
		t.Fatalf("got state %s (%v), want paid", got.State, err)
	}
	events, err := db.Events(ctx, o.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	states := map[checkout.State]int{}
	var last int64
	for _, e := range events {
		if e.Seq <= last {
			t.Fatalf("event seq %d after %d: not increasing", e.Seq, last)
		}
		last = e.Seq
		if e.Kind == checkout.EventState {
			states[e.State]++
		}
	}
	for _, s := range []checkout.State{checkout.StateWaiting, checkout.StateAccepted, checkout.StatePaid} {
		if states[s] != 1 {
			t.Errorf("state %s recorded %d times, want 1", s, states[s])
		}
	}
	if want := 1 + 16*3 + 3; len(events) != want {
		t.Errorf("got %d events, want %d", len(events), want)
	}
	if got.LastSeq != last {
		t.Errorf("order last_seq %d, want the last event's %d", got.LastSeq, last)
	}
}

// A claimed webhook is handed to no one else until released or finished; finishing records
// the outcome.
func testClaimsAreExclusive(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := db.InsertWebhook(ctx, checkout.InboxWebhook{ID: fmt.Sprintf("wh-%d", i), ResourceType: banq.ResourcePayment,
			Action: banq.ActionCreated, ResourceID: "pay", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Second)
	var claims []checkout.WebhookClaim
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		c, err := db.ClaimWebhook(ctx, later, time.Minute)
		if err != nil || c == nil {
			t.Fatalf("claim %d: got %v, %v; want a webhook", i, c, err)
		}
		if seen[c.Webhook().ID] {
			t.Fatalf("claim %d: %s handed out twice", i, c.Webhook().ID)
		}
		seen[c.Webhook().ID] = true
		claims = append(claims, c)
	}
	if c, err := db.ClaimWebhook(ctx, later, time.Minute); c != nil || err != nil {
		t.Fatalf("fourth claim: got %v, %v; want none", c, err)
	}
	released := claims[1].Webhook().ID
	claims[1].Release()
	c, err := db.ClaimWebhook(ctx, later, time.Minute)
	if err != nil || c == nil || c.Webhook().ID != released {
		t.Fatalf("after release: got %v, %v; want %s again", c, err, released)
	}
	claims[1] = c
	for _, c := range claims {
		w := c.Webhook()
		w.Status, w.Attempts, w.ProcessedAt = checkout.WebhookApplied, 1, time.Now()
		if err := c.Finish(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := db.ClaimWebhook(ctx, later, time.Minute); c != nil || err != nil {
		t.Fatalf("after finishing all: got %v, %v; want none", c, err)
	}
	w, err := db.Webhook(ctx, "wh-0")
	if err != nil || w.Status != checkout.WebhookApplied || w.Attempts != 1 {
		t.Fatalf("got %+v, %v; want applied after 1 attempt", w, err)
	}
	// Not due yet: not handed out.
	db.InsertWebhook(ctx, checkout.InboxWebhook{ID: "wh-late", ResourceType: banq.ResourcePayment, Action: banq.ActionCreated, ResourceID: "p", Body: []byte(`{}`)})
	if c, err := db.ClaimWebhook(ctx, time.Now().Add(-time.Hour), time.Minute); c != nil || err != nil {
		t.Fatalf("claim before due: got %v, %v; want none", c, err)
	}
}

func testSettingOrInitRace(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := db.SettingOrInit(ctx, "k", func() (string, error) { return fmt.Sprint("v", i), nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}(i)
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] {
			t.Fatalf("callers got %q, want one value", got)
		}
	}
	if _, err := db.Setting(ctx, "missing"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("missing setting: got %v, want ENotFound", err)
	}
}

func testEventsAfterSeq(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	o := MustOrder(t, db)
	var seqs []int64
	for i := 0; i < 3; i++ {
		up, err := db.UpdateOrder(ctx, o.ID, func(*checkout.Order) (checkout.Change, error) {
			return checkout.Change{Events: []checkout.Event{{Kind: "test", Message: fmt.Sprint(i)}}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, up.Events[0].Seq)
	}
	events, err := db.Events(ctx, o.ID, seqs[0])
	if err != nil || len(events) != 2 || events[0].Seq != seqs[1] || events[1].Seq != seqs[2] {
		t.Fatalf("got %+v, %v; want seqs %v", events, err, seqs[1:])
	}
	_, err = db.UpdateOrder(ctx, o.ID+1000, func(*checkout.Order) (checkout.Change, error) { return checkout.Change{}, nil })
	if checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("update of a missing order: got %v, want ENotFound", err)
	}
}
