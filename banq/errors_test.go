package banq_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

var sentinels = []error{banq.ErrNotFound, banq.ErrUnauthorized, banq.ErrForbidden, banq.ErrValidation, banq.ErrUnavailable, banq.ErrUnexpected}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		status    int
		want      error
		temporary bool
		attempts  int // with MaxAttempts 3
	}{
		{http.StatusBadRequest, banq.ErrValidation, false, 1},
		{http.StatusUnauthorized, banq.ErrUnauthorized, false, 2}, // renewed once
		{http.StatusForbidden, banq.ErrForbidden, false, 1},
		{http.StatusNotFound, banq.ErrNotFound, false, 1},
		{http.StatusConflict, banq.ErrUnexpected, false, 1},
		{http.StatusUnprocessableEntity, banq.ErrValidation, false, 1},
		{http.StatusTooManyRequests, banq.ErrUnavailable, true, 3},
		{http.StatusInternalServerError, banq.ErrUnavailable, true, 3},
		{http.StatusBadGateway, banq.ErrUnavailable, true, 3},
		{http.StatusServiceUnavailable, banq.ErrUnavailable, true, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFakeBanq(t)
			var calls atomic.Int64
			fields := map[string][]string{"funds": {"must be positive"}, "source.banqGuid": {"is required"}}
			f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
				calls.Add(1)
				writeJSON(w, tt.status, banq.ErrorBody{Message: "the message", Errors: fields})
			})
			c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.MaxAttempts = 3 })
			_, err := c.Payment(t.Context(), "pay-1")

			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, s == tt.want)
				}
			}
			if got := banq.Temporary(err); got != tt.temporary {
				t.Errorf("Temporary(%v) = %v, want %v", err, got, tt.temporary)
			}
			if got := calls.Load(); got != int64(tt.attempts) {
				t.Errorf("got %d attempts, want %d", got, tt.attempts)
			}
			e, ok := errors.AsType[*banq.Error](err)
			if !ok {
				t.Fatalf("got %T, want *banq.Error", err)
			}
			if e.Op != "payments.get" || e.Status != tt.status || !strings.HasPrefix(e.Message, "the message") || len(e.Fields) != 2 {
				t.Errorf("got %+v, want Op payments.get, Status %d, Message and Fields from the body", e, tt.status)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &banq.Error{Op: "payments.get-paid-direct", Status: 422, Message: "invalid payment",
		Fields: map[string][]string{"source.banqGuid": {"is required"}, "funds": {"must be positive", "too many decimals"}}}
	want := "banq payments.get-paid-direct: 422: invalid payment (funds: must be positive, too many decimals; source.banqGuid: is required)"
	if got := e.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestErrorBodyNotJSON(t *testing.T) {
	f := newFakeBanq(t)
	page := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + strings.Repeat("nginx ", 500) + "</body></html>"
	f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, page)
	})
	f.handle("GET /api/v1/transactions/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		w.WriteHeader(http.StatusNotFound)
	})
	c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.MaxAttempts = 1 })

	_, err := c.Payment(t.Context(), "pay-1")
	e, ok := errors.AsType[*banq.Error](err)
	if !ok || !errors.Is(err, banq.ErrUnavailable) {
		t.Fatalf("got %v, want *Error matching ErrUnavailable", err)
	}
	if !strings.HasPrefix(e.Message, "<html> <head><title>502 Bad Gateway</title></head>") || len(e.Message) > 210 || strings.Contains(e.Message, "\n") {
		t.Errorf("got message %q, want the page's first 200 bytes on one line", e.Message)
	}

	_, err = c.Transaction(t.Context(), "tx-1")
	if e, ok := errors.AsType[*banq.Error](err); !ok || !errors.Is(err, banq.ErrNotFound) || e.Message != "not found" {
		t.Errorf("empty 404 body: got %v, want ErrNotFound with message \"not found\"", err)
	}
}

func TestRetriesStopAtMaxAttempts(t *testing.T) {
	for _, maxAttempts := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(maxAttempts), func(t *testing.T) {
			f := newFakeBanq(t)
			var calls atomic.Int64
			f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
				calls.Add(1)
				writeJSON(w, http.StatusServiceUnavailable, banq.ErrorBody{Message: "down"})
			})
			c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.MaxAttempts = maxAttempts })
			_, err := c.Payment(t.Context(), "pay-1")
			if !errors.Is(err, banq.ErrUnavailable) || !banq.Temporary(err) {
				t.Errorf("got %v, want ErrUnavailable, temporary", err)
			}
			if got := calls.Load(); got != int64(maxAttempts) {
				t.Errorf("got %d attempts, want %d", got, maxAttempts)
			}
		})
	}
}

func TestDefaultMaxAttempts(t *testing.T) {
	f := newFakeBanq(t)
	var calls atomic.Int64
	f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		calls.Add(1)
		writeJSON(w, http.StatusInternalServerError, banq.ErrorBody{Message: "oops"})
	})
	c := mustClient(t, f.srv.URL)
	if _, err := c.Payment(t.Context(), "pay-1"); !errors.Is(err, banq.ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
	if got := calls.Load(); got != 4 {
		t.Errorf("got %d attempts, want the default 4", got)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		maxBackoff time.Duration
		min, max   time.Duration
	}{
		{"waits as asked", "1", 5 * time.Second, 900 * time.Millisecond, 3 * time.Second},
		{"capped by MaxBackoff", "30", 50 * time.Millisecond, 40 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBanq(t)
			var calls atomic.Int64
			f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					writeJSON(w, http.StatusTooManyRequests, banq.ErrorBody{Message: "slow down"})
					return
				}
				writeJSON(w, http.StatusOK, testPayment("pay-1"))
			})
			c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.MaxBackoff = tt.maxBackoff })
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := c.Payment(t.Context(), "pay-1"); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < tt.min || d > tt.max {
				t.Errorf("took %v, want between %v and %v", d, tt.min, tt.max)
			}
		})
	}
}

func TestCanceledContextStopsAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, token string)
		cfg     func(*banq.Config)
	}{
		{
			name: "during a hanging request",
			handler: func(w http.ResponseWriter, r *http.Request, token string) {
				<-r.Context().Done()
			},
			cfg: func(cfg *banq.Config) { cfg.Timeout = time.Minute },
		},
		{
			name: "during backoff",
			handler: func(w http.ResponseWriter, r *http.Request, token string) {
				writeJSON(w, http.StatusServiceUnavailable, banq.ErrorBody{Message: "down"})
			},
			cfg: func(cfg *banq.Config) { cfg.BaseBackoff, cfg.MaxBackoff = time.Minute, time.Minute },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBanq(t)
			var calls atomic.Int64
			f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
				calls.Add(1)
				tt.handler(w, r, token)
			})
			c := mustClient(t, f.srv.URL, tt.cfg)
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err := c.Payment(ctx, "pay-1")
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v after cancel, want it to stop at once", d)
			}
			if !errors.Is(err, context.Canceled) || !banq.Temporary(err) {
				t.Errorf("got %v, want context.Canceled, temporary", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("got %d attempts, want 1", n)
			}
		})
	}
	t.Run("already canceled", func(t *testing.T) {
		f := newFakeBanq(t)
		c := mustClient(t, f.srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c.Payment(ctx, "pay-1"); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if n := f.tokens.Load(); n != 0 {
			t.Errorf("got %d token requests, want none", n)
		}
	})
}

func TestEachAttemptHasItsOwnTimeout(t *testing.T) {
	f := newFakeBanq(t)
	var calls atomic.Int64
	f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		if calls.Add(1) == 1 {
			<-r.Context().Done() // hangs until the client gives up on this attempt
			return
		}
		writeJSON(w, http.StatusOK, testPayment("pay-1"))
	})
	c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.Timeout = 100 * time.Millisecond })
	if _, err := c.Payment(t.Context(), "pay-1"); err != nil {
		t.Fatalf("got %v, want the second attempt to succeed", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("got %d attempts, want 2", n)
	}
}

func TestNetworkFailures(t *testing.T) {
	t.Run("connection dropped, then answered", func(t *testing.T) {
		f := newFakeBanq(t)
		var calls atomic.Int64
		f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
			if calls.Add(1) <= 2 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			writeJSON(w, http.StatusOK, testPayment("pay-1"))
		})
		var statuses []int
		c := mustClient(t, f.srv.URL, func(cfg *banq.Config) {
			// No connection reuse: the transport would otherwise retry a dropped reused
			// connection by itself, and the test could not count attempts.
			cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			cfg.Observe = func(endpoint string, status int, d time.Duration) {
				if endpoint == "payments.get" {
					statuses = append(statuses, status)
				}
			}
		})
		if _, err := c.Payment(t.Context(), "pay-1"); err != nil {
			t.Fatalf("got %v, want success on the third attempt", err)
		}
		if want := []int{0, 0, 200}; fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Errorf("observed statuses %v, want %v", statuses, want)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		l.Close()
		var attempts atomic.Int64
		c := mustClient(t, url, func(cfg *banq.Config) {
			cfg.MaxAttempts = 3
			cfg.Observe = func(string, int, time.Duration) { attempts.Add(1) }
		})
		_, err = c.Me(t.Context())
		if !errors.Is(err, banq.ErrUnavailable) || !banq.Temporary(err) {
			t.Errorf("got %v, want ErrUnavailable, temporary", err)
		}
		if _, ok := errors.AsType[net.Error](err); !ok {
			t.Errorf("got %v, want it to wrap the net.Error", err)
		}
		if n := attempts.Load(); n != 3 {
			t.Errorf("got %d attempts, want 3", n)
		}
	})
}

func TestLargeAnswers(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case banq.PathToken:
			writeJSON(w, http.StatusOK, banq.TokenResponse{AccessToken: "t", ExpiresIn: 60})
		case banq.PathPayments + "big-ok":
			fmt.Fprintf(w, `{"id":"%s"}`, big)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, big)
		}
	}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL)

	_, err := c.Payment(t.Context(), "big-ok")
	if e, ok := errors.AsType[*banq.Error](err); !ok || e.Status != http.StatusOK || !banq.Temporary(err) {
		t.Errorf("oversized success: got %v, want an *Error of status 200 with an unknown outcome (temporary)", err)
	}
	_, err = c.Payment(t.Context(), "big-error")
	if e, ok := errors.AsType[*banq.Error](err); !ok || !errors.Is(err, banq.ErrValidation) || len(e.Message) > 210 {
		t.Errorf("oversized error: got %.300v, want ErrValidation with a short message", err)
	}
}

func TestUnreadableSuccess(t *testing.T) {
	for _, body := range []string{`{"id": 12`, `{"id": true}`, `{}`, `<html>ok</html>`, ``} {
		t.Run(body, func(t *testing.T) {
			f := newFakeBanq(t)
			var calls atomic.Int64
			f.handle("POST /api/v1/payments/get-paid-direct", func(w http.ResponseWriter, r *http.Request, token string) {
				calls.Add(1)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, body)
			})
			c := mustClient(t, f.srv.URL)
			p, err := c.CreateGetPaidDirect(t.Context(), banq.CreatePayment{Funds: 1}, "key")
			if !banq.Temporary(err) || !errors.Is(err, banq.ErrUnexpected) {
				t.Errorf("got %v, want ErrUnexpected, temporary: the payment may exist, retrying with the same key tells", err)
			}
			for _, s := range sentinels[:5] {
				if errors.Is(err, s) {
					t.Errorf("got %v matching %v, want none of the status sentinels", err, s)
				}
			}
			if p != (banq.Payment{}) || calls.Load() != 1 {
				t.Errorf("got %+v after %d calls, want the zero Payment after 1", p, calls.Load())
			}
		})
	}
}

func TestTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"canceled", fmt.Errorf("banq x: %w", context.Canceled), true},
		{"deadline", fmt.Errorf("banq x: %w", context.DeadlineExceeded), true},
		{"net", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"not found", &banq.Error{Op: "x", Status: 404}, false},
		{"wrapped *Error", fmt.Errorf("order 1: %w", &banq.Error{Op: "x", Status: 404}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := banq.Temporary(tt.err); got != tt.want {
				t.Errorf("Temporary(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
