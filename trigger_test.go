package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

func TestSandboxTrigger(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	env := map[string]string{"CHECKOUT_DB": filepath.Join(a.Dir, "checkout.db"), "SANDBOX_URL": a.SandboxURL}
	getenv := func(k string) string { return env[k] }
	trigger := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"sandbox", "trigger"}, args...), getenv, strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}

	// By order number: the command finds the order's payment in the checkout's database.
	o := m.MustCreateOrder(t, "8.00", "Sandwich", payers[0].GUID)
	out, err := trigger("approve", "--order", strconv.FormatInt(o.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, o.PaymentID) || !strings.Contains(out, "Accepted") {
		t.Fatalf("output %q does not name the payment and its new status", out)
	}
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })

	// By payment id, flags first, with a fail reason.
	o = m.MustCreateOrder(t, "8.00", "Soup", payers[1].GUID)
	if _, err := trigger("--payment", o.PaymentID, "--reason", "InsufficientBalance", "fail"); err != nil {
		t.Fatal(err)
	}
	failed := a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StateFailed })
	if failed.FailReason != "InsufficientBalance" {
		t.Fatalf("fail reason: got %q", failed.FailReason)
	}

	// What cannot be done says why.
	if _, err := trigger("decline", "--order", strconv.FormatInt(o.ID, 10)); !errors.Is(err, sandbox.ErrIllegalTransition) {
		t.Fatalf("decline a completed payment: got %v, want ErrIllegalTransition", err)
	}
	if _, err := trigger("approve", "--order", "99999"); err == nil || !strings.Contains(err.Error(), "no order 99999") {
		t.Fatalf("unknown order: got %v", err)
	}
	if _, err := trigger("approve", "--payment", "no-such-payment"); !errors.Is(err, sandbox.ErrNotFound) {
		t.Fatalf("unknown payment: got %v, want ErrNotFound", err)
	}
	if _, err := trigger("fail", "--payment", o.PaymentID); !errors.Is(err, sandbox.ErrInvalidReason) {
		t.Fatalf("fail without a reason: got %v, want ErrInvalidReason", err)
	}
	for _, args := range [][]string{{}, {"approve"}, {"approve", "--order", "1", "--payment", "x"}, {"dance", "--order", "1"}} {
		if _, err := trigger(args...); err == nil {
			t.Fatalf("trigger %q: no error", args)
		}
	}
	env["CHECKOUT_DB"] = filepath.Join(t.TempDir(), "missing.db")
	if _, err := trigger("approve", "--order", "1"); err == nil || !strings.Contains(err.Error(), "no checkout database") {
		t.Fatalf("missing database: got %v", err)
	}
}
