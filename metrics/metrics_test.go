package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/metrics"
)

// value returns the value of the sample of name whose labels include all of labels (pairs), and
// whether there is one.
func value(t *testing.T, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil && !strings.Contains(err.Error(), "error collecting") {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range s.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue(), true
			case s.Gauge != nil:
				return s.Gauge.GetValue(), true
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestScrapeTimeSources(t *testing.T) {
	oldest := time.Now().Add(-90 * time.Second)
	m := metrics.New(metrics.Sources{
		Streams: func() int { return 3 },
		Inbox:   func(context.Context) (int, time.Time, error) { return 2, oldest, nil },
		Orders: func(context.Context) (map[checkout.State]int, error) {
			return map[checkout.State]int{checkout.StatePaid: 4, checkout.StateWaiting: 1}, nil
		},
		WebhookHealth: func(context.Context) (checkout.WebhookHealth, error) {
			return checkout.WebhookHealth{Broken: true, Unannounced: 3}, nil
		},
	})
	for _, tt := range []struct {
		name   string
		labels []string
		check  func(float64) bool
		want   string
	}{
		{"checkout_sse_streams_open", nil, func(v float64) bool { return v == 3 }, "3"},
		{"checkout_webhook_inbox_pending", nil, func(v float64) bool { return v == 2 }, "2"},
		{"checkout_webhook_inbox_oldest_pending_seconds", nil, func(v float64) bool { return v >= 90 && v < 100 }, "about 90"},
		{"checkout_orders", []string{"state", "paid"}, func(v float64) bool { return v == 4 }, "4"},
		{"checkout_webhooks_broken", nil, func(v float64) bool { return v == 1 }, "1"},
		{"checkout_webhook_unannounced_changes", nil, func(v float64) bool { return v == 3 }, "3"},
		{"checkout_orders", []string{"state", "failed"}, func(v float64) bool { return v == 0 }, "0 (every state is listed)"},
		{"checkout_webhooks_received_total", []string{"outcome", "rejected", "reason", "too_large"}, func(v float64) bool { return v == 0 }, "0 before any webhook"},
	} {
		if v, ok := value(t, m, tt.name, tt.labels...); !ok || !tt.check(v) {
			t.Errorf("%s%v = %v (present %v), want %s", tt.name, tt.labels, v, ok, tt.want)
		}
	}
}

func TestWebhookProcessedSeparatesRetries(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	at := time.Now()
	m.WebhookProcessed(checkout.InboxWebhook{Status: checkout.WebhookPending, ReceivedAt: at}, time.Millisecond)
	m.WebhookProcessed(checkout.InboxWebhook{Status: checkout.WebhookApplied, ReceivedAt: at, ProcessedAt: at.Add(2 * time.Second)}, time.Millisecond)
	if v, _ := value(t, m, "checkout_webhook_processing_seconds", "result", "retry"); v != 1 {
		t.Errorf("retry attempts: got %v, want 1", v)
	}
	if v, _ := value(t, m, "checkout_webhook_processing_seconds", "result", "applied"); v != 1 {
		t.Errorf("applied attempts: got %v, want 1", v)
	}
	if v, _ := value(t, m, "checkout_webhook_delay_seconds"); v != 1 {
		t.Errorf("delays observed: got %v, want 1 (a retry is not done with yet)", v)
	}
}

func TestHandlerToken(t *testing.T) {
	m := metrics.New(metrics.Sources{
		Orders: func(context.Context) (map[checkout.State]int, error) { return nil, errors.New("database gone") },
	})
	m.Request("/orders", "GET", 200, time.Millisecond, false)
	srv := httptest.NewServer(m.Handler("0123456789abcdef"))
	defer srv.Close()
	for _, tt := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic 0123456789abcdef", http.StatusUnauthorized},
		{"Bearer 0123456789abcdef", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Authorization %q: got %d, want %d", tt.auth, resp.StatusCode, tt.want)
		}
		// A source that fails costs its own series, not the whole page.
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `checkout_http_requests_total{code="200",method="GET",route="/orders"} 1`) {
			t.Errorf("scrape with a failing source lacks the other metrics:\n%s", body)
		}
	}
}
