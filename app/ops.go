package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/metrics"
)

// ErrShutdownTimeout is returned by Run when shutdown took longer than CHECKOUT_SHUTDOWN_TIMEOUT
// and cut work short. Nothing is half-done: a request cut off gets no answer (Banq delivers its
// webhook again), and a webhook cut off stays pending in the inbox for the next start.
var ErrShutdownTimeout = errors.New("shutdown took longer than CHECKOUT_SHUTDOWN_TIMEOUT")

// newMetrics creates the app's metrics over its database and hub, and opens the metrics
// listener when CHECKOUT_METRICS_ADDR is set.
func (a *App) newMetrics() error {
	a.Metrics = metrics.New(metrics.Sources{
		Streams: a.Hub.Subscribers,
		Inbox: func(ctx context.Context) (int, time.Time, error) {
			st, err := a.DB.WebhookStats(ctx)
			return st.Pending, st.OldestPending, err
		},
		Orders: a.DB.CountByState,
		// Read at scrape time: the service is made after the metrics.
		WebhookHealth: func(ctx context.Context) (checkout.WebhookHealth, error) { return a.Service.WebhookHealth(ctx) },
		Logger:        a.log.With("component", "metrics"),
	})
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on CHECKOUT_METRICS_ADDR %s: %w", a.cfg.MetricsAddr, err)
	}
	a.metricsLn = ln
	return nil
}

// Addr is the address the checkout listens on (CHECKOUT_ADDR, with the port chosen when it was 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// MetricsURL is the URL of the metrics on their own listener, or "" when there is none.
func (a *App) MetricsURL() string {
	if a.metricsLn == nil {
		return ""
	}
	return "http://" + browsable(a.metricsLn.Addr().String()) + "/metrics"
}

// metricsOnMain is the metrics handler for the main listener: only behind a bearer token.
func (a *App) metricsOnMain() http.Handler {
	if a.cfg.MetricsToken == "" {
		return nil
	}
	return a.Metrics.Handler(a.cfg.MetricsToken)
}

// serveMetrics serves /metrics on the metrics listener, if any, until the returned stop is
// called (a scrape in flight then is cut off: Prometheus tries again at its next interval).
func (a *App) serveMetrics() (stop func() error) {
	if a.metricsLn == nil {
		return func() error { return nil }
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler(a.cfg.MetricsToken))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener", "err", err)
		}
	}()
	a.log.Info("metrics listening", "url", a.MetricsURL(), "token", a.cfg.MetricsToken != "")
	return srv.Close
}

// readyFor is how long a readiness verdict is reused: /readyz is public, and each check writes
// to the database and calls Banq, so probes in a tight loop must not turn into load on either.
// readyWithin bounds one check, Banq's retries included, so a probe gets its answer in time.
const (
	readyFor    = time.Second
	readyWithin = time.Second
)

// ready reports whether the app can do its work: the database is writable, an authenticated
// call to Banq (users/me) succeeds, and the webhook worker runs.
//
// Banq is checked with a cheap authenticated call rather than the token alone. The token cache
// answers from memory while its token is valid, so asking for the token would not notice Banq
// going away; forcing a new token on every probe would load the auth server (and may hit its
// quota). An authenticated call tells what matters: whether calls to Banq work now. When the
// token endpoint fails but the cached token is still valid, calls work and the app stays
// ready; once the token has expired and cannot be renewed, the call fails and it is not.
func (a *App) ready(ctx context.Context) error {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	if !a.readyAt.IsZero() && time.Since(a.readyAt) < readyFor {
		return a.readyErr
	}
	ctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	a.readyErr = a.check(ctx)
	a.readyAt = time.Now()
	return a.readyErr
}

func (a *App) check(ctx context.Context) error {
	if err := a.DB.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if _, err := a.Banq.Me(ctx); err != nil {
		return fmt.Errorf("banq: %w", err)
	}
	if err := a.Service.NotConnected(); err != nil {
		// Banq answers, but not in a way that lets orders be sent.
		return fmt.Errorf("banq: %w", err)
	}
	if !a.workerRunning.Load() {
		return errors.New("webhook worker not running")
	}
	return nil
}

// contextHandler adds to each record the request id found in its context (put there by the
// handlers with banq.WithRequestID), so that every line a request causes, the Banq client's
// included, can be found by that id.
type contextHandler struct{ slog.Handler }

// withRequestIDs returns log with contextHandler in front of its handler (once).
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(contextHandler); ok {
		return log
	}
	return slog.New(contextHandler{log.Handler()})
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := banq.RequestIDFrom(ctx); id != "" && !hasAttr(r, "request_id") {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
