package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/notify/notifytest"
	"github.com/banq-checkout/checkout/store"
)

// TestMain lets a test start this test binary as the checkout itself (CHECKOUT_TEST_CHILD=1),
// a process of its own that the test can kill -9.
func TestMain(m *testing.M) {
	if os.Getenv("CHECKOUT_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, nil, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "checkout:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// child is the checkout running as a process of its own.
type child struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startChild(t *testing.T, env []string, addr string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"CHECKOUT_TEST_CHILD=1"}, env...)...)
	c := &child{cmd: cmd, out: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkout did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Notifications survive kill -9 of the checkout in the middle of a delivery, with a shop that
// fails half of the first attempts: every message written arrives at least once, and nothing
// arrives that was not written.
func TestNotificationsSurviveKillMidDelivery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, sbAddr := freePort(t), freePort(t)
	dbPath := filepath.Join(dir, "checkout.db")
	env := []string{"CHECKOUT_ADDR=" + addr, "SANDBOX_ADDR=" + sbAddr, "CHECKOUT_DB=" + dbPath,
		"CHECKOUT_METRICS_ADDR=off", "SANDBOX_STEP_DELAY=20ms", "CHECKOUT_LOG_LEVEL=warn"}

	shop := notifytest.New(t)
	var requests atomic.Int32
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var killedID atomic.Value
	shop.Answer = func(r notifytest.Request, seen int) int {
		if requests.Add(1) == 6 {
			killedID.Store(r.ID)
			once.Do(func() { close(inFlight) })
			<-release // the checkout is killed while waiting for this answer
			return http.StatusOK
		}
		if n, _ := strconv.Atoi(r.Body.Data.ID); seen == 0 && n%2 == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "CHECKOUT_DB" {
			return dbPath
		}
		return ""
	}
	first := startChild(t, env, addr)
	if err := run(context.Background(), []string{"endpoint", "add", shop.URL + "/hook"}, getenv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`secret (\S+)`).FindStringSubmatch(out.String())
	if secret == nil {
		t.Fatalf("checkout endpoint add printed no secret: %s", out.String())
	}
	shop.SetSecret(secret[1])

	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bc, err := banq.New(banq.Config{APIURL: "http://" + sbAddr, AuthURL: "http://" + sbAddr, ClientID: sandbox.DefaultClientID,
		Username: sandbox.DefaultUsername, Password: sandbox.DefaultPassword})
	if err != nil {
		t.Fatal(err)
	}
	a := &apptest.App{App: &app.App{DB: db, Banq: bc}, URL: "http://" + addr}
	m := a.SignIn(t)
	payer := payerBanq(t, bc)
	const orders = 8
	for i := range orders {
		m.MustCreateOrder(t, fmt.Sprintf("%d.00", i+1), "Kill test", payer)
	}
	select {
	case <-inFlight:
	case <-time.After(20 * time.Second):
		t.Fatalf("no delivery reached the shop: %d requests\n%s", requests.Load(), first.out)
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	close(release)

	startChild(t, env, addr)
	var written []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		written = messageIDs(t, dbPath)
		got := shop.Delivered()
		missing := 0
		for _, id := range written {
			if _, ok := got[id]; !ok {
				missing++
			}
		}
		if len(written) >= orders && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d notifications never arrived; requests: %+v", missing, len(written), shop.Requests())
		}
		time.Sleep(50 * time.Millisecond)
	}
	known := map[string]bool{}
	for _, id := range written {
		known[id] = true
	}
	sent := 0
	for _, r := range shop.Requests() {
		if !known[r.ID] {
			t.Errorf("the shop got %s, which was never written", r.ID)
		}
		if r.ID == killedID.Load() {
			sent++
		}
	}
	// Its answer never reached the killed checkout, so the new one sent it again.
	if sent < 2 {
		t.Errorf("the message in flight at the kill was sent %d times, want at least 2", sent)
	}
}

// payerBanq is a banq of the sandbox's that is not the merchant's.
func payerBanq(t *testing.T, bc *banq.Client) string {
	t.Helper()
	ctx := context.Background()
	me, err := bc.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, b := range me.BanqAccounts {
		mine[b.GUID] = true
	}
	page, err := bc.Banqs(ctx, banq.BanqQuery{Page: 1, PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range page.Data {
		if !mine[b.GUID] {
			return b.GUID
		}
	}
	t.Fatal("the sandbox has no payer banq")
	return ""
}

// messageIDs reads the notification outbox straight from the database file.
func messageIDs(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM notify_messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}
