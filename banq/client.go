package banq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HeaderRequestID carries the caller's request id (see WithRequestID) on every call.
const HeaderRequestID = "X-Request-Id"

const userAgent = "banq-checkout"

// Config configures a Client. Zero durations and counts mean their defaults.
type Config struct {
	APIURL  string // base URL of the API, e.g. "https://api.banq.com"
	AuthURL string // base URL of the auth server; the token is POSTed to AuthURL+PathToken

	ClientID string
	Username string
	Password string
	Audience string // default DefaultAudience

	CompanyID string // sent as X-Company-Id on API calls when not empty

	Timeout     time.Duration // per attempt; default 10s
	MaxAttempts int           // attempts of one call, the first included; default 4
	BaseBackoff time.Duration // default 200ms; doubles per retry, with full jitter
	MaxBackoff  time.Duration // default 5s; also caps a Retry-After
	RenewBefore time.Duration // renew the token this long before it expires (at most half its lifetime); default 30s

	HTTPClient *http.Client // default: a client of its own with a clone of the default transport
	Logger     *slog.Logger // default: discard. Passwords, tokens and secrets are never logged.

	// Observe, when set, is called after every attempt of every call (token fetches included),
	// for metrics: endpoint is a route name such as "payments.get" or "oauth.token", status is
	// 0 when no answer was received.
	Observe func(endpoint string, status int, d time.Duration)
}

// Client calls Banq's Open API on behalf of one integrator user. It is safe for concurrent use;
// all its goroutines share one access token.
type Client struct {
	apiURL, tokenURL string
	grant            TokenRequest
	companyID        string
	timeout          time.Duration
	maxAttempts      int
	baseBackoff      time.Duration
	maxBackoff       time.Duration
	hc               *http.Client
	log              *slog.Logger
	observer         func(endpoint string, status int, d time.Duration)
	tokens           *tokenCache
}

// New returns a Client for cfg. It returns an error naming the field when APIURL or AuthURL is
// not an absolute http or https URL. It makes no call: the first call fetches the token.
func New(cfg Config) (*Client, error) {
	apiURL, err := baseURL("APIURL", cfg.APIURL)
	if err != nil {
		return nil, err
	}
	authURL, err := baseURL("AuthURL", cfg.AuthURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		apiURL:   apiURL,
		tokenURL: authURL + PathToken,
		grant: TokenRequest{
			ClientID:  cfg.ClientID,
			Username:  cfg.Username,
			Password:  cfg.Password,
			Audience:  cmp.Or(cfg.Audience, DefaultAudience),
			GrantType: "password",
		},
		companyID:   cfg.CompanyID,
		timeout:     positive(cfg.Timeout, 10*time.Second),
		maxAttempts: positive(cfg.MaxAttempts, 4),
		baseBackoff: positive(cfg.BaseBackoff, 200*time.Millisecond),
		maxBackoff:  positive(cfg.MaxBackoff, 5*time.Second),
		hc:          cfg.HTTPClient,
		log:         cfg.Logger,
		observer:    cfg.Observe,
	}
	c.maxBackoff = max(c.maxBackoff, c.baseBackoff)
	if c.hc == nil {
		c.hc = &http.Client{Transport: defaultTransport()}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.tokens = &tokenCache{
		fetch:       c.fetchToken,
		now:         time.Now,
		renewBefore: positive(cfg.RenewBefore, 30*time.Second),
		log:         c.log,
	}
	return c, nil
}

func baseURL(field, raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("banq: Config.%s is empty", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("banq: Config.%s: %w", field, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("banq: Config.%s %q: want an http or https URL", field, raw)
	case u.Host == "":
		return "", fmt.Errorf("banq: Config.%s %q: has no host", field, raw)
	case u.User != nil:
		// It would end up in error messages and logs.
		return "", fmt.Errorf("banq: Config.%s: must not hold credentials", field)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("banq: Config.%s %q: must not have a query or fragment", field, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func defaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 16 // the default 2 would reopen connections under any load
	return t
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

type requestIDKey struct{}

// WithRequestID returns a copy of ctx that makes the client send id as X-Request-Id on the
// calls made with it, so that one checkout request can be traced into Banq's logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDFrom returns the request id that WithRequestID put in ctx, or "" if none (for logs).
func RequestIDFrom(ctx context.Context) string { return requestID(ctx) }

// Token returns the cached access token, fetching it first if there is none or it is due for
// renewal. Readiness checks use it to tell whether Banq accepts the credentials.
func (c *Client) Token(ctx context.Context) (string, error) {
	return c.tokens.get(ctx)
}

func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	const op = "oauth.token"
	tr, err := doJSON[TokenResponse](ctx, c, request{
		route: op, method: http.MethodPost, url: c.tokenURL, body: c.grant,
		idempotent: true, // another token is harmless
	})
	if e, ok := errors.AsType[*Error](err); ok && e.Status >= 400 && e.Status < 500 && e.kind != ErrUnavailable {
		// Whatever the auth server's 4xx (OAuth2 uses 400 for a wrong password), the call
		// that needed the token was not authorized; and a 404 here must not read as "the
		// payment does not exist".
		e.kind = ErrUnauthorized
	}
	if err != nil {
		return "", 0, err
	}
	if tr.AccessToken == "" {
		return "", 0, &Error{Op: op, Status: http.StatusOK, Message: "answer has no access_token", kind: ErrUnexpected}
	}
	c.log.DebugContext(ctx, "banq: fetched an access token", "expires_in", tr.ExpiresIn)
	return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
}

// CreateGetPaidDirect asks the payer's banq (p.Source) to pay p.Funds to p.Destination; the payer
// accepts or declines in the Banq app. idempotencyKey is required and must be derived from the
// order, so that a retry after a timeout or crash returns the same payment instead of making a
// second one. It returns ErrValidation when Banq rejects the request.
func (c *Client) CreateGetPaidDirect(ctx context.Context, p CreatePayment, idempotencyKey string) (Payment, error) {
	return c.create(ctx, "payments.get-paid-direct", PathGetPaidDirect, p, idempotencyKey)
}

// CreateGetPaidLink is like CreateGetPaidDirect, but the payment answered has a PaymentLink for
// the payer to open; p.Source may be nil.
func (c *Client) CreateGetPaidLink(ctx context.Context, p CreatePayment, idempotencyKey string) (Payment, error) {
	return c.create(ctx, "payments.get-paid-link", PathGetPaidLink, p, idempotencyKey)
}

func (c *Client) create(ctx context.Context, op, path string, p CreatePayment, idempotencyKey string) (Payment, error) {
	if strings.TrimSpace(idempotencyKey) == "" {
		return Payment{}, invalidArgument(op, "an idempotency key is required")
	}
	return doJSON[Payment](ctx, c, request{
		route: op, method: http.MethodPost, url: c.apiURL + path, body: p,
		idempotencyKey: idempotencyKey, auth: true,
	})
}

// Payment returns the payment with id, in its current status. It returns ErrNotFound if Banq
// has no such payment.
func (c *Client) Payment(ctx context.Context, id string) (Payment, error) {
	const op = "payments.get"
	if id == "" {
		return Payment{}, invalidArgument(op, "payment id is empty")
	}
	return doJSON[Payment](ctx, c, request{route: op, method: http.MethodGet,
		url: c.apiURL + PathPayments + url.PathEscape(id), auth: true})
}

// TransactionQuery selects a page of transactions. Zero fields are left to Banq's defaults.
type TransactionQuery struct {
	PaymentID string // only the transactions of this payment
	Page      int    // one-based
	PageSize  int
}

// Transactions returns one page of transactions.
func (c *Client) Transactions(ctx context.Context, q TransactionQuery) (Page[Transaction], error) {
	v := pageQuery(q.Page, q.PageSize)
	if q.PaymentID != "" {
		v.Set("paymentId", q.PaymentID)
	}
	return doJSON[Page[Transaction]](ctx, c, request{route: "transactions.list", method: http.MethodGet,
		url: endpoint(c.apiURL, PathTransactions, v), auth: true})
}

// Transaction returns the transaction with id. It returns ErrNotFound if Banq has no such
// transaction.
func (c *Client) Transaction(ctx context.Context, id string) (Transaction, error) {
	const op = "transactions.get"
	if id == "" {
		return Transaction{}, invalidArgument(op, "transaction id is empty")
	}
	return doJSON[Transaction](ctx, c, request{route: op, method: http.MethodGet,
		url: c.apiURL + PathTransactions + "/" + url.PathEscape(id), auth: true})
}

// BanqQuery selects a page of banqs. Zero fields are left to Banq's defaults.
type BanqQuery struct {
	Search   string // name or tag
	Page     int    // one-based
	PageSize int
}

// Banqs returns one page of the banqs matching q.Search.
func (c *Client) Banqs(ctx context.Context, q BanqQuery) (Page[Banq], error) {
	v := pageQuery(q.Page, q.PageSize)
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	return doJSON[Page[Banq]](ctx, c, request{route: "banqs.list", method: http.MethodGet,
		url: endpoint(c.apiURL, PathBanqs, v), auth: true})
}

// Me returns the integrator user with its account spaces and its own banqs.
func (c *Client) Me(ctx context.Context) (Me, error) {
	v := url.Values{"include": {"accountSpaces,banqAccounts"}}
	return doJSON[Me](ctx, c, request{route: "users.me", method: http.MethodGet,
		url: endpoint(c.apiURL, PathMe, v), auth: true})
}

// SetWebhookConfig sets the webhook config of an account space: it updates the config (PUT),
// and creates it (POST) when Banq answers that none exists yet.
func (c *Client) SetWebhookConfig(ctx context.Context, accountSpaceID int64, cfg WebhookConfig) error {
	u := c.apiURL + fmt.Sprintf(PathWebhookConfigT, accountSpaceID)
	err := c.do(ctx, request{route: "webhook-config.update", method: http.MethodPut, url: u, body: cfg, auth: true})
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	return c.do(ctx, request{route: "webhook-config.create", method: http.MethodPost, url: u, body: cfg, auth: true,
		idempotent: true, // setting the same config twice is harmless
	})
}

func pageQuery(page, pageSize int) url.Values {
	v := url.Values{}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if pageSize > 0 {
		v.Set("pageSize", strconv.Itoa(pageSize))
	}
	return v
}

// maxPages bounds AllPages against an answer whose pageCount never ends.
const maxPages = 10_000

// AllPages calls fetch for page 1, 2, … and returns the items of all of them. It stops after the
// page count the first page announced, at the first empty page, or at the first error.
func AllPages[T any](ctx context.Context, pageSize int, fetch func(ctx context.Context, page, pageSize int) (Page[T], error)) ([]T, error) {
	var all []T
	last := 1
	for page := 1; page <= last; page++ {
		p, err := fetch(ctx, page, pageSize)
		if err != nil {
			return nil, err
		}
		if page == 1 {
			last = min(p.Meta.PageCount, maxPages)
		}
		if len(p.Data) == 0 {
			break
		}
		all = append(all, p.Data...)
	}
	return all, nil
}
