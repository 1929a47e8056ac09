package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestHealthcheckSubcommand(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	_, port, _ := net.SplitHostPort(a.Addr())
	var out bytes.Buffer
	// An address with no host means every address; the check asks loopback.
	if err := run(context.Background(), []string{"healthcheck"}, env(map[string]string{"CHECKOUT_ADDR": ":" + port}),
		nil, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck of a running app: got %v %q, want ok", err, out.String())
	}
	if err := run(context.Background(), []string{"healthcheck", "-addr", "0.0.0.0:" + port}, env(nil),
		nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck -addr 0.0.0.0:%s: %v", port, err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := run(context.Background(), []string{"healthcheck", "-timeout", "2s"}, env(map[string]string{"CHECKOUT_ADDR": "127.0.0.1:" + port}),
		nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("healthcheck of a stopped app: got nil, want an error")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("healthcheck of a stopped app took %v, want at most its timeout", took)
	}
}

// TestBackupOfARunningAppRestores backs up the database of a running app with `checkout backup`,
// then starts an app on the copy alone.
func TestBackupOfARunningAppRestores(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0]
	paid := m.MustCreateOrder(t, "21.00", "Before the backup", payer.GUID)
	a.Act(t, paid.PaymentID, "approve", "")
	a.WaitOrder(t, paid.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	password := a.DemoPassword(t)

	backupFile := filepath.Join(t.TempDir(), "checkout-backup.db")
	var out bytes.Buffer
	err := run(ctx, []string{"backup", backupFile}, env(map[string]string{"CHECKOUT_DB": a.DB.Path()}), nil, &out, io.Discard)
	if err != nil {
		t.Fatalf("checkout backup while the app runs: %v", err)
	}
	if !strings.Contains(out.String(), backupFile) {
		t.Errorf("backup said %q, want it to name %s", out.String(), backupFile)
	}
	// Backing up onto an existing file is refused rather than overwriting it.
	if err := run(ctx, []string{"backup", backupFile}, env(map[string]string{"CHECKOUT_DB": a.DB.Path()}), nil, io.Discard, io.Discard); err == nil {
		t.Error("a second backup onto the same file: got nil, want an error")
	}
	after := m.MustCreateOrder(t, "3.00", "After the backup", payer.GUID)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restore: the copy becomes the database of a new app.
	dir := t.TempDir()
	b, err := os.ReadFile(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkout.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := apptest.Start(t, apptest.Options{Dir: dir})
	got, err := r.DB.Order(ctx, paid.ID)
	if err != nil || got.State != checkout.StatePaid || got.Token != paid.Token || got.TransactionID == "" {
		t.Fatalf("restored order %d: got %s %q (%v), want paid with its token and transaction", paid.ID, got.State, got.TransactionID, err)
	}
	if _, err := r.DB.Order(ctx, after.ID); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Errorf("order made after the backup: got %v, want not found in the restored copy", err)
	}
	if r.DemoPassword(t) != password {
		t.Error("the restored app has another demo password: settings were not in the backup")
	}
	rm := r.SignIn(t) // the users came along
	if resp := rm.Get(t, "/pay/"+paid.Token); resp.Status != 200 {
		t.Errorf("the restored payment page: got %d, want 200", resp.Status)
	}
	events, err := r.DB.Events(ctx, paid.ID, 0)
	if err != nil || len(events) < 3 {
		t.Errorf("restored timeline: got %d events (%v), want the whole history", len(events), err)
	}
}
