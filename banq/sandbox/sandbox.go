// Package sandbox is a built-in stand-in for Banq: it serves Banq's Open API over real HTTP,
// keeps its world in SQLite, plays the payer's Banq app in the browser, delivers signed webhooks
// with retries, and misbehaves on purpose when told to (see Faults).
//
// The checkout runs it in-process on its own loopback listener (Start) and talks to it with the
// same HTTP client it uses for the real Banq; integrators can run it alone (Run).
//
// Besides the Open API (paths in package banq) the Handler serves, without a token:
//
//	POST /sandbox/payments/{id}/{approve|decline|fail|expire|hold|resume|cancel}
//	     JSON: 200 with the payment, 404, 409 for an illegal transition; fail takes "reason"
//	     (JSON body, form or query). From a browser (Accept: text/html): 303 back to the page.
//	GET  /sandbox/payments?externalOrderCode=&source=   JSON array, newest first
//	GET  /sandbox/faults, PUT /sandbox/faults           Faults as JSON
//	GET  /sandbox/deliveries                            delivery log: a page, or JSON (?format=json)
//	GET  /sandbox/, /sandbox/banqs/{guid}, /sandbox/pay/{id}   the payer's Banq app
package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/graceful"
)

// Default credentials the token endpoint accepts when Config leaves them empty.
const (
	DefaultClientID = "sandbox-client"
	DefaultUsername = "merchant@sandbox.banq"
	DefaultPassword = "sandbox-password"
)

// Defaults of Config.
const (
	DefaultTokenTTL        = time.Hour
	DefaultStepDelay       = 400 * time.Millisecond
	DefaultDeliveryBackoff = time.Second
	DefaultKeepDeliveries  = 7 * 24 * time.Hour
	pruneInterval          = time.Hour
	maxDeliveryBackoff     = 30 * time.Second
	deliveryTimeout        = 10 * time.Second
	deliveryWorkers        = 4
	maxBodyBytes           = 1 << 20
)

// Errors of the payment actions (Approve, Fail, ...).
var (
	ErrNotFound          = errors.New("sandbox: payment not found")
	ErrIllegalTransition = errors.New("sandbox: illegal transition")
	ErrInvalidReason     = errors.New("sandbox: unknown fail reason")
	ErrUnknownPayer      = errors.New("sandbox: unknown payer")
)

// Config configures a Sandbox. The zero value works: an in-memory database and the defaults.
type Config struct {
	// DBPath is the SQLite file; "" means a private in-memory database (tests).
	DBPath string
	// ClientID, Username and Password are the credentials the token endpoint accepts;
	// empty ones default to DefaultClientID, DefaultUsername and DefaultPassword.
	ClientID, Username, Password string
	// TokenTTL is the lifetime of issued tokens; default 1h.
	TokenTTL time.Duration
	// StepDelay is the delay between the steps of an approval flow; default 400ms.
	StepDelay time.Duration
	// DeliveryBackoff is the first webhook retry delay, doubling per attempt, capped at 30s; default 1s.
	DeliveryBackoff time.Duration
	// PublicURL is the sandbox's own base URL as browsers see it (payer links, paymentLink).
	// Start sets it to the listener's URL when empty; a bare Handler derives it from the request.
	PublicURL string
	// Faults are the misbehaviours in force at start; change them later with SetFaults.
	Faults Faults
	// Logger receives operational logs; default discards. Secrets and tokens are never logged.
	Logger *slog.Logger
	// KeepDeliveries is how long the delivery log and finished deliveries are kept; default 7
	// days. Idempotency records are kept for good: Banq answers a repeated key the same forever.
	KeepDeliveries time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.StepDelay <= 0 {
		c.StepDelay = DefaultStepDelay
	}
	if c.DeliveryBackoff <= 0 {
		c.DeliveryBackoff = DefaultDeliveryBackoff
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.KeepDeliveries <= 0 {
		c.KeepDeliveries = DefaultKeepDeliveries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sandbox is one Banq stand-in with its own database. Its methods are safe for concurrent use.
type Sandbox struct {
	cfg      Config
	db       *sql.DB
	log      *slog.Logger
	now      func() time.Time
	merchant banq.BanqAccount
	space    banq.AccountSpace
	userID   string
	tokens   tokenStore
	client   *http.Client
	handler  http.Handler

	faultsMu sync.Mutex
	faults   Faults
	rng      *rand.Rand

	wakeSteps    chan struct{}
	wakeDelivery chan struct{}
	// outboxAdded is set when a webhook is queued for delivery, so that the dispatcher is woken
	// after commit only then, not after every API call.
	outboxAdded atomic.Bool

	runMu     sync.Mutex
	started   bool
	closed    bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens (and on first use creates, migrates and seeds) the sandbox's database. Call Start
// to run the flow and webhook workers, and Close when done.
func New(cfg Config) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(cfg.DBPath)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{
		cfg:          cfg,
		db:           db,
		log:          cfg.Logger,
		now:          cfg.Now,
		wakeSteps:    make(chan struct{}, 1),
		wakeDelivery: make(chan struct{}, 1),
	}
	s.tokens.tokens = map[string]time.Time{}
	ctx := context.Background()
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.seed(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadIdentity(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.SetFaults(cfg.Faults)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = deliveryWorkers
	s.client = &http.Client{
		Transport: transport,
		Timeout:   deliveryTimeout,
		// A redirect is not a delivery: it counts as a failed attempt, as at Banq.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the Open API, the payer pages and the sandbox's control endpoints.
func (s *Sandbox) Handler() http.Handler { return s.handler }

// MerchantBanq is the seeded merchant's banq: the destination of every payment.
func (s *Sandbox) MerchantBanq() banq.BanqAccount { return s.merchant }

// AccountSpace is the seeded merchant's account space.
func (s *Sandbox) AccountSpace() banq.AccountSpace { return s.space }

// PayPageURL is the payer page of one payment (what get-paid-link answers as paymentLink). It is
// relative when the sandbox does not know its public URL yet (a bare Handler without PublicURL).
func (s *Sandbox) PayPageURL(paymentID string) string {
	return s.cfg.PublicURL + "/sandbox/pay/" + paymentID
}

// Start runs the background workers (approval-flow steps, webhook delivery) until ctx is done or
// Close is called. Steps and deliveries left pending by an earlier run resume. A second call does
// nothing.
func (s *Sandbox) Start(ctx context.Context) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	jobs := make(chan delivery)
	s.wg.Add(3 + deliveryWorkers)
	go func() { defer s.wg.Done(); s.runSteps(ctx) }()
	go func() { defer s.wg.Done(); s.runPruner(ctx) }()
	go func() { defer s.wg.Done(); defer close(jobs); s.runDispatcher(ctx, jobs) }()
	for range deliveryWorkers {
		go func() { defer s.wg.Done(); s.runDeliveryWorker(ctx, jobs) }()
	}
}

// Close stops the workers, waits for them, and closes the database. It is safe to call twice.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		s.runMu.Lock()
		s.closed = true
		if s.cancel != nil {
			s.cancel()
		}
		s.runMu.Unlock()
		s.wg.Wait()
		s.client.CloseIdleConnections()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// wakeDispatcher wakes the delivery dispatcher when a committed change queued a webhook. The
// database has one connection, so a dispatcher woken by another change's commit claims only
// after the queuing transaction ended.
func (s *Sandbox) wakeDispatcher() {
	if s.outboxAdded.Swap(false) {
		notify(s.wakeDelivery)
	}
}

// notify wakes a worker without blocking: a pending wake-up already covers this one.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// tokenStore keeps issued access tokens in memory: a restart invalidates them, and clients renew
// on 401 as they must with the real Banq.
type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry
}

func (t *tokenStore) add(token string, exp, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.tokens {
		if !now.Before(e) {
			delete(t.tokens, k)
		}
	}
	t.tokens[token] = exp
}

func (t *tokenStore) valid(token string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.tokens[token]
	return ok && now.Before(exp)
}

// Running is a Sandbox serving on its own listener.
type Running struct {
	*Sandbox
	// URL is the base URL of the listener, e.g. http://127.0.0.1:PORT.
	URL string

	srv       *http.Server
	served    chan error
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start creates a Sandbox, listens on addr (e.g. "127.0.0.1:0"), serves its Handler and starts
// its workers. It stops when ctx is done or on Close. cfg.PublicURL defaults to the listener's URL.
func Start(ctx context.Context, addr string, cfg Config) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = url
	}
	s, err := New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	r := &Running{
		Sandbox: s,
		URL:     url,
		srv: &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      2 * time.Minute, // API latency faults can be long
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		},
		served: make(chan error, 1),
		stop:   make(chan struct{}),
	}
	graceful.CloseUnusedOnShutdown(r.srv)
	go func() { r.served <- r.srv.Serve(ln) }()
	s.Start(ctx)
	go func() {
		select {
		case <-ctx.Done():
			r.Close()
		case <-r.stop:
		}
	}()
	return r, nil
}

// Close shuts the server down (waiting up to 2s for requests in flight, then cutting them off),
// then closes the sandbox.
func (r *Running) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		if r.srv.Shutdown(ctx) != nil {
			// Still busy: a long apiLatency fault, or a connection that sent part of a request
			// and stopped. Both are cut off; neither is an error of the sandbox's.
			r.log.Warn("sandbox: requests still open at shutdown were cut off")
			r.srv.Close()
		}
		if serr := <-r.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = serr
		}
		r.closeErr = errors.Join(err, r.Sandbox.Close())
	})
	return r.closeErr
}

var _ io.Closer = (*Running)(nil)
