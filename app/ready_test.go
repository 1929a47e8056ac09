package app_test

import (
	"context"
	"net"
	"net/http"
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

const readyToken = "ready-metrics-token-0123456789"

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
		c.MetricsToken = readyToken
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
	waitReadyz(t, a.URL, 503, 5*time.Second)
	if _, body := readyzAs(t, a.URL, "Bearer "+readyToken); !strings.Contains(body, "banq") {
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

// readyzAs returns /readyz's status and body for a caller sending authorization (none if "").
func readyzAs(t *testing.T, base, authorization string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	r := do(t, nil, req)
	return r.Status, r.Body
}

// TestReadyzDetailOnlyWithMetricsToken: why the app is not ready (here: Banq cannot be
// reached) is for operators: the log and callers holding the metrics token. Anyone else
// learns only that it is not ready.
func TestReadyzDetailOnlyWithMetricsToken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	banqURL := "http://" + ln.Addr().String()
	ln.Close()
	const token = "readyz-metrics-token-0123456789"
	logs := &syncBuffer{}
	a := apptest.Start(t, apptest.Options{Log: logs, Config: func(c *app.Config) {
		c.BanqAPIURL, c.BanqAuthURL = banqURL, banqURL
		c.BanqClientID, c.BanqUsername, c.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
		c.SessionKey = strings.Repeat("s", 32)
		c.MetricsToken = token
	}})
	for name, auth := range map[string]string{"anonymous": "", "wrong token": "Bearer not-the-metrics-token-000000", "token not as bearer": token} {
		status, body := readyzAs(t, a.URL, auth)
		if status != http.StatusServiceUnavailable {
			t.Errorf("%s: got %d, want 503", name, status)
		}
		if strings.TrimSpace(body) != "not ready" {
			t.Errorf("%s: got body %q, want just \"not ready\"", name, body)
		}
	}
	status, body := readyzAs(t, a.URL, "Bearer "+token)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "banq") {
		t.Errorf("with the metrics token: got %d %q, want 503 naming banq", status, body)
	}
	eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "not ready") },
		func() string { return "the log does not say why the app is not ready" })
}
