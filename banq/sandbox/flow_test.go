package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
)

// flowSetup starts a sandbox with a webhook receiver configured and returns a client and a payer.
func flowSetup(t *testing.T, cfg sandbox.Config, retryCount int, status func(int) int) (*sandbox.Running, *client, *receiver, string) {
	t.Helper()
	sb := mustStart(t, cfg)
	c := newClient(t, sb.URL)
	rc := newReceiver(t, status)
	c.configureWebhooks(rc.URL, retryCount)
	return sb, c, rc, c.payers()[0].GUID
}

func (c *client) transactions(paymentID string) []banq.Transaction {
	c.tb.Helper()
	resp, body := c.do("GET", banq.PathTransactions+"?paymentId="+paymentID, nil)
	wantStatus(c.tb, resp, body, http.StatusOK)
	return mustDecode[banq.Page[banq.Transaction]](c.tb, body).Data
}

func (c *client) payment(id string) banq.Payment {
	c.tb.Helper()
	resp, body := c.do("GET", banq.PathPayments+id, nil)
	wantStatus(c.tb, resp, body, http.StatusOK)
	return mustDecode[banq.Payment](c.tb, body)
}

func TestApproveFlow(t *testing.T) {
	t.Parallel()
	sb, c, rc, payer := flowSetup(t, fastConfig(), 0, nil)
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-ok")

	resp, body := c.control("POST", "/sandbox/payments/"+p.ID+"/approve", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if got := mustDecode[banq.Payment](t, body).Status; got != banq.PaymentAccepted {
		t.Errorf("approve answered status %s, want Accepted", got)
	}
	waitFor(t, 5*time.Second, "Payment/Completed", func() bool {
		return slices.Contains(events(rc.all(), p.ID), "Payment/Completed")
	})
	txs := c.transactions(p.ID)
	if len(txs) != 1 || txs[0].Status != banq.TransactionCompleted || txs[0].Funds != p.Funds || txs[0].PaymentID != p.ID {
		t.Fatalf("got transactions %+v, want one Completed of %v", txs, p.Funds)
	}
	waitFor(t, 5*time.Second, "four webhooks", func() bool { return len(rc.all()) >= 4 })
	got := events(rc.all(), p.ID, txs[0].ID)
	want := []string{"Payment/Created", "Payment/Accepted", "Transaction/Created", "Payment/Completed"}
	if !sameSet(got, want) {
		t.Errorf("got webhooks %v, want %v", got, want)
	}
	for _, r := range rc.all() {
		if !r.sigValid {
			t.Errorf("webhook %s/%s has an invalid signature", r.hook.ResourceType, r.hook.Action)
		}
		if r.hook.AccountSpaceID != 1 || r.hook.CreatedAtUTC.IsZero() {
			t.Errorf("webhook %+v lacks account space or time", r.hook)
		}
	}
	if got := c.payment(p.ID).Status; got != banq.PaymentCompleted {
		t.Errorf("got status %s, want Completed", got)
	}
	resp, body = c.do("GET", banq.PathTransactions+"/"+txs[0].ID, nil)
	wantStatus(t, resp, body, http.StatusOK)

	// Illegal now.
	resp, body = c.control("POST", "/sandbox/payments/"+p.ID+"/decline", nil)
	wantStatus(t, resp, body, http.StatusConflict)
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestFailFlow(t *testing.T) {
	t.Parallel()
	sb, c, rc, payer := flowSetup(t, fastConfig(), 0, nil)
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-fail")

	resp, body := c.control("POST", "/sandbox/payments/"+p.ID+"/fail", map[string]string{"reason": "Nope"})
	wantStatus(t, resp, body, http.StatusBadRequest)
	resp, body = c.control("POST", "/sandbox/payments/"+p.ID+"/fail", nil)
	wantStatus(t, resp, body, http.StatusBadRequest)
	resp, body = c.control("POST", "/sandbox/payments/"+p.ID+"/fail", map[string]string{"reason": string(banq.FailInsufficientBalance)})
	wantStatus(t, resp, body, http.StatusOK)

	waitFor(t, 5*time.Second, "Payment/Completed", func() bool {
		return slices.Contains(events(rc.all(), p.ID), "Payment/Completed")
	})
	txs := c.transactions(p.ID)
	if len(txs) != 1 || txs[0].Status != banq.TransactionFailed || txs[0].FailReason != banq.FailInsufficientBalance {
		t.Fatalf("got transactions %+v, want one Failed for InsufficientBalance", txs)
	}
	waitFor(t, 5*time.Second, "Transaction/Failed", func() bool {
		return slices.Contains(events(rc.all(), txs[0].ID), "Transaction/Failed")
	})

	// The reason can come as a query parameter too.
	p2 := c.createDirect(sb.MerchantBanq().GUID, payer, "order-fail-2")
	resp, body = c.control("POST", "/sandbox/payments/"+p2.ID+"/fail?reason=AccountIsFrozen", nil)
	wantStatus(t, resp, body, http.StatusOK)
	waitFor(t, 5*time.Second, "the failed transaction", func() bool {
		txs := c.transactions(p2.ID)
		return len(txs) == 1 && txs[0].FailReason == banq.FailAccountIsFrozen
	})
}

func TestDeclineAndOtherActions(t *testing.T) {
	t.Parallel()
	sb, c, rc, payer := flowSetup(t, fastConfig(), 0, nil)
	merchant := sb.MerchantBanq().GUID
	ctx := context.Background()

	p := c.createDirect(merchant, payer, "order-d")
	resp, body := c.control("POST", "/sandbox/payments/"+p.ID+"/decline", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if got := c.payment(p.ID).Status; got != banq.PaymentDeclined {
		t.Errorf("got %s, want Declined", got)
	}
	resp, body = c.control("POST", "/sandbox/payments/"+p.ID+"/approve", nil)
	wantStatus(t, resp, body, http.StatusConflict)
	resp, body = c.control("POST", "/sandbox/payments/"+uuid.NewString()+"/approve", nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = c.control("POST", "/sandbox/payments/"+p.ID+"/explode", nil)
	wantStatus(t, resp, body, http.StatusBadRequest)

	for _, tc := range []struct {
		act  func(context.Context, string) (banq.Payment, error)
		want banq.PaymentStatus
		hook string
	}{
		{sb.Expire, banq.PaymentExpired, "Payment/Expired"},
		{sb.Cancel, banq.PaymentCanceled, "Payment/Canceled"},
	} {
		q := c.createDirect(merchant, payer, "order-"+string(tc.want))
		got, err := tc.act(ctx, q.ID)
		if err != nil || got.Status != tc.want {
			t.Errorf("got %s, %v; want %s", got.Status, err, tc.want)
		}
		waitFor(t, 5*time.Second, tc.hook, func() bool { return slices.Contains(events(rc.all(), q.ID), tc.hook) })
	}
	waitFor(t, 5*time.Second, "Payment/Declined", func() bool { return slices.Contains(events(rc.all(), p.ID), "Payment/Declined") })
}

func TestHoldPausesTheFlow(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	// Long enough that Hold lands before the first step even on a loaded machine.
	cfg.StepDelay = 700 * time.Millisecond
	sb, c, rc, payer := flowSetup(t, cfg, 0, nil)
	ctx := context.Background()
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-h")

	if _, err := sb.Approve(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	held, err := sb.Hold(ctx, p.ID)
	if err != nil || held.Status != banq.PaymentOnHold {
		t.Fatalf("Hold: got %s, %v; want OnHold", held.Status, err)
	}
	time.Sleep(2 * cfg.StepDelay)
	if txs := c.transactions(p.ID); len(txs) != 0 {
		t.Fatalf("a held payment made %d transactions", len(txs))
	}
	if _, err := sb.Cancel(ctx, p.ID); err == nil {
		t.Errorf("canceled a payment held while Accepted")
	}
	resumed, err := sb.Resume(ctx, p.ID)
	if err != nil || resumed.Status != banq.PaymentAccepted {
		t.Fatalf("Resume: got %s, %v; want Accepted", resumed.Status, err)
	}
	waitFor(t, 5*time.Second, "Payment/Completed", func() bool {
		return slices.Contains(events(rc.all(), p.ID), "Payment/Completed")
	})
	for _, want := range []string{"Payment/OnHold", "Payment/Resumed"} {
		if !slices.Contains(events(rc.all(), p.ID), want) {
			t.Errorf("no %s webhook", want)
		}
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	sb, c, rc, payer := flowSetup(t, fastConfig(), 2, func(int) int { return http.StatusInternalServerError })
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-r")

	waitFor(t, 5*time.Second, "three attempts", func() bool { return len(rc.all()) >= 3 })
	time.Sleep(300 * time.Millisecond) // backoff is 20, 40ms: a fourth attempt would be here by now
	got := rc.all()
	if len(got) != 3 {
		t.Fatalf("got %d attempts, want 3 (1 + retryCount 2)", len(got))
	}
	for _, r := range got {
		if r.hook.ID != got[0].hook.ID || r.hook.ResourceID != p.ID {
			t.Errorf("attempt %+v is not a retry of %+v", r.hook, got[0].hook)
		}
	}
	if gap := got[2].at.Sub(got[1].at); gap < 35*time.Millisecond {
		t.Errorf("second retry came %v after the first, want ≥ 40ms (doubling backoff)", gap)
	}

	resp, body := c.control("GET", "/sandbox/deliveries?format=json", nil)
	wantStatus(t, resp, body, http.StatusOK)
	var outcomes []string
	for _, d := range mustDecode[[]sandbox.Delivery](t, body) {
		outcomes = append(outcomes, d.Outcome)
		if d.StatusCode != 500 {
			t.Errorf("logged status %d, want 500", d.StatusCode)
		}
	}
	if want := []string{"failed", "retry", "retry"}; !slices.Equal(outcomes, want) {
		t.Errorf("got log %v, want %v (newest first)", outcomes, want)
	}
}

func TestWebhookRecoversAfterFailures(t *testing.T) {
	t.Parallel()
	sb, c, rc, payer := flowSetup(t, fastConfig(), 3, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	c.createDirect(sb.MerchantBanq().GUID, payer, "order-rr")
	waitFor(t, 5*time.Second, "the third attempt", func() bool { return len(rc.all()) >= 3 })
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.all()); n != 3 {
		t.Errorf("got %d attempts, want 3 (stop once delivered)", n)
	}
}

func TestDropFault(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.Faults = sandbox.Faults{Seed: 1, DropWebhooks: 1}
	sb, c, rc, payer := flowSetup(t, cfg, 0, nil)
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-drop")
	if _, err := sb.Approve(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "four dropped deliveries", func() bool {
		ds, err := sb.Deliveries(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds) == 4 && !slices.ContainsFunc(ds, func(d sandbox.Delivery) bool { return d.Outcome != "dropped" })
	})
	time.Sleep(50 * time.Millisecond)
	if n := len(rc.all()); n != 0 {
		t.Errorf("dropWebhooks 1: %d webhooks arrived, want 0", n)
	}
}

func TestDuplicateFault(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.Faults = sandbox.Faults{Seed: 1, DuplicateWebhooks: 1}
	sb, c, rc, payer := flowSetup(t, cfg, 0, nil)
	p := c.createDirect(sb.MerchantBanq().GUID, payer, "order-dup")
	waitFor(t, 5*time.Second, "two deliveries", func() bool { return len(rc.all()) >= 2 })
	time.Sleep(100 * time.Millisecond)
	got := rc.all()
	if len(got) != 2 || got[0].hook != got[1].hook || got[0].hook.ResourceID != p.ID {
		t.Errorf("got %+v, want the same Payment/Created webhook twice", got)
	}
}

func TestDelayFaultStillDelivers(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.Faults = sandbox.Faults{Seed: 42, DelayWebhooks: 150 * time.Millisecond}
	sb, c, rc, payer := flowSetup(t, cfg, 0, nil)
	for i := range 6 {
		c.createDirect(sb.MerchantBanq().GUID, payer, "order-delay-"+itoa(i))
	}
	waitFor(t, 5*time.Second, "six deliveries", func() bool { return len(rc.all()) == 6 })
}

// TestPersistence stops a sandbox with a payment, a flow step and a webhook pending, and checks
// that a new sandbox on the same file has the payment and finishes both.
func TestPersistence(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.DBPath = filepath.Join(t.TempDir(), "sandbox.db")
	rc := newReceiver(t, nil)

	first, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(first.Handler()) // no workers: nothing is delivered or stepped
	c := newClient(t, srv.URL)
	c.configureWebhooks(rc.URL, 0)
	merchant := first.MerchantBanq()
	p := c.createDirect(merchant.GUID, c.payers()[0].GUID, "order-p")
	if _, err := first.Approve(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.all()); n != 0 {
		t.Fatalf("%d webhooks left before the restart, want 0", n)
	}

	second := mustStart(t, cfg)
	if second.MerchantBanq() != merchant {
		t.Errorf("merchant banq changed across restart: %+v, want %+v", second.MerchantBanq(), merchant)
	}
	c2 := newClient(t, second.URL)
	if got := c2.payment(p.ID); got.ExternalOrderCode != "order-p" {
		t.Errorf("got %+v after restart", got)
	}
	waitFor(t, 5*time.Second, "Payment/Completed after restart", func() bool {
		return slices.Contains(events(rc.all(), p.ID), "Payment/Completed")
	})
	for _, want := range []string{"Payment/Created", "Payment/Accepted"} {
		if !slices.Contains(events(rc.all(), p.ID), want) {
			t.Errorf("pending %s webhook not delivered after restart", want)
		}
	}
}

// The delivery log and finished deliveries go after KeepDeliveries; idempotency records stay.
func TestPruneKeepsRecentDeliveriesAndEveryIdempotencyKey(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	cfg := fastConfig()
	cfg.TokenTTL = 30 * 24 * time.Hour
	cfg.KeepDeliveries = 24 * time.Hour
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	sb, c, rc, payer := flowSetup(t, cfg, 0, nil)
	key := uuid.NewString()
	r1, b1 := c.do("POST", banq.PathGetPaidDirect, directBody(sb.MerchantBanq().GUID, payer, "order-prune"), banq.HeaderIdempotency, key)
	wantStatus(t, r1, b1, http.StatusCreated)
	waitFor(t, 5*time.Second, "the created webhook", func() bool { return len(rc.all()) >= 1 })
	logged := func() int {
		ds, err := sb.Deliveries(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	waitFor(t, 5*time.Second, "the delivery logged", func() bool { return logged() >= 1 })

	if n, err := sb.Prune(context.Background()); err != nil || n != 0 {
		t.Fatalf("prune of a fresh log: removed %d (err %v), want 0", n, err)
	}
	if logged() == 0 {
		t.Fatal("a fresh delivery was pruned")
	}

	skew.Store(int64(25 * time.Hour))
	before := logged()
	if n, err := sb.Prune(context.Background()); err != nil || n != int64(before) {
		t.Fatalf("prune a day later: removed %d (err %v), want all %d", n, err, before)
	}
	if n := logged(); n != 0 {
		t.Fatalf("after pruning %d log entries are left, want 0", n)
	}
	r2, b2 := c.do("POST", banq.PathGetPaidDirect, directBody(sb.MerchantBanq().GUID, payer, "order-prune-again"), banq.HeaderIdempotency, key)
	if r2.StatusCode != r1.StatusCode || string(b2) != string(b1) {
		t.Fatalf("the idempotency key after pruning: got %d %s, want the first answer %d %s", r2.StatusCode, b2, r1.StatusCode, b1)
	}
}
