package checkout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

func TestCanMoveTo(t *testing.T) {
	tests := []struct {
		from, to checkout.State
		want     bool
	}{
		{checkout.StateCreating, checkout.StateWaiting, true},
		{checkout.StateWaiting, checkout.StateAccepted, true},
		{checkout.StateAccepted, checkout.StatePaid, true},
		{checkout.StateWaiting, checkout.StatePaid, true},
		{checkout.StateWaiting, checkout.StateOnHold, true},
		{checkout.StateOnHold, checkout.StateWaiting, true},
		{checkout.StateAccepted, checkout.StateOnHold, true},
		{checkout.StateOnHold, checkout.StateAccepted, true},
		{checkout.StateAccepted, checkout.StateWaiting, false},
		{checkout.StatePaid, checkout.StateWaiting, false},
		{checkout.StatePaid, checkout.StateAccepted, false},
		{checkout.StatePaid, checkout.StateFailed, false},
		{checkout.StateDeclined, checkout.StatePaid, false},
		{checkout.StateFailed, checkout.StatePaid, false},
		{checkout.StateExpired, checkout.StatePaid, true},
		{checkout.StateCanceled, checkout.StatePaid, true},
		{checkout.StateExpired, checkout.StateWaiting, false},
		{checkout.StateWaiting, checkout.StateCreating, false},
		{checkout.StateOnHold, checkout.StateCreating, false},
		{checkout.StatePaid, checkout.StatePaid, false},
	}
	for _, tt := range tests {
		if got := tt.from.CanMoveTo(tt.to); got != tt.want {
			t.Errorf("%s → %s: got %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestDerive(t *testing.T) {
	done := banq.Transaction{ID: "t1", Status: banq.TransactionCompleted}
	failed := banq.Transaction{ID: "t2", Status: banq.TransactionFailed, FailReason: banq.FailInsufficientBalance}
	tests := []struct {
		name   string
		status banq.PaymentStatus
		txns   []banq.Transaction
		want   checkout.State
		reason banq.FailReason
		txID   string
	}{
		{"pending", banq.PaymentPending, nil, checkout.StateWaiting, "", ""},
		{"accepted", banq.PaymentAccepted, nil, checkout.StateAccepted, "", ""},
		{"completed without transaction yet", banq.PaymentCompleted, nil, checkout.StateAccepted, "", ""},
		{"accepted with completed transaction", banq.PaymentAccepted, []banq.Transaction{done}, checkout.StatePaid, "", "t1"},
		{"completed and paid", banq.PaymentCompleted, []banq.Transaction{done}, checkout.StatePaid, "", "t1"},
		{"completed, transaction failed", banq.PaymentCompleted, []banq.Transaction{failed}, checkout.StateFailed, banq.FailInsufficientBalance, "t2"},
		{"failed then retried and paid", banq.PaymentCompleted, []banq.Transaction{failed, done}, checkout.StatePaid, "", "t1"},
		{"declined", banq.PaymentDeclined, nil, checkout.StateDeclined, "", ""},
		{"expired", banq.PaymentExpired, nil, checkout.StateExpired, "", ""},
		{"canceled", banq.PaymentCanceled, nil, checkout.StateCanceled, "", ""},
		{"on hold", banq.PaymentOnHold, nil, checkout.StateOnHold, "", ""},
		{"failure without reason", banq.PaymentCompleted, []banq.Transaction{{ID: "t3", Status: banq.TransactionFailed}}, checkout.StateFailed, banq.FailNone, "t3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, txID := checkout.Derive(banq.Payment{Status: tt.status}, tt.txns)
			if got != tt.want || reason != tt.reason || txID != tt.txID {
				t.Errorf("got %s %q %q, want %s %q %q", got, reason, txID, tt.want, tt.reason, tt.txID)
			}
		})
	}
}

func TestParseNewOrder(t *testing.T) {
	long := make([]rune, checkout.MaxDescription+1)
	for i := range long {
		long[i] = 'ж'
	}
	const guid = "9f1c2d3e-0000-4000-8000-000000000001"
	tests := []struct {
		name, amount, desc, customer string
		field                        string // "" for valid
		want                         banq.Money
	}{
		{"valid", "12.50", "Coffee", guid, "", 1250},
		{"thousands", "1,234.5", "Coffee", guid, "", 123450},
		{"non-Latin description", "1", "咖啡 ☕ и чай", guid, "", 100},
		{"empty amount", "", "Coffee", guid, "amount", 0},
		{"zero", "0", "Coffee", guid, "amount", 0},
		{"zero with decimals", "0.00", "Coffee", guid, "amount", 0},
		{"negative", "-5", "Coffee", guid, "amount", 0},
		{"too many decimals", "1.234", "Coffee", guid, "amount", 0},
		{"huge", "10000000000", "Coffee", guid, "amount", 0},
		{"not a number", "ten", "Coffee", guid, "amount", 0},
		{"exponent", "1e3", "Coffee", guid, "amount", 0},
		{"empty description", "1", "   ", guid, "description", 0},
		{"long description", "1", string(long), guid, "description", 0},
		{"no customer", "1", "Coffee", "", "customer", 0},
		{"customer not a GUID", "1", "Coffee", "not-a-guid", "customer", 0},
		{"customer GUID in braces", "1", "Coffee", "{" + guid + "}", "customer", 0},
		{"customer GUID without hyphens", "1", "Coffee", strings.ReplaceAll(guid, "-", ""), "customer", 0},
		{"customer GUID as a URN", "1", "Coffee", "urn:uuid:" + guid, "customer", 0},
		{"invalid UTF-8", "1", "Caf\xe9", guid, "description", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := checkout.ParseNewOrder(checkout.OrderForm{Amount: tt.amount, Description: tt.desc, CustomerBanq: tt.customer}, time.Hour)
			if tt.field == "" {
				if err != nil || n.Amount != tt.want {
					t.Fatalf("got %v, %v; want %v, nil", n.Amount, err, tt.want)
				}
				return
			}
			var ce *checkout.Error
			if !errors.As(err, &ce) || ce.Code != checkout.EInvalid || ce.Fields[tt.field] == "" {
				t.Fatalf("got %v, want an EInvalid error on %q", err, tt.field)
			}
		})
	}
}
