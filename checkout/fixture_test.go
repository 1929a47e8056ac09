package checkout_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// clock is a fixed clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// fakeBanq holds payments and transactions in memory and answers like Banq.
type fakeBanq struct {
	mu       sync.Mutex
	payments map[string]banq.Payment
	txns     map[string]banq.Transaction
	down     bool
	// created, when set, runs after a payment is created and before the create call answers,
	// as a webhook that overtakes the answer.
	created func(banq.Payment)
}

func newFakeBanq() *fakeBanq {
	return &fakeBanq{payments: map[string]banq.Payment{}, txns: map[string]banq.Transaction{}}
}

// errDown is what a call gets while Banq is away: a timeout.
var errDown = fmt.Errorf("banq is down: %w", context.DeadlineExceeded)

// Me is a Banq user with one account space and the merchant's banq in it.
func (f *fakeBanq) Me(ctx context.Context) (banq.Me, error) {
	return banq.Me{AccountSpaces: []banq.AccountSpace{{ID: 1}},
		BanqAccounts: []banq.BanqAccount{{GUID: "merchant", Name: "Demo Shop", AccountSpaceID: 1}}}, nil
}

func (f *fakeBanq) SetWebhookConfig(ctx context.Context, accountSpaceID int64, cfg banq.WebhookConfig) error {
	return nil
}

func (f *fakeBanq) CreateGetPaidDirect(ctx context.Context, p banq.CreatePayment, key string) (banq.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return banq.Payment{}, errDown
	}
	id := "pay-" + key
	if got, ok := f.payments[id]; ok {
		return got, nil
	}
	pay := banq.Payment{ID: id, Status: banq.PaymentPending, Funds: p.Funds, Comment: p.Comment,
		ExternalOrderCode: p.ExternalOrderCode, Frequency: p.Frequency, Source: p.Source, Destination: p.Destination}
	f.payments[id] = pay
	if created := f.created; created != nil {
		f.mu.Unlock()
		created(pay)
		f.mu.Lock()
	}
	return pay, nil
}

func (f *fakeBanq) CreateGetPaidLink(ctx context.Context, p banq.CreatePayment, key string) (banq.Payment, error) {
	pay, err := f.CreateGetPaidDirect(ctx, p, key)
	pay.PaymentLink = "https://banq.test/pay/" + pay.ID
	return pay, err
}

func (f *fakeBanq) Payment(ctx context.Context, id string) (banq.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return banq.Payment{}, errDown
	}
	p, ok := f.payments[id]
	if !ok {
		return p, banq.ErrNotFound
	}
	return p, nil
}

func (f *fakeBanq) Transactions(ctx context.Context, q banq.TransactionQuery) (banq.Page[banq.Transaction], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out banq.Page[banq.Transaction]
	for _, t := range f.txns {
		if t.PaymentID == q.PaymentID {
			out.Data = append(out.Data, t)
		}
	}
	out.Meta = banq.Meta{ResourceCount: len(out.Data), PageCount: 1}
	return out, nil
}

func (f *fakeBanq) Transaction(ctx context.Context, id string) (banq.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.txns[id]
	if !ok {
		return t, banq.ErrNotFound
	}
	return t, nil
}

// pay completes a payment with a completed transaction, as when the payer approves.
func (f *fakeBanq) pay(paymentID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.payments[paymentID]
	p.Status = banq.PaymentCompleted
	f.payments[paymentID] = p
	f.txns["tx-"+paymentID] = banq.Transaction{ID: "tx-" + paymentID, PaymentID: paymentID,
		Status: banq.TransactionCompleted, Funds: p.Funds}
}

func (f *fakeBanq) setStatus(paymentID string, s banq.PaymentStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.payments[paymentID]
	p.Status = s
	f.payments[paymentID] = p
}

// recorder keeps every published update.
type recorder struct {
	mu      sync.Mutex
	updates []checkout.Update
}

func (r *recorder) Publish(u checkout.Update) {
	r.mu.Lock()
	r.updates = append(r.updates, u)
	r.mu.Unlock()
}

func (r *recorder) last(orderID int64) (checkout.Update, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.updates) - 1; i >= 0; i-- {
		if r.updates[i].Order.ID == orderID {
			return r.updates[i], true
		}
	}
	return checkout.Update{}, false
}

type fixture struct {
	db    *store.DB
	banq  *fakeBanq
	pub   *recorder
	clock *clock
	svc   *checkout.Service
	cfg   checkout.Config
}

var t0 = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, tune func(*checkout.Config)) *fixture {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, banq: newFakeBanq(), pub: &recorder{}, clock: &clock{t: t0}}
	db.Now = f.clock.Now
	f.cfg = checkout.Config{Now: f.clock.Now, ReconcileAfter: 30 * time.Second, OrderTTL: 30 * time.Minute}
	if tune != nil {
		tune(&f.cfg)
	}
	f.svc = checkout.New(f.cfg, db, f.banq, f.pub)
	if err := f.svc.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) create(t *testing.T, ttl time.Duration) checkout.Order {
	t.Helper()
	o, err := f.svc.CreateOrder(context.Background(), checkout.NewOrder{Amount: 1250, Description: "Coffee",
		CustomerBanq: "payer", CustomerName: "Ada", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if o.State != checkout.StateWaiting || o.PaymentID == "" {
		t.Fatalf("created order: got state %s payment %q, want waiting with a payment", o.State, o.PaymentID)
	}
	return o
}

func (f *fixture) order(t *testing.T, id int64) checkout.Order {
	t.Helper()
	o, err := f.db.Order(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// reconcileAt moves the clock to at and runs one reconciler pass.
func (f *fixture) reconcileAt(t *testing.T, at time.Time) {
	t.Helper()
	f.clock.Set(at)
	if _, err := f.svc.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
}
