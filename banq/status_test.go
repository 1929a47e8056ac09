package banq_test

import (
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/banq"
)

func TestPaymentStatusTexts(t *testing.T) {
	tests := []struct {
		status   banq.PaymentStatus
		terminal bool
	}{
		{banq.PaymentPending, false},
		{banq.PaymentAccepted, false},
		{banq.PaymentOnHold, false},
		{banq.PaymentCompleted, true},
		{banq.PaymentDeclined, true},
		{banq.PaymentCanceled, true},
		{banq.PaymentExpired, true},
	}
	seen := map[string]banq.PaymentStatus{}
	for _, tt := range tests {
		if !tt.status.Valid() {
			t.Errorf("%s: not Valid", tt.status)
		}
		if got := tt.status.Terminal(); got != tt.terminal {
			t.Errorf("%s: Terminal() = %v, want %v", tt.status, got, tt.terminal)
		}
		for _, text := range []string{tt.status.CustomerText(), tt.status.MerchantText()} {
			if !isSentence(text) {
				t.Errorf("%s: got text %q, want a sentence", tt.status, text)
			}
		}
		if other, dup := seen[tt.status.CustomerText()]; dup {
			t.Errorf("%s and %s have the same customer text", tt.status, other)
		}
		seen[tt.status.CustomerText()] = tt.status
	}
	if got := banq.PaymentPending.CustomerText(); got != "Waiting for you to approve the request in your Banq app." {
		t.Errorf("Pending: got %q", got)
	}

	unknown := banq.PaymentStatus("Refunded")
	if unknown.Valid() || unknown.Terminal() {
		t.Errorf("unknown status: got Valid %v, Terminal %v; want false, false", unknown.Valid(), unknown.Terminal())
	}
	if !isSentence(unknown.CustomerText()) || !strings.Contains(unknown.MerchantText(), "Refunded") {
		t.Errorf("unknown status: got %q / %q, want a sentence, and the merchant's naming the status", unknown.CustomerText(), unknown.MerchantText())
	}
}

func TestTransactionStatusTexts(t *testing.T) {
	tests := []struct {
		status   banq.TransactionStatus
		terminal bool
	}{
		{banq.TransactionProcessing, false},
		{banq.TransactionCompleted, true},
		{banq.TransactionFailed, true},
	}
	for _, tt := range tests {
		if !tt.status.Valid() || tt.status.Terminal() != tt.terminal {
			t.Errorf("%s: got Valid %v, Terminal %v; want true, %v", tt.status, tt.status.Valid(), tt.status.Terminal(), tt.terminal)
		}
		if !isSentence(tt.status.CustomerText()) || !isSentence(tt.status.MerchantText()) {
			t.Errorf("%s: got %q / %q, want sentences", tt.status, tt.status.CustomerText(), tt.status.MerchantText())
		}
	}
	unknown := banq.TransactionStatus("Pending")
	if unknown.Valid() || unknown.Terminal() || !strings.Contains(unknown.MerchantText(), "Pending") {
		t.Errorf("unknown status: got Valid %v, Terminal %v, %q", unknown.Valid(), unknown.Terminal(), unknown.MerchantText())
	}
}

func TestFailReasonTexts(t *testing.T) {
	for _, r := range banq.FailReasons {
		if !r.Valid() || !isSentence(r.CustomerText()) || !isSentence(r.MerchantText()) {
			t.Errorf("%s: got Valid %v, %q / %q", r, r.Valid(), r.CustomerText(), r.MerchantText())
		}
	}
	unknown := banq.FailReason("Stolen")
	if unknown.Valid() || !isSentence(unknown.CustomerText()) || !strings.Contains(unknown.MerchantText(), "Stolen") {
		t.Errorf("unknown reason: got Valid %v, %q / %q", unknown.Valid(), unknown.CustomerText(), unknown.MerchantText())
	}
}

func isSentence(s string) bool {
	return len(s) > 10 && s[0] >= 'A' && s[0] <= 'Z' && strings.HasSuffix(s, ".")
}
