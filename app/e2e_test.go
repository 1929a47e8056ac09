package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// rank orders customer-visible states so a test can tell that a stream never went backwards.
func rank(s string) int {
	switch checkout.State(s) {
	case checkout.StateCreating:
		return 0
	case checkout.StateWaiting, checkout.StateOnHold:
		return 1
	case checkout.StateAccepted:
		return 2
	}
	return 3
}

// watch reads state events from a pay stream until want arrives or the deadline passes, and
// fails if the state ever moves backwards.
func watch(t *testing.T, s *sse.Stream, want checkout.State, within time.Duration) []string {
	t.Helper()
	var seen []string
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-s.Events:
			if !ok {
				t.Fatalf("stream ended before %s; saw %v", want, seen)
			}
			if ev.Name != "state" {
				continue
			}
			state, ok := apptest.Attr(ev.Data, "pay-state", "data-state")
			if !ok {
				t.Fatalf("state event without pay-state: %q", ev.Data)
			}
			if n := len(seen); n > 0 && rank(state) < rank(seen[n-1]) {
				t.Fatalf("state went backwards: %v then %s", seen, state)
			}
			seen = append(seen, state)
			if state == string(want) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no %s on the stream within %v; saw %v", want, within, seen)
		}
	}
}

func TestCheckoutEndToEnd(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	if len(payers) < 3 {
		t.Fatalf("got %d payer banqs, want a dozen", len(payers))
	}
	tests := []struct {
		name   string
		action string
		reason banq.FailReason
		want   checkout.State
	}{
		{"approved", "approve", "", checkout.StatePaid},
		{"declined", "decline", "", checkout.StateDeclined},
		{"failed transaction", "fail", banq.FailInsufficientBalance, checkout.StateFailed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := m.MustCreateOrder(t, "12.50", "Two coffees <script>alert(1)</script>", payers[i].GUID)
			if o.State != checkout.StateWaiting || o.PaymentID == "" {
				t.Fatalf("after create: state %s payment %q, want waiting with a payment", o.State, o.PaymentID)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			watch(t, stream, checkout.StateWaiting, 2*time.Second)

			start := time.Now()
			a.Act(t, o.PaymentID, tt.action, tt.reason)
			watch(t, stream, tt.want, 2*time.Second+3*20*time.Millisecond)
			t.Logf("%s seen on the stream %v after the payer acted", tt.want, time.Since(start).Round(time.Millisecond))

			got, err := a.DB.Order(context.Background(), o.ID)
			if err != nil || got.State != tt.want {
				t.Fatalf("database: got %s (%v), want %s", got.State, err, tt.want)
			}
			if tt.want == checkout.StateFailed && got.FailReason != tt.reason {
				t.Fatalf("fail reason: got %q, want %q", got.FailReason, tt.reason)
			}
			if tt.want == checkout.StatePaid && (got.TransactionID == "" || got.PaidAt.IsZero()) {
				t.Fatalf("paid order lacks its receipt data: %+v", got)
			}
			// The page tells the same, in words, and escapes the description.
			resp, err := http.Get(a.URL + "/pay/" + o.Token)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if state, _ := apptest.Attr(body, "pay-state", "data-state"); state != string(tt.want) {
				t.Fatalf("page state: got %q, want %q", state, tt.want)
			}
			if strings.Contains(body, "<script>alert(1)</script>") {
				t.Fatal("the description's <script> reached the page unescaped")
			}
			if desc := apptest.Text(body, "description"); desc != "Two coffees <script>alert(1)</script>" {
				t.Fatalf("description shown as %q", desc)
			}
			if tt.want == checkout.StateFailed {
				if reason := apptest.Text(body, "fail-reason"); reason != tt.reason.CustomerText() {
					t.Fatalf("fail reason shown as %q, want %q", reason, tt.reason.CustomerText())
				}
			}
			// Exactly one payment at Banq for the order.
			if n := len(a.SandboxPayments(t, o.Number())); n != 1 {
				t.Fatalf("sandbox holds %d payments for the order, want 1", n)
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// An order whose create never reached Banq (the app died first) is sent at the next start-up,
// with its original key, without waiting for its scheduled check.
func TestInterruptedCreateIsRecoveredAtStartUp(t *testing.T) {
	dir := t.TempDir()
	slow := apptest.Options{Dir: dir, RecoverAfter: time.Hour, ReconcileAfter: time.Hour}
	a := apptest.Start(t, slow)
	payer := a.PayerBanqs(t)[0]
	// Stored as the form handler stores it, but "crashing" before Banq is called.
	o, err := a.DB.CreateOrder(context.Background(), checkout.Order{
		Token: "recover-token-0123456789", IdempotencyKey: "8c7a3f4e-0d1b-4a8e-9a3e-2f1d0c9b8a7e", Amount: 700,
		Description: "Interrupted", CustomerBanq: payer.GUID, CustomerName: payer.Name, State: checkout.StateCreating,
		NextCheckAt: time.Now().Add(time.Hour),
	}, checkout.Event{Kind: checkout.EventCreated, State: checkout.StateCreating, Message: "created"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := apptest.Start(t, slow)
	got := b.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StateWaiting })
	if got.PaymentID == "" {
		t.Fatal("recovered order has no payment id")
	}
	if n := len(b.SandboxPayments(t, o.Number())); n != 1 {
		t.Fatalf("sandbox holds %d payments for the order, want 1", n)
	}
}
