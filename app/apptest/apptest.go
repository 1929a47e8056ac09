// Package apptest starts the whole checkout, with its built-in Banq sandbox, on loopback ports
// for end-to-end tests, browser tests and benchmarks, and drives it the way people do: a
// merchant signing in and posting forms, a payer acting in the sandbox.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// Options tune the app under test; zero values give fast defaults for tests.
type Options struct {
	Dir               string // data directory; a new temp dir when empty (reuse it to restart on the same data)
	Config            func(*app.Config)
	StepDelay         time.Duration // sandbox approval steps; 20ms
	ReconcileAfter    time.Duration // 2s
	ReconcileInterval time.Duration // 100ms
	RecoverAfter      time.Duration // 1s
	Faults            *sandbox.Faults
	Log               io.Writer // app logs; discarded when nil
	// DB is CHECKOUT_DB: a postgres:// URL to run on PostgreSQL; a SQLite file in Dir when empty.
	DB string
	// Peer makes this app another instance of Peer, behind the same load balancer: give it
	// Peer's database in DB; it uses Peer's sandbox as its Banq (with the sandbox credentials;
	// secrets and session keys come from the shared database). The sandbox delivers webhooks to
	// the instance that registered last; tests POST signed webhooks where they want them.
	Peer *App
}

// App is a running checkout.
type App struct {
	*app.App
	URL        string
	SandboxURL string
	Dir        string
	Stdout     *bytes.Buffer
	cancel     context.CancelFunc
	done       chan error
	stopOnce   sync.Once
	sessionKey string // what a peer instance must use
	stopErr    error
	stopSeen   atomic.Bool // the test called Stop and judged its error itself
}

// Start runs the app until the test ends (or Stop).
func Start(tb testing.TB, opt Options) *App {
	tb.Helper()
	if opt.Dir == "" {
		opt.Dir = tb.TempDir()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opt.StepDelay, 20*time.Millisecond)
	def(&opt.ReconcileAfter, 2*time.Second)
	def(&opt.ReconcileInterval, 100*time.Millisecond)
	def(&opt.RecoverAfter, time.Second)
	cfg := app.Config{
		Addr:              "127.0.0.1:0",
		DB:                filepath.Join(opt.Dir, "checkout.db"),
		SandboxAddr:       "127.0.0.1:0",
		SandboxDB:         filepath.Join(opt.Dir, "sandbox.db"),
		SandboxStepDelay:  opt.StepDelay,
		ReconcileAfter:    opt.ReconcileAfter,
		ReconcileInterval: opt.ReconcileInterval,
		RecoverAfter:      opt.RecoverAfter,
		ShutdownTimeout:   5 * time.Second,
		LogLevel:          "debug",
	}
	if opt.DB != "" {
		cfg.DB = opt.DB
	}
	if p := opt.Peer; p != nil {
		cfg.BanqAPIURL, cfg.BanqAuthURL = p.SandboxURL, p.SandboxURL
		cfg.BanqClientID, cfg.BanqUsername, cfg.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
		// Outside sandbox mode a session key is required; instances behind one load balancer
		// share it, so a cookie set by one is read by the other.
		cfg.SessionKey = p.sessionKey
	}
	if opt.Config != nil {
		opt.Config(&cfg)
	}
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &bytes.Buffer{}
	a, err := app.New(ctx, cfg, log, stdout)
	if err != nil {
		cancel()
		tb.Fatalf("start the app: %v", err)
	}
	// The listener, not CHECKOUT_PUBLIC_URL: a test may set a public URL nothing answers at.
	t := &App{App: a, URL: "http://" + a.Addr(), Dir: opt.Dir, Stdout: stdout, cancel: cancel, done: make(chan error, 1),
		sessionKey: cfg.SessionKey}
	if t.sessionKey == "" {
		if t.sessionKey, err = a.DB.Setting(context.Background(), "session_key"); err != nil {
			cancel()
			tb.Fatalf("read the generated session key: %v", err)
		}
	}
	if opt.Peer != nil {
		t.SandboxURL = opt.Peer.SandboxURL
	}
	if a.Sandbox != nil {
		t.SandboxURL = a.Sandbox.URL
		if opt.Faults != nil {
			a.Sandbox.SetFaults(*opt.Faults)
		}
	}
	go func() { t.done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		if err := t.stop(); err != nil && !t.stopSeen.Load() {
			tb.Errorf("stop the app: %v", err)
		}
	})
	t.waitHealthy(tb)
	return t
}

func (a *App) waitHealthy(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(a.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s/healthz did not answer 200 within 10s", a.URL)
}

// Stop shuts the app down gracefully and returns what Run returned. The test judges that error:
// the cleanup at the end of the test no longer reports it.
func (a *App) Stop() error {
	a.stopSeen.Store(true)
	return a.stop()
}

func (a *App) stop() error {
	a.stopOnce.Do(func() {
		http.DefaultClient.CloseIdleConnections()
		a.cancel()
		select {
		case a.stopErr = <-a.done:
		case <-time.After(20 * time.Second):
			a.stopErr = errors.New("the app did not stop within 20s")
		}
	})
	return a.stopErr
}

// PostWebhook POSTs a webhook signed with the shared secret to this instance, as Banq would,
// and returns the status code.
func (a *App) PostWebhook(tb testing.TB, w banq.Webhook) int {
	tb.Helper()
	secret, err := a.DB.Setting(context.Background(), "webhook_secret")
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := json.Marshal(w)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/webhooks/banq", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(banq.HeaderWebhookHMAC, banq.Sign(body, secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// DemoPassword is the sandbox demo login's password.
func (a *App) DemoPassword(tb testing.TB) string {
	tb.Helper()
	pw, err := a.DB.Setting(context.Background(), store.DemoPasswordSetting)
	if err != nil {
		tb.Fatal(err)
	}
	return pw
}

// PayerBanqs lists the sandbox's payer banqs (not the merchant's own).
func (a *App) PayerBanqs(tb testing.TB) []banq.Banq {
	tb.Helper()
	all, err := banq.AllPages(context.Background(), 100, func(ctx context.Context, page, size int) (banq.Page[banq.Banq], error) {
		return a.Banq.Banqs(ctx, banq.BanqQuery{Page: page, PageSize: size})
	})
	if err != nil {
		tb.Fatal(err)
	}
	var out []banq.Banq
	for _, b := range all {
		if b.GUID != a.Sandbox.MerchantBanq().GUID {
			out = append(out, b)
		}
	}
	return out
}

// Act drives a sandbox payment: approve, decline, fail (with reason), expire, hold, resume, cancel.
func (a *App) Act(tb testing.TB, paymentID, action string, reason banq.FailReason) {
	tb.Helper()
	u := a.SandboxURL + "/sandbox/payments/" + url.PathEscape(paymentID) + "/" + action
	if reason != "" {
		u += "?reason=" + url.QueryEscape(string(reason))
	}
	req, _ := http.NewRequest(http.MethodPost, u, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("sandbox %s %s: %s %s", action, paymentID, resp.Status, body)
	}
}

// SandboxPayments lists the sandbox's payments with an order code (an order's number).
func (a *App) SandboxPayments(tb testing.TB, externalOrderCode string) []banq.Payment {
	tb.Helper()
	resp, err := http.Get(a.SandboxURL + "/sandbox/payments?externalOrderCode=" + url.QueryEscape(externalOrderCode))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out []banq.Payment
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// WaitOrder polls the database until cond holds for the order, or fails after timeout.
func (a *App) WaitOrder(tb testing.TB, id int64, timeout time.Duration, cond func(checkout.Order) bool) checkout.Order {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var o checkout.Order
	var err error
	for time.Now().Before(deadline) {
		if o, err = a.DB.Order(context.Background(), id); err == nil && cond(o) {
			return o
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("order %d: condition not met within %v; last state %s (err %v)", id, timeout, o.State, err)
	return o
}

// Merchant is a signed-in browser-like client: cookies, CSRF tokens and forms.
type Merchant struct {
	app    *App
	Client *http.Client
}

// NewMerchant returns a client with its own cookie jar that does not follow redirects.
func (a *App) NewMerchant() *Merchant {
	jar, _ := cookiejar.New(nil)
	return &Merchant{app: a, Client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// SignIn signs the demo merchant in.
func (a *App) SignIn(tb testing.TB) *Merchant {
	tb.Helper()
	m := a.NewMerchant()
	resp := m.PostForm(tb, "/login", "/login", url.Values{"email": {app.DemoEmail}, "password": {a.DemoPassword(tb)}})
	if resp.Status != http.StatusSeeOther || resp.Location != "/orders" {
		tb.Fatalf("sign in: got %d to %q, want 303 to /orders: %s", resp.Status, resp.Location, resp.Body)
	}
	return m
}

// Response is what a request answered.
type Response struct {
	Status   int
	Location string
	Body     string
}

// Get fetches path.
func (m *Merchant) Get(tb testing.TB, path string) Response {
	tb.Helper()
	resp, err := m.Client.Get(m.app.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body)}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// CSRF loads formPage and returns its CSRF token.
func (m *Merchant) CSRF(tb testing.TB, formPage string) string {
	tb.Helper()
	r := m.Get(tb, formPage)
	match := csrfField.FindStringSubmatch(r.Body)
	if match == nil {
		tb.Fatalf("no CSRF token on %s (status %d)", formPage, r.Status)
	}
	return match[1]
}

// PostForm submits form to path with the CSRF token of formPage (none when formPage is "").
func (m *Merchant) PostForm(tb testing.TB, formPage, path string, form url.Values) Response {
	tb.Helper()
	if formPage != "" {
		form.Set("_csrf", m.CSRF(tb, formPage))
	}
	resp, err := m.Client.PostForm(m.app.URL+path, form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body)}
}

// CreateOrder posts the new-order form and returns the response.
func (m *Merchant) CreateOrder(tb testing.TB, amount, description, customer string) Response {
	tb.Helper()
	return m.PostForm(tb, "/orders/new", "/orders", url.Values{
		"amount": {amount}, "description": {description}, "customer": {customer},
	})
}

// MustCreateOrder creates an order and returns it as stored.
func (m *Merchant) MustCreateOrder(tb testing.TB, amount, description, customer string) checkout.Order {
	tb.Helper()
	r := m.CreateOrder(tb, amount, description, customer)
	var id int64
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/orders/") {
		tb.Fatalf("create order: got %d to %q, want 303 to the order: %s", r.Status, r.Location, r.Body)
	}
	fmt.Sscanf(strings.TrimPrefix(r.Location, "/orders/"), "%d", &id)
	o, err := m.app.DB.Order(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}
