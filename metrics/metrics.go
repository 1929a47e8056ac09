// Package metrics exposes the checkout's Prometheus metrics: HTTP requests, webhooks received
// and processed, the webhook inbox, Banq API calls, open live streams and orders by state.
//
// Each Metrics has a registry of its own (never the global default one), so several apps can
// run in one process, as the tests do. It is a boundary of its own because it is the only part
// that knows Prometheus: handlers, the worker and the Banq client report through small hooks.
package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/banq-checkout/checkout/checkout"
)

// Sources are read when Prometheus scrapes: nothing is counted twice, and a restart loses nothing.
type Sources struct {
	// Streams returns how many live streams (SSE) are open.
	Streams func() int
	// Inbox returns how many webhooks wait in the inbox and when the oldest of them arrived
	// (zero when none waits).
	Inbox func(ctx context.Context) (pending int, oldest time.Time, err error)
	// Orders returns how many orders are in each state.
	Orders func(ctx context.Context) (map[checkout.State]int, error)
	// WebhookHealth says whether Banq's webhooks look broken (checkout.Service.WebhookHealth).
	WebhookHealth func(ctx context.Context) (checkout.WebhookHealth, error)
	// Logger receives scrape errors; default discard.
	Logger *slog.Logger
}

// Metrics holds the checkout's collectors and their registry.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	webhooks     *prometheus.CounterVec
	processing   *prometheus.HistogramVec
	delay        prometheus.Histogram
	banqCalls    *prometheus.CounterVec
	banqDuration *prometheus.HistogramVec
}

// New returns the checkout's metrics on a new registry, with the Go runtime and process
// collectors beside them.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: src.Logger,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkout_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "checkout_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method; live streams are left out (they last as long as the page).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkout_webhooks_received_total",
			Help: "Banq webhooks received, by outcome (stored, duplicate, rejected, error) and, for rejected ones, reason (signature, malformed, too_large, unreadable).",
		}, []string{"outcome", "reason"}),
		processing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "checkout_webhook_processing_seconds",
			Help:    "Time the worker took over one attempt at an inbox webhook (fetch from Banq and apply), by result (applied, ignored, failed, retry).",
			Buckets: prometheus.DefBuckets,
		}, []string{"result"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "checkout_webhook_delay_seconds",
			Help:    "Time from a webhook's arrival in the inbox until it was done with (applied, ignored or failed).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}),
		banqCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkout_banq_requests_total",
			Help: "Attempts at Banq API calls (token fetches included), by endpoint and status code; code 0 means no answer (network failure or timeout).",
		}, []string{"endpoint", "code"}),
		banqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "checkout_banq_request_duration_seconds",
			Help:    "Time of one attempt at a Banq API call, by endpoint.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint"}),
	}
	for _, o := range [][2]string{
		{checkout.WebhookStored, ""}, {checkout.WebhookDuplicate, ""}, {checkout.WebhookError, ""},
		{checkout.WebhookRejected, checkout.ReasonSignature}, {checkout.WebhookRejected, checkout.ReasonMalformed},
		{checkout.WebhookRejected, checkout.ReasonTooLarge}, {checkout.WebhookRejected, checkout.ReasonUnreadable}, {checkout.WebhookRejected, checkout.ReasonRateLimited},
	} {
		m.webhooks.WithLabelValues(o[0], o[1]) // present at 0 from the start, so rate() works
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.webhooks, m.processing, m.delay, m.banqCalls, m.banqDuration,
		&scraped{src: src},
	)
	return m
}

// Registry is where the metrics are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records one answered HTTP request. route is the route pattern ("/orders/:id"), never
// the path, so that the number of series stays bounded. A stream's duration is not recorded.
func (m *Metrics) Request(route, method string, status int, d time.Duration, stream bool) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	if !stream {
		m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
	}
}

// Webhook records one webhook received: outcome is one of checkout's Webhook{Stored,Duplicate,
// Rejected,Error}; reason one of checkout's Reason* for a rejected webhook, else "".
func (m *Metrics) Webhook(outcome, reason string) {
	m.webhooks.WithLabelValues(outcome, reason).Inc()
}

// WebhookProcessed records one attempt of the worker at an inbox webhook, as it left the
// attempt (Status pending means it will be retried).
func (m *Metrics) WebhookProcessed(w checkout.InboxWebhook, took time.Duration) {
	result := w.Status
	if result == checkout.WebhookPending {
		result = "retry"
	}
	m.processing.WithLabelValues(result).Observe(took.Seconds())
	if result != "retry" && !w.ReceivedAt.IsZero() && !w.ProcessedAt.IsZero() {
		m.delay.Observe(w.ProcessedAt.Sub(w.ReceivedAt).Seconds())
	}
}

// BanqCall records one attempt at a Banq call; it has the signature of banq.Config.Observe.
func (m *Metrics) BanqCall(endpoint string, status int, d time.Duration) {
	m.banqCalls.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.banqDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// Handler serves the metrics in Prometheus's text format. When token is not empty it answers
// 401 unless the request carries "Authorization: Bearer <token>".
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
	if token == "" {
		return h
	}
	authorized := BearerToken(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// BearerToken returns a check that a request carries token as its bearer token. With token ""
// no request does.
func BearerToken(token string) func(*http.Request) bool {
	if token == "" {
		return func(*http.Request) bool { return false }
	}
	want := sha256.Sum256([]byte(token))
	return func(r *http.Request) bool {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Compare digests, so that the comparison takes the same time whatever the length.
		sum := sha256.Sum256([]byte(got))
		return ok && subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
}

// scraped collects what is read from the sources at scrape time.
type scraped struct{ src Sources }

var (
	streamsDesc = prometheus.NewDesc("checkout_sse_streams_open",
		"Live streams (server-sent events) open now.", nil, nil)
	inboxDesc = prometheus.NewDesc("checkout_webhook_inbox_pending",
		"Webhooks stored in the inbox and not yet done with.", nil, nil)
	inboxAgeDesc = prometheus.NewDesc("checkout_webhook_inbox_oldest_pending_seconds",
		"Age of the oldest webhook waiting in the inbox; 0 when none waits.", nil, nil)
	ordersDesc = prometheus.NewDesc("checkout_orders",
		"Orders by state.", []string{"state"}, nil)
	brokenDesc = prometheus.NewDesc("checkout_webhooks_broken",
		"1 while Banq's webhooks look broken (the merchant pages show a banner: orders sent with no webhook since, or changes the reconciler found that no webhook announced), else 0.", nil, nil)
	unannouncedDesc = prometheus.NewDesc("checkout_webhook_unannounced_changes",
		"Payment changes the reconciler found recently (within the alert's window) that no webhook had announced.", nil, nil)
)

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamsDesc
	ch <- inboxDesc
	ch <- inboxAgeDesc
	ch <- ordersDesc
	ch <- brokenDesc
	ch <- unannouncedDesc
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.src.Streams != nil {
		ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(s.src.Streams()))
	}
	if s.src.Inbox != nil {
		pending, oldest, err := s.src.Inbox(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(inboxDesc, err)
		} else {
			age := 0.0
			if pending > 0 && !oldest.IsZero() {
				age = max(time.Since(oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(inboxDesc, prometheus.GaugeValue, float64(pending))
			ch <- prometheus.MustNewConstMetric(inboxAgeDesc, prometheus.GaugeValue, age)
		}
	}
	if s.src.WebhookHealth != nil {
		h, err := s.src.WebhookHealth(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(brokenDesc, err)
		} else {
			broken := 0.0
			if h.Broken {
				broken = 1
			}
			ch <- prometheus.MustNewConstMetric(brokenDesc, prometheus.GaugeValue, broken)
			ch <- prometheus.MustNewConstMetric(unannouncedDesc, prometheus.GaugeValue, float64(h.Unannounced))
		}
	}
	if s.src.Orders != nil {
		counts, err := s.src.Orders(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(ordersDesc, err)
			return
		}
		for _, st := range checkout.States { // every state, 0 included, so a sum is always whole
			ch <- prometheus.MustNewConstMetric(ordersDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
		}
	}
}
