// Package app assembles the checkout from its parts (store, Banq client or built-in sandbox,
// domain service, live hub, handlers) and runs it until its context ends. main and the
// end-to-end tests and benchmarks start the same App.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/graceful"
	"github.com/banq-checkout/checkout/handlers"
	"github.com/banq-checkout/checkout/ingest"
	"github.com/banq-checkout/checkout/live"
	"github.com/banq-checkout/checkout/locale"
	"github.com/banq-checkout/checkout/metrics"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/store"
)

// DemoEmail is the sandbox demo merchant's login.
const DemoEmail = "demo@checkout.test"

// App is the running checkout.
type App struct {
	cfg     Config
	log     *slog.Logger
	DB      *store.DB
	Banq    *banq.Client
	Sandbox *sandbox.Running // nil with real Banq
	Hub     *live.Hub
	Feeder  *live.Feeder // set when the database is shared with other instances (PostgreSQL)
	Service *checkout.Service
	Echo    *echo.Echo
	Metrics *metrics.Metrics
	// Sender delivers the shop's notifications; Notify keeps its endpoints.
	Sender *notify.Sender
	Notify *notify.Manager

	ln            net.Listener
	metricsLn     net.Listener
	url           string
	secrets       atomic.Pointer[[]string]
	workerRunning atomic.Bool
	httpClient    *http.Client
	gate          *ingest.Gate    // deliveries being received, marked by the HTTP side, paced by the worker
	locale        *locale.Catalog // the customer pages' languages, the shop's currency and time zone

	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error
}

// New builds the checkout in dependency order (store, Banq client or sandbox, service, HTTP),
// each part from the ones before it: it opens the database, starts the sandbox when no Banq
// credentials are configured, registers the webhook with Banq, and prepares the HTTP server on
// cfg.Addr (listening, not yet serving).
func New(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (*App, error) {
	log = withRequestIDs(log)
	a := &App{cfg: cfg, log: log, Hub: live.NewHub()}
	started := false
	defer func() {
		if !started {
			a.close()
		}
	}()
	brand, err := loadBrand(cfg)
	if err != nil {
		return nil, err
	}
	if a.locale, err = locale.New(locale.Options{Default: cfg.DefaultLanguage, Currency: cfg.Currency, Zone: cfg.TimeZone}); err != nil {
		return nil, err
	}
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if err := a.newBanq(ctx); err != nil {
		return nil, err
	}
	secret, err := a.webhookSecrets(ctx)
	if err != nil {
		return nil, err
	}
	a.newService(secret)
	if err := a.Service.Connect(ctx); err != nil {
		if cfg.Sandbox() {
			return nil, err
		}
		// Real Banq may be briefly away: keep trying in the background; /readyz tells.
		log.Error("register webhook with Banq; retrying in the background", "err", err)
		go a.connectLater(ctx)
	}
	if err := a.newHTTP(ctx, brand); err != nil {
		return nil, err
	}
	if cfg.Sandbox() {
		if err := a.announceDemo(ctx, stdout); err != nil {
			return nil, err
		}
	}
	started = true
	return a, nil
}

// openStore opens the database, the listeners (the webhook URL Banq is given is the listener's
// when there is no public URL) and the metrics over them.
func (a *App) openStore(ctx context.Context) error {
	var err error
	if a.DB, err = store.Open(ctx, a.cfg.DB); err != nil {
		return err
	}
	if a.ln, err = net.Listen("tcp", a.cfg.Addr); err != nil {
		return fmt.Errorf("listen on CHECKOUT_ADDR %s: %w", a.cfg.Addr, err)
	}
	if err := a.newMetrics(); err != nil {
		return err
	}
	a.url = a.cfg.PublicURL
	if a.url == "" {
		a.url = "http://" + browsable(a.ln.Addr().String())
	}
	return nil
}

// newBanqHTTPClient is the HTTP client of the Banq client. It keeps more idle connections than
// the webhook worker makes calls at once (checkout.Config.Workers), with the reconciler's and
// order creation's beside them: with net/http's default of 2 per host, every call beyond two at
// once dialed a new connection and closed it after, and with 16 workers connecting and closing
// took two fifths of the app's system calls while webhooks were processed.
func newBanqHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// newBanq makes the Banq client: for the configured Banq, or for the built-in sandbox, which it
// starts.
func (a *App) newBanq(ctx context.Context) error {
	cfg := a.cfg
	a.httpClient = newBanqHTTPClient()
	bc := banq.Config{HTTPClient: a.httpClient, APIURL: cfg.BanqAPIURL, AuthURL: cfg.BanqAuthURL, ClientID: cfg.BanqClientID,
		Username: cfg.BanqUsername, Password: cfg.BanqPassword, CompanyID: cfg.BanqCompanyID, Logger: a.log,
		Observe: a.Metrics.BanqCall}
	if cfg.Sandbox() {
		sbDB := cfg.SandboxDB
		if sbDB == "" && store.IsPostgres(cfg.DB) {
			sbDB = filepath.Join("data", "sandbox.db")
		} else if sbDB == "" {
			sbDB = filepath.Join(filepath.Dir(strings.TrimPrefix(cfg.DB, "sqlite:")), "sandbox.db")
		}
		var err error
		a.Sandbox, err = sandbox.Start(context.WithoutCancel(ctx), cfg.SandboxAddr, sandbox.Config{
			DBPath: sbDB, StepDelay: cfg.SandboxStepDelay, Faults: cfg.SandboxFaults, Logger: a.log.With("component", "sandbox"),
		})
		if err != nil {
			return fmt.Errorf("start the Banq sandbox on SANDBOX_ADDR %s: %w", cfg.SandboxAddr, err)
		}
		bc.APIURL, bc.AuthURL = a.Sandbox.URL, a.Sandbox.URL
		bc.ClientID, bc.Username, bc.Password = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
	}
	var err error
	a.Banq, err = banq.New(bc)
	return err
}

// webhookSecrets keeps the secrets webhooks are verified with (the previous one too while
// rotating) and returns the current one, which Banq is told to sign with: CHECKOUT_WEBHOOK_SECRET,
// or one generated and kept in the database.
func (a *App) webhookSecrets(ctx context.Context) (string, error) {
	secret := a.cfg.WebhookSecret
	if secret == "" {
		var err error
		if secret, err = a.DB.SettingOrInit(ctx, "webhook_secret", randomHex); err != nil {
			return "", err
		}
	}
	secrets := []string{secret}
	if a.cfg.WebhookSecretPrev != "" {
		secrets = append(secrets, a.cfg.WebhookSecretPrev)
	}
	a.secrets.Store(&secrets)
	return secret, nil
}

// newService makes the domain service over the store and the Banq client, with the live feed
// and the shop's notifications it publishes to.
func (a *App) newService(secret string) {
	cfg := a.cfg
	// With one process the service publishes to the hub directly; with a shared database every
	// change, ours or another instance's, reaches the hub through the feeder, in seq order.
	var pub checkout.Publisher = a.Hub
	if a.DB.Shared() {
		a.Feeder = live.NewFeeder(a.Hub, a.DB, a.log.With("component", "live-feed"))
		pub = a.Feeder
	}
	policy := NotifyPolicy(cfg)
	a.Sender = notify.NewSender(notify.SenderConfig{Policy: policy, PublicURL: a.url, Currency: a.locale.Shop().Currency(),
		Logger: a.log.With("component", "notify")}, a.DB)
	a.Notify = notify.NewManager(a.DB, policy, nil, a.Sender.Wake)
	pub = wakeSender{Publisher: pub, sender: a.Sender}
	// Deliveries being received, marked by the HTTP side, let the worker go second.
	a.gate = &ingest.Gate{}
	a.Service = checkout.New(checkout.Config{
		MerchantBanq:   cfg.BanqMerchantBanq,
		WebhookURL:     a.webhookURL(),
		WebhookSecret:  secret,
		CreateTimeout:  cfg.CreateTimeout,
		RecoverAfter:   cfg.RecoverAfter,
		ReconcileAfter: cfg.ReconcileAfter,
		OrderTTL:       cfg.OrderTTL,
		WebhookGap:     cfg.WebhookGap,
		WebhookLease:   cfg.WebhookLease,
		Ingest:         a.gate,
		Money:          a.locale.Shop().Money,
		Logger:         a.log,
		ObserveWebhook: a.Metrics.WebhookProcessed,
	}, a.DB, a.Banq, pub)
}

// newHTTP makes the handlers over the service and their routes.
func (a *App) newHTTP(ctx context.Context, brand handlers.Brand) error {
	cfg := a.cfg
	sessionKeys, err := a.sessionKeys(ctx)
	if err != nil {
		return err
	}
	merchant := cfg.MerchantName
	if merchant == "" {
		merchant = "Demo Shop"
	}
	h := handlers.New(handlers.Config{
		PublicURL:      a.url,
		MerchantName:   merchant,
		Sandbox:        cfg.Sandbox(),
		SandboxURL:     a.sandboxURL(),
		WebhookSecrets: func() []string { return *a.secrets.Load() },
		SessionKeys:    sessionKeys,
		WebhookRate:    cfg.WebhookRate,
		WebhookBadRate: cfg.WebhookBadRate,
		APIRate:        cfg.APIRate,
		TrustedProxies: cfg.TrustedProxies,
		SignInLimits:   cfg.SignInLimits,
		PasswordCost:   cfg.PasswordCost,
		Now:            cfg.Now,
		Ready:          a.ready,
		Heartbeat:      cfg.Heartbeat,
		StreamLimits:   cfg.StreamLimits,
		Ingest:         a.gate,
		Metrics:        a.metricsOnMain(),
		Operator:       metrics.BearerToken(cfg.MetricsToken),
		Observer:       a.Metrics,
		Logger:         a.log,
		Brand:          brand,
		Locale:         a.locale,
		WebhookURL:     a.webhookURL(),
		OrderTTL:       cfg.OrderTTL,
		Notifications:  a.Notify,
	}, a.DB, a.Service, a.Banq, a.Hub)
	a.Echo = echo.New()
	a.Echo.HideBanner, a.Echo.HidePort = true, true
	h.Routes(a.Echo)
	return nil
}

func (a *App) sandboxURL() string {
	if a.Sandbox == nil {
		return ""
	}
	return a.Sandbox.URL
}

// URL is the app's base URL (CHECKOUT_PUBLIC_URL, or the listener's).
func (a *App) URL() string { return a.url }

// browsable turns a wildcard listen address into one a browser on this machine can open.
func browsable(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func randomHex() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// sessionKeys derives the cookie hash and encryption keys from CHECKOUT_SESSION_KEY (and the
// previous key while rotating), or from a key generated and kept in the database in sandbox mode.
func (a *App) sessionKeys(ctx context.Context) ([][]byte, error) {
	key := a.cfg.SessionKey
	if key == "" && !a.cfg.Sandbox() {
		// ParseConfig says so too; this guards every other way of starting the app.
		return nil, errors.New("CHECKOUT_SESSION_KEY is required outside sandbox mode")
	}
	if key == "" {
		var err error
		if key, err = a.DB.SettingOrInit(ctx, "session_key", randomHex); err != nil {
			return nil, err
		}
	}
	derive := func(k string) [][]byte {
		hash := sha256.Sum256([]byte("checkout session hash\x00" + k))
		block := sha256.Sum256([]byte("checkout session block\x00" + k))
		return [][]byte{hash[:], block[:]}
	}
	keys := derive(key)
	if a.cfg.SessionOld != "" {
		keys = append(keys, derive(a.cfg.SessionOld)...)
	}
	return keys, nil
}

func (a *App) webhookURL() string {
	if a.cfg.PublicURL == "" {
		// Without a public URL Banq can only be the local sandbox: use loopback.
		_, port, _ := net.SplitHostPort(a.ln.Addr().String())
		return "http://127.0.0.1:" + port + "/webhooks/banq"
	}
	return a.url + "/webhooks/banq"
}

// connectLater calls the service's Connect with growing pauses until it succeeds or ctx ends.
func (a *App) connectLater(ctx context.Context) {
	for d := time.Second; ; d = min(2*d, 5*time.Minute) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if err := a.Service.Connect(ctx); err == nil {
			return
		} else {
			a.log.Error("register webhook with Banq", "err", err)
		}
	}
}

// announceDemo makes sure the sandbox demo login exists and prints it until its password is
// changed.
func (a *App) announceDemo(ctx context.Context, stdout io.Writer) error {
	u, err := a.DB.UserByEmail(ctx, DemoEmail)
	var password string
	if missing := checkout.ErrorCode(err) == checkout.ENotFound; missing || (err == nil && u.Demo) {
		password, err = a.DB.SettingOrInit(ctx, store.DemoPasswordSetting, func() (string, error) {
			h, err := randomHex()
			return h[:16], err
		})
		if err == nil && missing {
			hash, herr := bcrypt.GenerateFromPassword([]byte(password), a.cfg.PasswordCost)
			if herr != nil {
				return herr
			}
			u, err = a.DB.CreateUser(ctx, checkout.User{Email: DemoEmail, PasswordHash: hash, Demo: true})
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nBanq checkout, SANDBOX MODE: payments go to the built-in Banq sandbox, no real money.\n")
	fmt.Fprintf(stdout, "  Checkout:        %s\n", a.url)
	fmt.Fprintf(stdout, "  Payer's app:     %s/sandbox/\n", a.Sandbox.URL)
	if u.Demo {
		fmt.Fprintf(stdout, "  Demo login:      %s / %s   (change it under Account)\n\n", DemoEmail, password)
	} else {
		fmt.Fprintf(stdout, "  Demo login:      %s (password changed)\n\n", DemoEmail)
	}
	return nil
}

// Run serves until ctx ends, then shuts down in order: streams are told to reconnect and
// closed, the server stops accepting and drains, the webhook worker finishes its current items,
// and the database closes. All of it within CHECKOUT_SHUTDOWN_TIMEOUT: past it, requests still
// running are cut off and webhooks still being processed stay pending in the inbox for the next
// start. It returns nil after a clean shutdown.
func (a *App) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           a.Echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // lifted per stream
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	graceful.CloseUnusedOnShutdown(srv)
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	abortCtx, abortWork := context.WithCancel(context.WithoutCancel(ctx))
	defer abortWork()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a.workerRunning.Store(true)
		defer a.workerRunning.Store(false)
		a.Service.RunWorkerUntil(workCtx, abortCtx)
	}()
	go func() {
		defer wg.Done()
		// One instance at a time reconciles; another takes over if it dies.
		a.DB.Exclusive(workCtx, "reconciler", 0, func(ctx context.Context) {
			a.Service.RunReconciler(ctx, a.cfg.ReconcileInterval)
		})
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.DB.ReleaseDeliveryLeases(workCtx); err != nil {
			a.log.Error("release notification leases left by a previous process", "err", err)
		}
		a.Sender.Run(workCtx)
	}()
	if a.Feeder != nil {
		wg.Add(2)
		go func() {
			defer wg.Done()
			a.Feeder.Run(workCtx, 4)
		}()
		go func() {
			defer wg.Done()
			a.DB.WatchChanges(workCtx, 0, a.Feeder.Changed)
		}()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(a.ln) }()
	stopMetrics := a.serveMetrics()
	a.log.Info("checkout listening", "url", a.url, "sandbox", a.cfg.Sandbox())

	var err error
	select {
	case <-ctx.Done():
	case err = <-served: // the listener failed
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	a.Hub.Close()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		a.log.Warn("shutdown: requests still running were cut off", "err", serr)
		err = errors.Join(err, fmt.Errorf("%w: requests still running were cut off", ErrShutdownTimeout), srv.Close())
	}
	stopWork()
	worked := make(chan struct{})
	go func() { wg.Wait(); close(worked) }()
	select {
	case <-worked:
	case <-shutCtx.Done():
		a.log.Warn("shutdown: webhooks still being processed are left pending for the next start")
		abortWork()
		<-worked
		err = errors.Join(err, fmt.Errorf("%w: webhooks being processed were left pending", ErrShutdownTimeout))
	}
	err = errors.Join(err, stopMetrics())
	err = errors.Join(err, a.close())
	a.log.Info("stopped", "clean", err == nil)
	return err
}

func (a *App) close() error {
	var errs []error
	if a.ln != nil {
		a.ln.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	if a.httpClient != nil {
		// A pooled connection to the sandbox would hold its shutdown for seconds.
		a.httpClient.CloseIdleConnections()
	}
	if a.Sandbox != nil {
		if err := a.Sandbox.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the sandbox: %w", err))
		}
	}
	if a.DB != nil {
		errs = append(errs, a.DB.Close())
	}
	return errors.Join(errs...)
}

// NewLogger returns the app's logger: JSON when format is "json", or when format is "" and w is
// not a terminal; text otherwise.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// wakeSender publishes a committed change and wakes the notification sender, whose outbox rows
// that change may have written. (Other instances' changes reach their senders by their poll.)
type wakeSender struct {
	checkout.Publisher
	sender *notify.Sender
}

func (w wakeSender) Publish(u checkout.Update) {
	w.Publisher.Publish(u)
	w.sender.Wake()
}

// NotifyPolicy is where the shop's notification endpoints may be: sandbox mode lets them be on
// this machine, since the shop being tried runs beside it.
func NotifyPolicy(cfg Config) notify.Policy {
	return notify.Policy{AllowLoopback: cfg.Sandbox(), AllowPrivate: cfg.NotifyAllowPrivate}
}
