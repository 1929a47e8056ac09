package app_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
)

// waitReadyz polls /readyz until it answers want, and returns the body.
func waitReadyz(t *testing.T, base string, want int, within time.Duration) string {
	t.Helper()
	var status int
	var body string
	eventually(t, within, func() bool {
		status, body = readyz(t, base)
		return status == want
	}, func() string {
		return "/readyz answered " + strconv.Itoa(status) + " " + body + ", want " + strconv.Itoa(want)
	})
	return body
}

// holdsReadyz checks /readyz over a while longer than its cache, failing at the first answer
// other than want.
func holdsReadyz(t *testing.T, base string, want int, during time.Duration) {
	t.Helper()
	for end := time.Now().Add(during); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if status, body := readyz(t, base); status != want {
			t.Fatalf("/readyz answered %d %q, want %d throughout", status, body, want)
		}
	}
}

// TestReadinessFollowsBanq runs the app against Banq proper (a sandbox of its own, reached the
// way real Banq is) and takes Banq's auth server and API away and back.
func TestReadinessFollowsBanq(t *testing.T) {
	// Not parallel: it times /readyz answers, which a loaded machine would slow.
	dir := t.TempDir()
	banqDB := filepath.Join(dir, "banq.db")
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Config{DBPath: banqDB})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	banqAddr := strings.TrimPrefix(sb.URL, "http://")
	a := apptest.Start(t, apptest.Options{Dir: dir, Config: func(c *app.Config) {
		c.BanqAPIURL, c.BanqAuthURL = sb.URL, sb.URL
		c.BanqClientID, c.BanqUsername, c.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
		c.PublicURL = "http://127.0.0.1:9" // no webhook is needed here
		c.SessionKey = strings.Repeat("s", 32)
	}})
	if a.Sandbox != nil {
		t.Fatal("the app started its own sandbox; want it to use Banq's URLs")
	}
	start := time.Now()
	lap := func(what string) { t.Logf("%-40s %v", what, time.Since(start).Round(time.Millisecond)) }
	waitReadyz(t, a.URL, 200, 5*time.Second)
	lap("ready")

	// The auth server fails, but the token the app holds is valid for an hour: calls to Banq
	// still work, so the app stays ready.
	sb.SetFaults(sandbox.Faults{TokenErrorRate: 1})
	holdsReadyz(t, a.URL, 200, 1200*time.Millisecond)
	lap("ready with the auth server failing")

	// Banq is gone altogether.
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if body := waitReadyz(t, a.URL, 503, 5*time.Second); !strings.Contains(body, "banq") {
		t.Errorf("/readyz body %q does not name banq", body)
	}
	lap("not ready with Banq gone")

	// Banq is back, but it no longer knows the app's token and its auth server fails: the
	// cached token cannot hide that.
	sb2, err := sandbox.Start(context.Background(), banqAddr, sandbox.Config{DBPath: banqDB,
		Faults: sandbox.Faults{TokenErrorRate: 1}})
	if err != nil {
		t.Fatalf("restart the sandbox on %s: %v", banqAddr, err)
	}
	t.Cleanup(func() { sb2.Close() })
	holdsReadyz(t, a.URL, 503, 1200*time.Millisecond)
	lap("not ready with the token refused")

	// The auth server answers again.
	sb2.SetFaults(sandbox.Faults{})
	waitReadyz(t, a.URL, 200, 5*time.Second)
	lap("ready again")

	// The API fails while the token is fine.
	sb2.SetFaults(sandbox.Faults{APIErrorRate: 1})
	waitReadyz(t, a.URL, 503, 5*time.Second)
	lap("not ready with the API failing")
	sb2.SetFaults(sandbox.Faults{})
	waitReadyz(t, a.URL, 200, 5*time.Second)
	lap("ready again")
}
