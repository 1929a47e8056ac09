package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// The fault tests run the whole checkout against its sandbox over real HTTP while the sandbox
// misbehaves on purpose (sandbox.Faults), and check that every order still ends where the payer
// sent it, once, forward only.

// outcome is what the payer does with an order and where the order must end.
type outcome struct {
	action string
	reason banq.FailReason
	want   checkout.State
}

var outcomes = []outcome{
	{"approve", "", checkout.StatePaid},
	{"decline", "", checkout.StateDeclined},
	{"fail", banq.FailLimitsExceeded, checkout.StateFailed},
	{"approve", "", checkout.StatePaid},
}

func outcomeOf(i int) outcome { return outcomes[i%len(outcomes)] }

// placeOrders creates n orders through the merchant's form, for the payers in turn.
func placeOrders(t *testing.T, a *apptest.App, m *apptest.Merchant, n int) []checkout.Order {
	t.Helper()
	payers := a.PayerBanqs(t)
	orders := make([]checkout.Order, n)
	for i := range orders {
		orders[i] = m.MustCreateOrder(t, fmt.Sprintf("%d.%02d", 1+i, i), fmt.Sprintf("Fault test order %d", i), payers[i%len(payers)].GUID)
		if orders[i].State != checkout.StateWaiting || orders[i].PaymentID == "" {
			t.Fatalf("order %d after create: state %s payment %q, want waiting with a payment", i, orders[i].State, orders[i].PaymentID)
		}
	}
	return orders
}

// actOnAll has the payer act on every order as outcomeOf says.
func actOnAll(t *testing.T, a *apptest.App, orders []checkout.Order) {
	t.Helper()
	for i, o := range orders {
		oc := outcomeOf(i)
		a.Act(t, o.PaymentID, oc.action, oc.reason)
	}
}

// waitFinal waits until every order is in its outcome's state (with the fail reason), or fails
// after within naming the orders that are not. It returns how long it took.
func waitFinal(t *testing.T, a *apptest.App, orders []checkout.Order, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var wrong []string
		for i, o := range orders {
			got, err := a.DB.Order(context.Background(), o.ID)
			oc := outcomeOf(i)
			if err != nil || got.State != oc.want || got.FailReason != oc.reason {
				wrong = append(wrong, fmt.Sprintf("order %d: got %s %q (%v), want %s %q", o.ID, got.State, got.FailReason, err, oc.want, oc.reason))
			}
		}
		if len(wrong) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%d of %d orders not in their final state within %v:\n%s", len(wrong), len(orders), within, strings.Join(wrong, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// timeline returns an order's stored events.
func timeline(t *testing.T, a *apptest.App, id int64) []checkout.Event {
	t.Helper()
	events, err := a.DB.Events(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// checkTimeline fails if an order's timeline holds a webhook twice or the same state twice.
func checkTimeline(t *testing.T, id int64, events []checkout.Event) {
	t.Helper()
	defer func() {
		if t.Failed() {
			for _, e := range events {
				t.Logf("order %d: %d %s %s %s %s %s", id, e.Seq, e.At.Format("15:04:05.000"), e.Kind, e.State, e.WebhookID, e.Message)
			}
		}
	}()
	webhooks, states := map[string]bool{}, map[checkout.State]bool{}
	for _, e := range events {
		switch e.Kind {
		case checkout.EventWebhook:
			if webhooks[e.WebhookID] {
				t.Errorf("order %d: webhook %s is twice on the timeline", id, e.WebhookID)
			}
			webhooks[e.WebhookID] = true
		case checkout.EventState:
			if states[e.State] {
				t.Errorf("order %d: state %s is twice on the timeline", id, e.State)
			}
			states[e.State] = true
		}
	}
}

// deliveryOutcomes counts the sandbox's delivery log by outcome (delivered, dropped, ...).
func deliveryOutcomes(t *testing.T, a *apptest.App) map[string]int {
	t.Helper()
	ds, err := a.Sandbox.Deliveries(context.Background(), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range ds {
		out[d.Outcome]++
	}
	return out
}

func webhookCounts(t *testing.T, a *apptest.App) map[string]int {
	t.Helper()
	counts, err := a.DB.WebhookCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// waitInboxDrained waits until no webhook in the inbox is pending and returns the inbox by status;
// it fails after within.
func waitInboxDrained(t *testing.T, a *apptest.App, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		counts := webhookCounts(t, a)
		if counts[checkout.WebhookPending] == 0 {
			return counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox %v after %v, want nothing pending", counts, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultDroppedWebhooks: with 30% of webhooks never sent, the reconciler still brings every
// order to its final state.
func TestFaultDroppedWebhooks(t *testing.T) {
	const n, bound = 20, 8 * time.Second
	a := start(t, apptest.Options{
		ReconcileAfter: 300 * time.Millisecond, ReconcileInterval: 50 * time.Millisecond,
		Faults: &sandbox.Faults{DropWebhooks: 0.3, Seed: 7},
	})
	orders := placeOrders(t, a, a.SignIn(t), n)
	actOnAll(t, a, orders)
	took := waitFinal(t, a, orders, bound)
	if counts := waitInboxDrained(t, a, 5*time.Second); counts[checkout.WebhookFailed] > 0 {
		t.Errorf("inbox: %v, want no webhook failed", counts)
	}

	dropped := deliveryOutcomes(t, a)["dropped"]
	if dropped == 0 {
		t.Fatal("the sandbox dropped no webhook: the fault was not in force")
	}
	// Where the deciding webhook was dropped, the reconciler must have found the state.
	byReconciler := 0
	for _, o := range orders {
		events := timeline(t, a, o.ID)
		checkTimeline(t, o.ID, events)
		for _, e := range events {
			if e.Kind == checkout.EventState && e.State.Terminal() && e.WebhookID == "" {
				byReconciler++
			}
		}
	}
	if byReconciler == 0 {
		t.Fatalf("no order reached its final state through the reconciler, though %d webhooks were dropped", dropped)
	}
	t.Logf("%d orders final %v after the payers acted (bound %v); %d webhooks dropped, %d final states found by the reconciler",
		n, took.Round(time.Millisecond), bound, dropped, byReconciler)
}

// TestFaultDuplicatedDelayedWebhooks: webhooks delivered twice, late and out of order leave every
// order in its right state, each webhook once on its timeline, and no page ever sees an order
// go backwards.
func TestFaultDuplicatedDelayedWebhooks(t *testing.T) {
	const n = 12
	a := start(t, apptest.Options{
		// The reconciler stays out of the way: webhooks alone must get it right.
		ReconcileAfter: time.Minute,
		Faults:         &sandbox.Faults{DuplicateWebhooks: 0.5, DelayWebhooks: 400 * time.Millisecond, Seed: 11},
	})
	orders := placeOrders(t, a, a.SignIn(t), n)

	// Watch every payment page's stream from before the payer acts.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := make([][]string, n)
	var wg sync.WaitGroup
	for i, o := range orders {
		stream, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range stream.Events {
				if ev.Name != "state" {
					continue
				}
				state, _ := apptest.Attr(ev.Data, "pay-state", "data-state")
				seen[i] = append(seen[i], state)
				if checkout.State(state) == outcomeOf(i).want {
					return
				}
			}
		}()
	}
	actOnAll(t, a, orders)
	took := waitFinal(t, a, orders, 10*time.Second)
	wg.Wait()
	if counts := waitInboxDrained(t, a, 5*time.Second); counts[checkout.WebhookFailed] > 0 {
		t.Errorf("inbox: %v, want no webhook failed", counts)
	}

	for i, o := range orders {
		states := seen[i]
		if len(states) == 0 || checkout.State(states[len(states)-1]) != outcomeOf(i).want {
			t.Errorf("order %d: its page saw %v, want it to end %s", o.ID, states, outcomeOf(i).want)
		}
		for j := 1; j < len(states); j++ {
			if rank(states[j]) < rank(states[j-1]) {
				t.Errorf("order %d went backwards on its page: %v", o.ID, states)
			}
		}
		checkTimeline(t, o.ID, timeline(t, a, o.ID))
	}

	// The faults were in force and reached the app: duplicates were received and counted, and
	// some webhooks arrived in another order than Banq made them.
	outcomes := deliveryOutcomes(t, a)
	duplicates, reordered := 0, 0
	for _, o := range orders {
		var got []checkout.InboxWebhook
		for _, e := range timeline(t, a, o.ID) {
			if e.Kind != checkout.EventWebhook {
				continue
			}
			w, err := a.DB.Webhook(context.Background(), e.WebhookID)
			if err != nil {
				t.Fatal(err)
			}
			duplicates += w.Duplicates
			got = append(got, w)
		}
		for j := 1; j < len(got); j++ {
			if madeAt(t, got[j]).Before(madeAt(t, got[j-1])) {
				reordered++
			}
		}
	}
	if outcomes["duplicated"] == 0 || duplicates == 0 {
		t.Fatalf("duplicates queued by the sandbox %d, received by the app %d: want both > 0", outcomes["duplicated"], duplicates)
	}
	if outcomes["delayed"] == 0 || reordered == 0 {
		t.Fatalf("deliveries delayed %d, webhooks processed out of order %d: want both > 0", outcomes["delayed"], reordered)
	}
	t.Logf("%d orders final %v after the payers acted; %d duplicate deliveries received, %d webhooks processed before an older one",
		n, took.Round(time.Millisecond), duplicates, reordered)
}

// restartWith stops the app and starts it again on the same data and address, as a restarted
// process would: pages and the sandbox's queued webhooks find it at the same URL. opt tunes the
// new run.
func restartWith(t *testing.T, a *apptest.App, opt apptest.Options) *apptest.App {
	t.Helper()
	if err := a.Stop(); err != nil {
		t.Fatalf("stop the app before restarting it: %v", err)
	}
	addr, config := a.Addr(), opt.Config
	opt.Dir = a.Dir
	opt.Config = func(c *app.Config) {
		if config != nil {
			config(c)
		}
		c.Addr = addr
	}
	return start(t, opt)
}

// madeAt is when Banq made a webhook, from its stored body.
func madeAt(t *testing.T, w checkout.InboxWebhook) time.Time {
	t.Helper()
	parsed, err := banq.ParseWebhook(w.Body)
	if err != nil {
		t.Fatalf("stored webhook %s does not parse: %v", w.ID, err)
	}
	return parsed.CreatedAtUTC
}

// TestFaultBanqErrorsOnCreate: when Banq answers 500/503, loses its answer after doing the work,
// or does not answer in time, the merchant is told so clearly, the order is kept, and every
// retry (the merchant's, or the reconciler's) reuses the order's key: Banq ends up holding
// exactly one payment per order.
func TestFaultBanqErrorsOnCreate(t *testing.T) {
	const createTimeout = 500 * time.Millisecond
	// The reconciler resends an unconfirmed create RecoverAfter after it: long enough that a
	// subtest reads Banq's payments before the resend (on a busy machine the merchant's failed
	// request alone took over a second, and a 500 ms resend made a payment the check counted).
	a := start(t, apptest.Options{
		RecoverAfter: 3 * time.Second,
		Config:       func(c *app.Config) { c.CreateTimeout = createTimeout },
	})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	var orders []checkout.Order

	// failCreate submits the form under faults and checks the merchant's answer: 503, the form
	// again with a message, what was typed kept, and the saved order offered for a retry.
	failCreate := func(t *testing.T, f sandbox.Faults, customer banq.Banq, amount, description string) checkout.Order {
		t.Helper()
		a.Sandbox.SetFaults(f)
		// The CSRF token comes from a page that does not ask Banq anything, to keep this quick.
		r := m.PostForm(t, "/account", "/orders", url.Values{"amount": {amount}, "description": {description}, "customer": {customer.GUID}})
		a.Sandbox.SetFaults(sandbox.Faults{})
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("create under %+v: got %d, want 503: %s", f, r.Status, r.Body)
		}
		if msg := apptest.Text(r.Body, "form-error"); msg == "" {
			t.Fatal("the form came back without a message saying what happened")
		}
		if got, _ := apptest.Attr(r.Body, "amount", "value"); got != amount {
			t.Errorf("amount after the error: got %q, want %q as typed", got, amount)
		}
		if got := apptest.Text(r.Body, "description"); got != description {
			t.Errorf("description after the error: got %q, want %q as typed", got, description)
		}
		retry := retryOrderField(r.Body)
		if retry == 0 {
			t.Fatal("the form offers no retry of the saved order (its Send again button)")
		}
		o, err := a.DB.Order(context.Background(), retry)
		if err != nil {
			t.Fatal(err)
		}
		if o.CustomerBanq != customer.GUID || o.Amount.String() != amount {
			t.Fatalf("the saved order is not the one typed: %+v", o)
		}
		orders = append(orders, o)
		return o
	}
	// resubmit sends the form to the order's retry, as its "Send again" button does.
	resubmit := func(t *testing.T, o checkout.Order) {
		t.Helper()
		r := m.PostForm(t, "/orders/new", fmt.Sprintf("/orders/%d/retry", o.ID), url.Values{
			"amount": {o.Amount.String()}, "description": {o.Description}, "customer": {o.CustomerBanq}})
		if r.Status != http.StatusSeeOther || r.Location != fmt.Sprintf("/orders/%d", o.ID) {
			t.Fatalf("send again: got %d to %q, want 303 to /orders/%d: %s", r.Status, r.Location, o.ID, r.Body)
		}
	}
	onePayment := func(t *testing.T, o checkout.Order) {
		t.Helper()
		got := a.WaitOrder(t, o.ID, 10*time.Second, func(o checkout.Order) bool { return o.State == checkout.StateWaiting })
		ps := a.SandboxPayments(t, o.Number())
		if len(ps) != 1 || ps[0].ID != got.PaymentID {
			t.Fatalf("Banq holds %d payments for order %d (want 1, the order's %s)", len(ps), o.ID, got.PaymentID)
		}
		if got.IdempotencyKey != o.IdempotencyKey {
			t.Fatalf("order %d's key changed from %s to %s", o.ID, o.IdempotencyKey, got.IdempotencyKey)
		}
	}

	t.Run("500 and 503, then the merchant sends again", func(t *testing.T) {
		o := failCreate(t, sandbox.Faults{APIErrorRate: 1, Seed: 3}, payers[0], "12.50", "Lunch")
		if n := len(a.SandboxPayments(t, o.Number())); n != 0 {
			t.Fatalf("Banq holds %d payments after refusing every call, want 0", n)
		}
		resubmit(t, o)
		onePayment(t, o)
	})
	t.Run("answer lost after the work, then the merchant sends again", func(t *testing.T) {
		// Its webhooks are dropped too, or the payment's webhook would tell the app in time.
		o := failCreate(t, sandbox.Faults{CreateErrorAfterRate: 1, DropWebhooks: 1, Seed: 4}, payers[1], "8.00", "Dinner")
		if n := len(a.SandboxPayments(t, o.Number())); n != 1 {
			t.Fatalf("Banq holds %d payments after doing the work and losing the answer, want 1", n)
		}
		resubmit(t, o)
		onePayment(t, o)
	})
	t.Run("no answer in time, then Banq's news or the reconciler's resend", func(t *testing.T) {
		start := time.Now()
		o := failCreate(t, sandbox.Faults{APILatency: 2 * createTimeout, Seed: 5}, payers[2], "3.33", "Tea")
		t.Logf("the merchant got the error %v after sending", time.Since(start).Round(time.Millisecond))
		onePayment(t, o)
		var kinds []string
		for _, e := range timeline(t, a, o.ID) {
			kinds = append(kinds, e.Kind)
		}
		// Banq did the work of the call that timed out, 2×createTimeout after it began; its
		// webhook and the reconciler's resend (RecoverAfter after the failure) race. Either
		// tells the order of its payment, and onePayment showed the resend made none twice.
		got := strings.Join(kinds, ",")
		if !strings.HasPrefix(got, "created,request_failed,") || !(strings.Contains(got, "request_sent") || strings.Contains(got, "webhook")) {
			t.Fatalf("timeline: got %s, want created, request_failed, then request_sent or Banq's webhook", got)
		}
	})
	// However the retries went, Banq made no payment that belongs to no order.
	if all := a.SandboxPayments(t, ""); len(all) != len(orders) {
		t.Fatalf("Banq holds %d payments for %d orders", len(all), len(orders))
	}
}

// retryOrderField reads the order the form's "Send again" button retries, 0 when there is none.
func retryOrderField(body string) int64 {
	action, _ := apptest.Attr(body, "create-order", "formaction")
	var id int64
	fmt.Sscanf(action, "/orders/%d/retry", &id)
	return id
}

// TestFaultTokensExpire: with access tokens living one second, orders keep being created and
// paid for several lifetimes, and no call fails because a token ran out.
func TestFaultTokensExpire(t *testing.T) {
	const ttl = time.Second
	logs := &syncBuffer{}
	a := start(t, apptest.Options{
		Log:    logs,
		Config: func(c *app.Config) { c.SandboxFaults = sandbox.Faults{TokenTTL: ttl} },
	})
	// The fault is in force: a token says it lives a second, and is refused after it.
	token := sandboxToken(t, a)
	if token.ExpiresIn != 1 {
		t.Fatalf("sandbox token lifetime: got %ds, want 1s", token.ExpiresIn)
	}

	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	var orders []checkout.Order
	start := time.Now()
	for i := 0; time.Since(start) < 3*ttl+ttl/2; i++ {
		o := m.MustCreateOrder(t, "2.50", fmt.Sprintf("Token order %d", i), payers[i%len(payers)].GUID)
		a.Act(t, o.PaymentID, "approve", "")
		orders = append(orders, o)
		time.Sleep(200 * time.Millisecond)
	}
	if status := apiStatus(t, a, token.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("a token %v old: got %d from the API, want 401", time.Since(start), status)
	}
	for _, o := range orders {
		a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
		for _, e := range timeline(t, a, o.ID) {
			if e.Kind == checkout.EventRequestFailed {
				t.Errorf("order %d: a create call failed: %s", o.ID, e.Message)
			}
		}
	}
	if counts := waitInboxDrained(t, a, 5*time.Second); counts[checkout.WebhookFailed]+counts[checkout.WebhookIgnored] > 0 {
		t.Errorf("inbox: %v, want every webhook applied", counts)
	}
	// Every failed call to Banq is logged as a warning or an error.
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("a call failed: %s", line)
		}
	}
	t.Logf("%d orders created and paid over %v with %v tokens", len(orders), time.Since(start).Round(time.Millisecond), ttl)
}

// sandboxToken asks the sandbox's token endpoint for a token with the sandbox's credentials.
func sandboxToken(t *testing.T, a *apptest.App) banq.TokenResponse {
	t.Helper()
	body, _ := json.Marshal(banq.TokenRequest{ClientID: sandbox.DefaultClientID, Username: sandbox.DefaultUsername,
		Password: sandbox.DefaultPassword, Audience: banq.DefaultAudience, GrantType: "password"})
	resp, err := http.Post(a.SandboxURL+banq.PathToken, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr banq.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("sandbox token: %s, %v", resp.Status, err)
	}
	return tr
}

// apiStatus calls users/me with token and returns the status.
func apiStatus(t *testing.T, a *apptest.App, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.SandboxURL+banq.PathMe, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFaultStopMidProcessing stops the app while its worker is busy with webhooks (Banq being
// slow to answer the fetches), starts it again on the same database, and checks that no
// webhook was lost and no order is stuck.
func TestFaultStopMidProcessing(t *testing.T) {
	const n = 8
	// The reconciler stays out of the way: the webhooks alone must finish the orders.
	opt := apptest.Options{ReconcileAfter: time.Minute}
	a := start(t, opt)
	orders := placeOrders(t, a, a.SignIn(t), n)
	a.Sandbox.SetFaults(sandbox.Faults{APILatency: 250 * time.Millisecond})
	actOnAll(t, a, orders)

	// Stop once some webhooks are done and more are waiting.
	deadline := time.Now().Add(10 * time.Second)
	var counts map[string]int
	for counts = webhookCounts(t, a); counts[checkout.WebhookApplied] == 0 || counts[checkout.WebhookPending] < 3; counts = webhookCounts(t, a) {
		if time.Now().After(deadline) {
			t.Fatalf("inbox never had work both done and waiting: %v", counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	a = restartWith(t, a, opt)
	t.Logf("stopped with inbox %v; restarted in %v", counts, time.Since(start).Round(time.Millisecond))

	took := waitFinal(t, a, orders, 10*time.Second)
	counts = waitInboxDrained(t, a, 5*time.Second)
	if counts[checkout.WebhookFailed] > 0 || counts[checkout.WebhookIgnored] > 0 {
		t.Fatalf("inbox after the restart: %v, want every webhook applied", counts)
	}
	for _, o := range orders {
		checkTimeline(t, o.ID, timeline(t, a, o.ID))
	}
	t.Logf("all %d orders final %v after the restart; inbox %v", n, took.Round(time.Millisecond), counts)
}
