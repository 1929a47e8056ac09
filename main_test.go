package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
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

// TestHelpListsEverything: -h, --help and help list the subcommands, the flags and every
// environment variable with its default, from the table the configuration is read from, and
// succeed.
func TestHelpListsEverything(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}, {"serve", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, env(nil), nil, &out, &errOut); err != nil {
				t.Fatalf("got %v, want nil (exit 0)", err)
			}
			help := out.String()
			for _, sub := range []string{"checkout serve", "checkout sandbox", "checkout sandbox trigger", "checkout user add",
				"checkout endpoint add", "checkout endpoint list", "checkout key create", "checkout key list",
				"checkout backup", "checkout healthcheck", "checkout version", "checkout help"} {
				if !strings.Contains(help, sub) {
					t.Errorf("help does not list %q", sub)
				}
			}
			lines := strings.Split(help, "\n")
			for _, v := range app.Variables() {
				i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), v.Name+" ") })
				if i < 0 {
					t.Errorf("help does not list %s", v.Name)
					continue
				}
				if v.Default != "" && !slices.Contains(strings.Fields(lines[i]), v.Default) {
					t.Errorf("help line %q does not give %s's default %q", lines[i], v.Name, v.Default)
				}
				if v.Flag != "" && !strings.Contains(help, "-"+v.Flag+" ") {
					t.Errorf("help does not list the flag -%s", v.Flag)
				}
			}
		})
	}
}

// TestEveryVariableIsDocumented: the operator's documentation lists each variable.
func TestEveryVariableIsDocumented(t *testing.T) {
	docs := []string{"README.md"}
	filepath.WalkDir("docs", func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
		return nil
	})
	var all strings.Builder
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, v := range app.Variables() {
		if !strings.Contains(all.String(), "`"+v.Name+"`") {
			t.Errorf("%s is in no table of README.md or docs/", v.Name)
		}
	}
}

// TestVersion: `checkout version` prints the module version and the VCS revision the binary was
// built from, or the version stamped into it.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "checkout ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("got %q, want checkout's version and %s", out.String(), runtime.Version())
	}

	out.Reset()
	printVersion(&out, "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	if want := "checkout v1.4.0\nrevision 0123abcd (modified) 2026-12-01T10:00:00Z\n" + runtime.Version() + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}

	// A real binary: the version stamped as the Dockerfile and Makefile do, and the revision
	// when Go recorded one (not with GOFLAGS=-buildvcs=false, nor in some git worktrees).
	bin := filepath.Join(t.TempDir(), "checkout")
	if b, err := exec.Command("go", "build", "-tags", "sqlite_fts5", "-ldflags", "-X main.version=v9.8.7", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	got, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(got), "checkout v9.8.7\n") {
		t.Errorf("stamped v9.8.7: printed %q, %v", got, err)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`vcs\.revision=(\S+)`).FindSubmatch(meta); m != nil && !strings.Contains(string(got), string(m[1])) {
		t.Errorf("checkout version printed %q, want the revision %s", got, m[1])
	}
}
