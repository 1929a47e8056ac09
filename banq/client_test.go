package banq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

const (
	testClientID = "client-1"
	testUser     = "merchant@example.com"
	testPassword = "pa55-w0rd-never-logged"
)

// fakeBanq is an auth server and API in one httptest.Server. It issues tokens "tok-1",
// "tok-2", … and counts them; each test adds the API routes it needs with handle.
type fakeBanq struct {
	t   *testing.T
	mux *http.ServeMux
	srv *httptest.Server

	tokens      atomic.Int64 // token requests answered
	expiresIn   atomic.Int64 // expires_in of the next token
	tokenStatus atomic.Int64 // when not 0, the token endpoint fails with this status
	tokenDelay  time.Duration

	mu         sync.Mutex
	tokenBody  banq.TokenRequest
	tokenHdr   http.Header
	lastHeader http.Header // of the last API request
}

func newFakeBanq(t *testing.T) *fakeBanq {
	t.Helper()
	f := &fakeBanq{t: t, mux: http.NewServeMux()}
	f.expiresIn.Store(3600)
	f.mux.HandleFunc("POST /oauth/token", f.token)
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBanq) token(w http.ResponseWriter, r *http.Request) {
	time.Sleep(f.tokenDelay)
	if s := f.tokenStatus.Load(); s != 0 {
		writeJSON(w, int(s), banq.TokenError{Error: "invalid_grant", ErrorDescription: "Wrong email or password."})
		return
	}
	var req banq.TokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, banq.TokenError{Error: "invalid_request"})
		return
	}
	f.mu.Lock()
	f.tokenBody, f.tokenHdr = req, r.Header.Clone()
	f.mu.Unlock()
	n := f.tokens.Add(1)
	writeJSON(w, http.StatusOK, banq.TokenResponse{
		AccessToken: fmt.Sprintf("tok-%d", n), TokenType: "Bearer", ExpiresIn: int(f.expiresIn.Load()),
	})
}

// handle adds an API route. The handler gets the bearer token of the request; requests
// without one are answered 401 before it is called.
func (f *fakeBanq) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, token string)) {
	f.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.lastHeader = r.Header.Clone()
		f.mu.Unlock()
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			writeJSON(w, http.StatusUnauthorized, banq.ErrorBody{Message: "no token"})
			return
		}
		h(w, r, token)
	})
}

func (f *fakeBanq) header() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastHeader
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// mustClient returns a client of f with quick backoffs; opts adjust its config.
func mustClient(tb testing.TB, url string, opts ...func(*banq.Config)) *banq.Client {
	tb.Helper()
	cfg := banq.Config{
		APIURL: url, AuthURL: url,
		ClientID: testClientID, Username: testUser, Password: testPassword,
		Timeout: 2 * time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := banq.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func (f *fakeBanq) handleMe() *atomic.Int64 {
	var calls atomic.Int64
	f.handle("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request, token string) {
		calls.Add(1)
		writeJSON(w, http.StatusOK, banq.Me{ID: "me", Name: token})
	})
	return &calls
}

func testPayment(id string) banq.Payment {
	return banq.Payment{ID: id, AccountSpaceID: 7, Status: banq.PaymentPending, Funds: 12345,
		ExternalOrderCode: "order-1", Frequency: banq.FrequencyOnce,
		Destination: banq.BanqRef{BanqGUID: "merchant"}, Source: &banq.BanqRef{BanqGUID: "payer"}}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestNewValidatesURLs(t *testing.T) {
	tests := []struct {
		name      string
		api, auth string
		wantField string
	}{
		{"empty api", "", "https://auth.example", "APIURL"},
		{"empty auth", "https://api.example", "", "AuthURL"},
		{"no scheme", "api.example", "https://auth.example", "APIURL"},
		{"ftp", "https://api.example", "ftp://auth.example", "AuthURL"},
		{"no host", "https://", "https://auth.example", "APIURL"},
		{"unparsable", "https://api.example", "http://[::1", "AuthURL"},
		{"query", "https://api.example?x=1", "https://auth.example", "APIURL"},
		{"credentials", "https://api.example", "https://user:hunter2@auth.example", "AuthURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := banq.New(banq.Config{APIURL: tt.api, AuthURL: tt.auth})
			if err == nil {
				t.Fatalf("New(%q, %q): got no error, want one naming %s", tt.api, tt.auth, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("got %q, want it to name %s", err, tt.wantField)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, banq.PathToken) {
			writeJSON(w, http.StatusOK, banq.TokenResponse{AccessToken: "t", ExpiresIn: 60})
			return
		}
		writeJSON(w, http.StatusOK, banq.Me{ID: "me"})
	}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, func(cfg *banq.Config) {
		cfg.APIURL, cfg.AuthURL = srv.URL+"/banq/", srv.URL+"/auth"
	})
	if _, err := c.Me(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"/auth/oauth/token", "/banq/api/v1/users/me"}
	if !slices.Equal(paths, want) {
		t.Errorf("got paths %q, want %q", paths, want)
	}
}

func TestConcurrentCallsFetchOneToken(t *testing.T) {
	f := newFakeBanq(t)
	f.tokenDelay = 50 * time.Millisecond
	calls := f.handleMe()
	c := mustClient(t, f.srv.URL)

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := c.Me(t.Context()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Me: %v", err)
	}
	if got := f.tokens.Load(); got != 1 {
		t.Errorf("got %d token requests, want 1", got)
	}
	if got := calls.Load(); got != n {
		t.Errorf("got %d API calls, want %d", got, n)
	}
}

func TestTokenRequest(t *testing.T) {
	f := newFakeBanq(t)
	f.handleMe()
	c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.CompanyID = "company-9" })
	ctx := banq.WithRequestID(t.Context(), "req-42")
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got, hdr := f.tokenBody, f.tokenHdr
	f.mu.Unlock()
	want := banq.TokenRequest{ClientID: testClientID, Username: testUser, Password: testPassword,
		Audience: banq.DefaultAudience, GrantType: "password"}
	if got != want {
		t.Errorf("got token request %+v, want %+v", got, want)
	}
	if v := hdr.Get(banq.HeaderCompanyID); v != "" {
		t.Errorf("token request has %s %q, want none (API calls only)", banq.HeaderCompanyID, v)
	}
	if v := hdr.Get(banq.HeaderRequestID); v != "req-42" {
		t.Errorf("token request has %s %q, want req-42", banq.HeaderRequestID, v)
	}

	tok, err := c.Token(t.Context())
	if err != nil || tok != "tok-1" {
		t.Errorf("Token: got %q, %v; want tok-1 (cached)", tok, err)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("got %d token requests, want 1", n)
	}
}

func TestTokenFetchOutlivesCanceledCaller(t *testing.T) {
	f := newFakeBanq(t)
	f.tokenDelay = 100 * time.Millisecond
	f.handleMe()
	c := mustClient(t, f.srv.URL)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var patientErr error
	wg.Go(func() { _, patientErr = c.Me(t.Context()) })
	if _, err := c.Me(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: got %v, want context.DeadlineExceeded", err)
	}
	wg.Wait()
	if patientErr != nil {
		t.Errorf("patient caller: got %v, want success", patientErr)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("got %d token requests, want 1", n)
	}
}

func TestTokenRenewal(t *testing.T) {
	tests := []struct {
		name        string
		expiresIn   int
		renewBefore time.Duration
		stillValid  time.Duration // a call this long after the fetch reuses the token
		renewed     time.Duration // a call this long after the fetch gets a new one
	}{
		{"renew 30s before expiry", 3600, 0, 3569 * time.Second, 3571 * time.Second},
		{"custom renew before", 3600, 10 * time.Minute, 49 * time.Minute, 51 * time.Minute},
		{"at most half the lifetime early", 10, 0, 4 * time.Second, 6 * time.Second},
		{"expired", 2, 0, 900 * time.Millisecond, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBanq(t)
			f.expiresIn.Store(int64(tt.expiresIn))
			f.handleMe()
			c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.RenewBefore = tt.renewBefore })
			clock := &fakeClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
			banq.SetClock(c, clock.Now)

			me, err := c.Me(t.Context())
			if err != nil || me.Name != "tok-1" {
				t.Fatalf("first call: got token %q, %v; want tok-1", me.Name, err)
			}
			clock.Advance(tt.stillValid)
			if me, _ := c.Me(t.Context()); me.Name != "tok-1" || f.tokens.Load() != 1 {
				t.Errorf("after %v: got token %q and %d fetches, want tok-1 and 1", tt.stillValid, me.Name, f.tokens.Load())
			}
			clock.Advance(tt.renewed - tt.stillValid)
			if me, _ := c.Me(t.Context()); me.Name != "tok-2" || f.tokens.Load() != 2 {
				t.Errorf("after %v: got token %q and %d fetches, want tok-2 and 2", tt.renewed, me.Name, f.tokens.Load())
			}
		})
	}
}

func TestTokenRenewalFailureKeepsValidToken(t *testing.T) {
	f := newFakeBanq(t)
	f.expiresIn.Store(60)
	f.handleMe()
	c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.MaxAttempts = 2 })
	clock := &fakeClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	banq.SetClock(c, clock.Now)
	if _, err := c.Me(t.Context()); err != nil {
		t.Fatal(err)
	}

	f.tokenStatus.Store(http.StatusServiceUnavailable)
	clock.Advance(45 * time.Second) // due for renewal, not expired
	if me, err := c.Me(t.Context()); err != nil || me.Name != "tok-1" {
		t.Errorf("renewal failed before expiry: got %q, %v; want the old token to be used", me.Name, err)
	}
	clock.Advance(30 * time.Second) // expired
	_, err := c.Me(t.Context())
	if !errors.Is(err, banq.ErrUnavailable) || !banq.Temporary(err) {
		t.Errorf("renewal failed after expiry: got %v, want ErrUnavailable, temporary", err)
	}
}

func TestUnauthorizedRenewsTokenAndRetriesOnce(t *testing.T) {
	t.Run("second token accepted", func(t *testing.T) {
		f := newFakeBanq(t)
		var calls atomic.Int64
		f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
			calls.Add(1)
			if token == "tok-1" {
				writeJSON(w, http.StatusUnauthorized, banq.ErrorBody{Message: "token expired"})
				return
			}
			writeJSON(w, http.StatusOK, testPayment(r.PathValue("id")))
		})
		c := mustClient(t, f.srv.URL)
		p, err := c.Payment(t.Context(), "pay-1")
		if err != nil || p.ID != "pay-1" {
			t.Fatalf("got %+v, %v; want payment pay-1", p, err)
		}
		if calls.Load() != 2 || f.tokens.Load() != 2 {
			t.Errorf("got %d calls and %d tokens, want 2 and 2", calls.Load(), f.tokens.Load())
		}
	})
	t.Run("every token refused", func(t *testing.T) {
		f := newFakeBanq(t)
		var calls atomic.Int64
		f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
			calls.Add(1)
			writeJSON(w, http.StatusUnauthorized, banq.ErrorBody{Message: "token refused"})
		})
		c := mustClient(t, f.srv.URL)
		_, err := c.Payment(t.Context(), "pay-1")
		if !errors.Is(err, banq.ErrUnauthorized) || banq.Temporary(err) {
			t.Errorf("got %v, want ErrUnauthorized, not temporary", err)
		}
		if calls.Load() != 2 || f.tokens.Load() != 2 {
			t.Errorf("got %d calls and %d tokens, want 2 and 2", calls.Load(), f.tokens.Load())
		}
	})
	t.Run("concurrent refusals keep the newer token", func(t *testing.T) {
		f := newFakeBanq(t)
		var arrived sync.WaitGroup
		arrived.Add(2)
		f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
			if token == "tok-1" {
				arrived.Done()
				arrived.Wait() // both calls hold tok-1 before either learns it is refused
				writeJSON(w, http.StatusUnauthorized, banq.ErrorBody{Message: "token expired"})
				return
			}
			writeJSON(w, http.StatusOK, testPayment(r.PathValue("id")))
		})
		c := mustClient(t, f.srv.URL)
		if _, err := c.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := c.Payment(t.Context(), "pay-1"); err != nil {
					t.Errorf("Payment: %v", err)
				}
			})
		}
		wg.Wait()
		if n := f.tokens.Load(); n != 2 {
			t.Errorf("got %d token requests, want 2 (one renewal for both refusals)", n)
		}
	})
}

func TestTokenEndpointErrors(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFakeBanq(t)
			f.tokenStatus.Store(int64(status))
			f.handleMe()
			c := mustClient(t, f.srv.URL)
			_, err := c.Payment(t.Context(), "pay-1")
			if !errors.Is(err, banq.ErrUnauthorized) || banq.Temporary(err) {
				t.Fatalf("got %v, want ErrUnauthorized, not temporary", err)
			}
			if errors.Is(err, banq.ErrNotFound) {
				t.Errorf("got %v: a refused token must not read as a missing payment", err)
			}
			e, _ := errors.AsType[*banq.Error](err)
			if e.Op != "oauth.token" || e.Status != status || e.Message != "Wrong email or password." {
				t.Errorf("got Op %q Status %d Message %q, want oauth.token, %d, the error_description", e.Op, e.Status, e.Message, status)
			}
		})
	}
}

func TestCreateSendsOneIdempotencyKeyOnEveryRetry(t *testing.T) {
	f := newFakeBanq(t)
	var mu sync.Mutex
	var keys []string
	var bodies []banq.CreatePayment
	f.handle("POST /api/v1/payments/get-paid-direct", func(w http.ResponseWriter, r *http.Request, token string) {
		var body banq.CreatePayment
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, banq.ErrorBody{Message: err.Error()})
			return
		}
		mu.Lock()
		keys = append(keys, r.Header.Get(banq.HeaderIdempotency))
		bodies = append(bodies, body)
		n := len(keys)
		mu.Unlock()
		if n <= 2 {
			writeJSON(w, http.StatusServiceUnavailable, banq.ErrorBody{Message: "try later"})
			return
		}
		p := testPayment("pay-1")
		p.Funds = body.Funds
		writeJSON(w, http.StatusCreated, p)
	})
	c := mustClient(t, f.srv.URL)
	create := banq.CreatePayment{
		Destination: banq.BanqRef{BanqGUID: "merchant"}, Source: &banq.BanqRef{BanqGUID: "payer"},
		Funds: 10050, Comment: "Order 1", ExternalOrderCode: "order-1", Frequency: banq.FrequencyOnce,
	}
	p, err := c.CreateGetPaidDirect(t.Context(), create, "order-1-key")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "pay-1" || p.Funds != 10050 {
		t.Errorf("got payment %q with funds %v, want pay-1 with 100.50", p.ID, p.Funds)
	}
	if want := []string{"order-1-key", "order-1-key", "order-1-key"}; !slices.Equal(keys, want) {
		t.Errorf("got idempotency keys %q, want %q", keys, want)
	}
	for i, b := range bodies {
		if b.Funds != create.Funds || b.ExternalOrderCode != create.ExternalOrderCode || b.Source == nil || *b.Source != *create.Source {
			t.Errorf("attempt %d: got body %+v, want %+v", i+1, b, create)
		}
	}
}

func TestCreateGetPaidLink(t *testing.T) {
	f := newFakeBanq(t)
	f.handle("POST /api/v1/payments/get-paid-link", func(w http.ResponseWriter, r *http.Request, token string) {
		p := testPayment("pay-2")
		p.PaymentLink = "https://banq.example/pay/pay-2"
		writeJSON(w, http.StatusOK, p) // 200 is accepted as well as 201
	})
	c := mustClient(t, f.srv.URL)
	p, err := c.CreateGetPaidLink(t.Context(), banq.CreatePayment{Funds: 100}, "key")
	if err != nil || p.PaymentLink == "" {
		t.Errorf("got %+v, %v; want a payment with a link", p, err)
	}
}

func TestCreateRequiresIdempotencyKey(t *testing.T) {
	f := newFakeBanq(t)
	c := mustClient(t, f.srv.URL)
	for _, key := range []string{"", "  "} {
		_, err := c.CreateGetPaidDirect(t.Context(), banq.CreatePayment{Funds: 100}, key)
		if !errors.Is(err, banq.ErrValidation) {
			t.Errorf("key %q: got %v, want ErrValidation", key, err)
		}
		_, err = c.CreateGetPaidLink(t.Context(), banq.CreatePayment{Funds: 100}, key)
		if !errors.Is(err, banq.ErrValidation) {
			t.Errorf("key %q: got %v, want ErrValidation", key, err)
		}
	}
	if n := f.tokens.Load(); n != 0 {
		t.Errorf("got %d token requests, want none: nothing should be sent", n)
	}
}

func TestPostWithoutKeyIsNotRetried(t *testing.T) {
	f := newFakeBanq(t)
	var calls atomic.Int64
	f.handle("POST /api/v1/other", func(w http.ResponseWriter, r *http.Request, token string) {
		calls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, banq.ErrorBody{Message: "down"})
	})
	c := mustClient(t, f.srv.URL)
	err := c.PostWithoutKey(t.Context(), "/api/v1/other", map[string]int{"x": 1})
	if !errors.Is(err, banq.ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("got %d attempts, want 1", n)
	}
}

func TestAllPagesWalksEveryPage(t *testing.T) {
	f := newFakeBanq(t)
	var all []banq.Transaction
	for i := range 5 {
		all = append(all, banq.Transaction{ID: fmt.Sprintf("tx-%d", i+1), PaymentID: "pay-1", Status: banq.TransactionCompleted})
	}
	var mu sync.Mutex
	var queries []string
	f.handle("GET /api/v1/transactions", func(w http.ResponseWriter, r *http.Request, token string) {
		mu.Lock()
		queries = append(queries, r.URL.Query().Encode())
		mu.Unlock()
		var page, size int
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		fmt.Sscan(r.URL.Query().Get("pageSize"), &size)
		from, to := min((page-1)*size, len(all)), min(page*size, len(all))
		writeJSON(w, http.StatusOK, banq.Page[banq.Transaction]{
			Meta: banq.Meta{ResourceCount: len(all), PageCount: (len(all) + size - 1) / size},
			Data: all[from:to],
		})
	})
	c := mustClient(t, f.srv.URL)
	got, err := banq.AllPages(t.Context(), 2, func(ctx context.Context, page, pageSize int) (banq.Page[banq.Transaction], error) {
		return c.Transactions(ctx, banq.TransactionQuery{PaymentID: "pay-1", Page: page, PageSize: pageSize})
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tx := range got {
		ids = append(ids, tx.ID)
	}
	if want := []string{"tx-1", "tx-2", "tx-3", "tx-4", "tx-5"}; !slices.Equal(ids, want) {
		t.Errorf("got %q, want %q", ids, want)
	}
	want := []string{"page=1&pageSize=2&paymentId=pay-1", "page=2&pageSize=2&paymentId=pay-1", "page=3&pageSize=2&paymentId=pay-1"}
	if !slices.Equal(queries, want) {
		t.Errorf("got queries %q, want %q", queries, want)
	}
}

func TestAllPagesStops(t *testing.T) {
	pageOf := func(pageCount int, items ...int) banq.Page[int] {
		return banq.Page[int]{Meta: banq.Meta{PageCount: pageCount}, Data: items}
	}
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		pages   []banq.Page[int] // answered for page 1, 2, …; past the end: empty
		fail    int              // page that fails, 0 for none
		want    []int
		wantErr error
		calls   int
	}{
		{"one page", []banq.Page[int]{pageOf(1, 1, 2)}, 0, []int{1, 2}, nil, 1},
		{"no items", []banq.Page[int]{pageOf(0)}, 0, nil, nil, 1},
		{"bounded by first page count", []banq.Page[int]{pageOf(2, 1), pageOf(9, 2), pageOf(9, 3)}, 0, []int{1, 2}, nil, 2},
		{"empty page ends it", []banq.Page[int]{pageOf(5, 1), pageOf(5)}, 0, []int{1}, nil, 2},
		{"error", []banq.Page[int]{pageOf(3, 1), pageOf(3, 2)}, 2, nil, errBoom, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := banq.AllPages(t.Context(), 10, func(ctx context.Context, page, pageSize int) (banq.Page[int], error) {
				calls++
				if pageSize != 10 {
					t.Errorf("got pageSize %d, want 10", pageSize)
				}
				if page == tt.fail {
					return banq.Page[int]{}, errBoom
				}
				if page > len(tt.pages) {
					return banq.Page[int]{}, nil
				}
				return tt.pages[page-1], nil
			})
			if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) || calls != tt.calls {
				t.Errorf("got %v, %v after %d calls; want %v, %v after %d", got, err, calls, tt.want, tt.wantErr, tt.calls)
			}
		})
	}
}

func TestEndpointsSendWhatTheyShould(t *testing.T) {
	f := newFakeBanq(t)
	var mu sync.Mutex
	var seen []string
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
	}
	f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		record(r)
		writeJSON(w, http.StatusOK, testPayment(r.PathValue("id")))
	})
	f.handle("GET /api/v1/transactions/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		record(r)
		writeJSON(w, http.StatusOK, banq.Transaction{ID: r.PathValue("id"), Status: banq.TransactionFailed, FailReason: banq.FailInsufficientBalance})
	})
	f.handle("GET /api/v1/banqs", func(w http.ResponseWriter, r *http.Request, token string) {
		record(r)
		writeJSON(w, http.StatusOK, banq.Page[banq.Banq]{Meta: banq.Meta{ResourceCount: 1, PageCount: 1},
			Data: []banq.Banq{{GUID: "g", Name: "Ada Lovelace", Tag: "@ada"}}})
	})
	f.handle("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request, token string) {
		record(r)
		writeJSON(w, http.StatusOK, banq.Me{ID: "me", AccountSpaces: []banq.AccountSpace{{ID: 7}}})
	})
	c := mustClient(t, f.srv.URL)
	ctx := t.Context()

	if p, err := c.Payment(ctx, "pay/1 x"); err != nil || p.ID != "pay/1 x" {
		t.Errorf("Payment: got %+v, %v", p, err)
	}
	if tx, err := c.Transaction(ctx, "tx-1"); err != nil || tx.FailReason != banq.FailInsufficientBalance {
		t.Errorf("Transaction: got %+v, %v", tx, err)
	}
	if pg, err := c.Banqs(ctx, banq.BanqQuery{Search: "ada & co", PageSize: 5}); err != nil || len(pg.Data) != 1 || pg.Data[0].Tag != "@ada" {
		t.Errorf("Banqs: got %+v, %v", pg, err)
	}
	if me, err := c.Me(ctx); err != nil || len(me.AccountSpaces) != 1 {
		t.Errorf("Me: got %+v, %v", me, err)
	}
	want := []string{
		"GET /api/v1/payments/pay%2F1%20x?",
		"GET /api/v1/transactions/tx-1?",
		"GET /api/v1/banqs?pageSize=5&search=ada+%26+co",
		"GET /api/v1/users/me?include=accountSpaces%2CbanqAccounts",
	}
	if !slices.Equal(seen, want) {
		t.Errorf("got requests\n%q\nwant\n%q", seen, want)
	}
	for _, id := range []string{""} {
		if _, err := c.Payment(ctx, id); !errors.Is(err, banq.ErrValidation) {
			t.Errorf("Payment(%q): got %v, want ErrValidation", id, err)
		}
		if _, err := c.Transaction(ctx, id); !errors.Is(err, banq.ErrValidation) {
			t.Errorf("Transaction(%q): got %v, want ErrValidation", id, err)
		}
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name      string
		companyID string
		requestID string
		sent      string // the X-Request-Id Banq gets
	}{
		{"company and request id", "company-9", "req-1", "req-1"},
		{"neither", "", "", ""},
		// A webhook's id used as request id is Banq's choice: one that is no header value is
		// left out rather than failing the call.
		{"request id unfit for a header", "", "webhook:a b\r\nX-Evil: 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBanq(t)
			f.handleMe()
			c := mustClient(t, f.srv.URL, func(cfg *banq.Config) { cfg.CompanyID = tt.companyID })
			ctx := t.Context()
			if tt.requestID != "" {
				ctx = banq.WithRequestID(ctx, tt.requestID)
			}
			if _, err := c.Me(ctx); err != nil {
				t.Fatal(err)
			}
			h := f.header()
			for name, want := range map[string]string{
				banq.HeaderCompanyID: tt.companyID,
				banq.HeaderRequestID: tt.sent,
				"Authorization":      "Bearer tok-1",
				"Accept":             "application/json",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestSetWebhookConfig(t *testing.T) {
	cfg := banq.WebhookConfig{URL: "https://shop.example/webhooks/banq", Enabled: true, RetryCount: 5,
		WebHookTypes: []banq.ResourceType{"payment", "transaction"}, SharedSecret: "whsec-never-logged"}
	tests := []struct {
		name    string
		exists  bool
		methods []string
	}{
		{"exists: updated", true, []string{"PUT"}},
		{"none yet: created", false, []string{"PUT", "POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBanq(t)
			var methods []string
			var got banq.WebhookConfig
			f.handle("/api/v1/account-spaces/{id}/webhook-config", func(w http.ResponseWriter, r *http.Request, token string) {
				methods = append(methods, r.Method)
				if r.PathValue("id") != "7" {
					writeJSON(w, http.StatusNotFound, banq.ErrorBody{Message: "no such account space"})
					return
				}
				if r.Method == http.MethodPut && !tt.exists {
					writeJSON(w, http.StatusNotFound, banq.ErrorBody{Message: "no webhook config"})
					return
				}
				_ = json.NewDecoder(r.Body).Decode(&got)
				w.WriteHeader(http.StatusNoContent)
			})
			c := mustClient(t, f.srv.URL)
			if err := c.SetWebhookConfig(t.Context(), 7, cfg); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(methods, tt.methods) {
				t.Errorf("got methods %q, want %q", methods, tt.methods)
			}
			if got.URL != cfg.URL || got.SharedSecret != cfg.SharedSecret || !slices.Equal(got.WebHookTypes, cfg.WebHookTypes) {
				t.Errorf("got config %+v, want %+v", got, cfg)
			}
		})
	}
}

func TestObserveAndLogsHideSecrets(t *testing.T) {
	f := newFakeBanq(t)
	var n atomic.Int64
	f.handle("GET /api/v1/payments/{id}", func(w http.ResponseWriter, r *http.Request, token string) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, http.StatusUnauthorized, banq.ErrorBody{Message: "expired"})
		case 2:
			writeJSON(w, http.StatusServiceUnavailable, banq.ErrorBody{Message: "busy"})
		default:
			writeJSON(w, http.StatusOK, testPayment("pay-1"))
		}
	})
	f.handle("PUT /api/v1/account-spaces/{id}/webhook-config", func(w http.ResponseWriter, r *http.Request, token string) {
		writeJSON(w, http.StatusBadRequest, banq.ErrorBody{Message: "bad url"})
	})
	var logs bytes.Buffer
	var mu sync.Mutex
	var observed []string
	c := mustClient(t, f.srv.URL, func(cfg *banq.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Observe = func(endpoint string, status int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			observed = append(observed, fmt.Sprintf("%s %d", endpoint, status))
			if d <= 0 {
				t.Errorf("%s: got duration %v, want > 0", endpoint, d)
			}
		}
	})
	if _, err := c.Payment(t.Context(), "pay-1"); err != nil {
		t.Fatal(err)
	}
	err := c.SetWebhookConfig(t.Context(), 7, banq.WebhookConfig{URL: "x", SharedSecret: "whsec-never-logged"})
	if !errors.Is(err, banq.ErrValidation) {
		t.Errorf("SetWebhookConfig: got %v, want ErrValidation", err)
	}

	want := []string{"oauth.token 200", "payments.get 401", "oauth.token 200", "payments.get 503", "payments.get 200", "webhook-config.update 400"}
	if !slices.Equal(observed, want) {
		t.Errorf("observed\n%q\nwant\n%q", observed, want)
	}
	out := logs.String()
	if !strings.Contains(out, "payments.get") {
		t.Errorf("logs say nothing of payments.get:\n%s", out)
	}
	for _, secret := range []string{testPassword, "tok-1", "tok-2", "whsec-never-logged"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}
