// Package handlers translates HTTP into calls on the checkout and renders the answers: the
// merchant's pages, the customer's payment page and its live stream, the Banq webhook receiver
// and the health endpoints. Every route is listed in Routes.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/ingest"
	"github.com/banq-checkout/checkout/live"
	"github.com/banq-checkout/checkout/locale"
	"github.com/banq-checkout/checkout/views"
)

// Store is what the handlers read and write directly (store.DB implements it).
type Store interface {
	Order(ctx context.Context, id int64) (checkout.Order, error)
	OrderByToken(ctx context.Context, token string) (checkout.Order, error)
	ListOrders(ctx context.Context, f checkout.OrderFilter) ([]checkout.Order, bool, error)
	Events(ctx context.Context, orderID, afterSeq int64) ([]checkout.Event, error)
	UserByEmail(ctx context.Context, email string) (checkout.User, error)
	User(ctx context.Context, id int64) (checkout.User, error)
	SetPassword(ctx context.Context, userID int64, hash []byte, keep string) error
	CreateSession(ctx context.Context, s checkout.Session) error
	Session(ctx context.Context, id string) (checkout.Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	EachExportRow(ctx context.Context, f checkout.OrderFilter, fn func(checkout.ExportRow) error) error
	ListWebhooks(ctx context.Context, f checkout.WebhookFilter) ([]checkout.InboxWebhook, bool, error)
	RejectedWebhooks(ctx context.Context, limit int) ([]checkout.RejectedWebhook, error)
	Webhook(ctx context.Context, id string) (checkout.InboxWebhook, error)
	SignInFailures(ctx context.Context, key string, since time.Time) (checkout.SignInFailures, error)
	AddSignInFailure(ctx context.Context, now, since time.Time, keys ...string) ([]checkout.SignInFailures, error)
	ClearSignInFailures(ctx context.Context, key string) error
	OrderByReference(ctx context.Context, reference string) (checkout.Order, error)
	CreateAPIKey(ctx context.Context, k checkout.APIKey) (checkout.APIKey, error)
	APIKeys(ctx context.Context) ([]checkout.APIKey, error)
	APIKeyByPrefix(ctx context.Context, prefix string) (checkout.APIKey, error)
	RevokeAPIKey(ctx context.Context, id int64) error
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error
	ClaimIdempotencyKey(ctx context.Context, key, requestHash string, staleBefore, expireBefore time.Time) (checkout.IdempotentAnswer, bool, error)
	AnswerIdempotencyKey(ctx context.Context, key string, status int, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, key string) error
	Users(ctx context.Context) ([]checkout.User, error)
	CreateUser(ctx context.Context, u checkout.User) (checkout.User, error)
	SetRole(ctx context.Context, id int64, role string) (checkout.User, error)
	SetDisabled(ctx context.Context, id int64, disabled bool) (checkout.User, error)
	CreateInvite(ctx context.Context, in checkout.Invite) (checkout.Invite, error)
	PendingInvites(ctx context.Context, now time.Time) ([]checkout.Invite, error)
	Invite(ctx context.Context, tokenHash string, now time.Time) (checkout.Invite, error)
	AcceptInvite(ctx context.Context, tokenHash string, now time.Time, passwordHash []byte) (checkout.User, error)
	AddAudit(ctx context.Context, e checkout.AuditEntry) error
	AuditLog(ctx context.Context, before int64, limit int) ([]checkout.AuditEntry, bool, error)
}

// Checkout is the domain service the handlers drive (checkout.Service implements it).
type Checkout interface {
	CreateOrder(ctx context.Context, n checkout.NewOrder) (checkout.Order, error)
	RetryCreate(ctx context.Context, id int64) (checkout.Order, error)
	Receive(ctx context.Context, w banq.Webhook, body []byte) (bool, error)
	CancelOrder(ctx context.Context, id int64, by string) (checkout.Order, error)
	Reprocess(ctx context.Context, webhookID string) (checkout.InboxWebhook, error)
	RejectWebhook(ctx context.Context, r checkout.RejectedWebhook) error
	WebhookHealth(ctx context.Context) (checkout.WebhookHealth, error)
	// Merchant is the banq payments go to (left out of the customer choice) and its name,
	// which payers see on requests; empty until learnt from Banq.
	Merchant() checkout.Merchant
}

// Banqs browses Banq's banqs for the new-order form (banq.Client implements it).
type Banqs interface {
	Banqs(ctx context.Context, q banq.BanqQuery) (banq.Page[banq.Banq], error)
}

// Config is what the handlers need to know about the deployment.
type Config struct {
	PublicURL      string // base of payment links, e.g. https://pay.example.com
	MerchantName   string
	Sandbox        bool
	SandboxURL     string // the sandbox's base URL for browsers, in sandbox mode
	WebhookSecrets func() []string
	WebhookLimit   int64         // body limit of the webhook, bytes; 64 KiB
	WebhookRate    Rate          // webhooks per source address; 100/s, burst 500
	WebhookBadRate Rate          // webhooks failing the signature check per source address; 20/min, burst 20
	APIRate        Rate          // API requests per API key; 20/s, burst 100
	TrustedProxies []*net.IPNet  // peers whose X-Forwarded-For names the client; none: the peer is the client
	SignInLimits   SignInLimits  // failed sign-ins per address and per account at an address
	PasswordCost   int           // bcrypt cost of new password hashes and of the dummy one; bcrypt.DefaultCost
	SessionKeys    [][]byte      // hash/block key pairs, newest first (rotation)
	IdleTimeout    time.Duration // a session unused this long ends; 2h
	SessionMaxAge  time.Duration // a session ends this long after sign-in; 12h
	Heartbeat      time.Duration // SSE comment interval; 20s
	Ingest         *ingest.Gate  // marks webhook deliveries received, for the worker's pacing; nil marks nothing
	StreamLimits   StreamLimits  // live streams per address and per payment link
	Ready          func(ctx context.Context) error
	Metrics        http.Handler // served at /metrics when set (it checks its own bearer token)
	// Operator reports whether a request comes from an operator (it carries the metrics token):
	// only they are told why /readyz is not ready. Nil: nobody is, the log says it.
	Operator func(*http.Request) bool
	Observer Observer // records requests and webhooks for metrics; nil records nothing
	Logger   *slog.Logger
	Now      func() time.Time
	Brand    Brand // logo and accent colour of the customer pages
	// Locale holds the customer pages' languages and the shop's currency and time zone; nil: English, USD, the server's zone.
	Locale     *locale.Catalog
	WebhookURL string        // where Banq is told to send webhooks, for the broken-webhooks banner
	OrderTTL   time.Duration // the new-order form's default time to pay; 30m
	// Notifications keeps the shop's notification endpoints; nil serves no notification pages.
	Notifications Notifications
}

// Handlers serves the checkout over HTTP.
type Handlers struct {
	cfg      Config
	store    Store
	checkout Checkout
	banqs    Banqs
	hub      *live.Hub
	sessions *sessions.CookieStore
	limiter  *attemptLimiter
	log      *slog.Logger
	observer Observer
	routes   map[string]bool // "METHOD /pattern" of every route, set by Routes
	secure   bool

	hooks    *buckets // every webhook, per source address
	badHooks *buckets // webhooks failing the signature check, per source address
	apiRate  *buckets // API requests, per API key
	// current reads only cookies written under the newest session key; nil unless rotating.
	current   *sessions.CookieStore
	dummyHash []byte // compared against when the email is unknown

	streams *streamCounter // live streams, per address and per payment link
}

// New returns the handlers.
func New(cfg Config, st Store, co Checkout, b Banqs, hub *live.Hub) *Handlers {
	if cfg.WebhookLimit <= 0 {
		cfg.WebhookLimit = 64 << 10
	}
	if cfg.WebhookRate.PerSecond <= 0 || cfg.WebhookRate.Burst <= 0 {
		cfg.WebhookRate = Rate{PerSecond: 100, Burst: 500}
	}
	if cfg.WebhookBadRate.PerSecond <= 0 || cfg.WebhookBadRate.Burst <= 0 {
		cfg.WebhookBadRate = Rate{PerSecond: 20.0 / 60, Burst: 20}
	}
	if cfg.APIRate.PerSecond <= 0 || cfg.APIRate.Burst <= 0 {
		cfg.APIRate = Rate{PerSecond: 20, Burst: 100}
	}
	if cfg.PasswordCost < bcrypt.MinCost || cfg.PasswordCost > bcrypt.MaxCost {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 12 * time.Hour
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 20 * time.Second
	}
	if cfg.OrderTTL <= 0 {
		cfg.OrderTTL = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Locale == nil {
		var err error
		if cfg.Locale, err = locale.New(locale.Options{}); err != nil {
			panic(err) // the embedded catalogues do not parse: locale's TestCatalogues says why
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	if cfg.Operator == nil {
		cfg.Operator = func(*http.Request) bool { return false }
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	h := &Handlers{cfg: cfg, store: st, checkout: co, banqs: b, hub: hub, log: cfg.Logger,
		observer: cfg.Observer, routes: map[string]bool{}, secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	h.sessions = h.newCookieStore(cfg.SessionKeys...)
	if len(cfg.SessionKeys) > 2 {
		h.current = h.newCookieStore(cfg.SessionKeys[:2]...)
	}
	h.limiter = newAttemptLimiter(st, cfg.Now, cfg.SignInLimits)
	h.hooks, h.badHooks = newBuckets(cfg.WebhookRate), newBuckets(cfg.WebhookBadRate)
	h.streams = newStreamCounter(cfg.StreamLimits)
	h.apiRate = newBuckets(cfg.APIRate)
	h.dummyHash = newDummyHash(cfg.PasswordCost)
	return h
}

// render writes a component with status. It renders into a buffer first, so a template error
// never sends half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(buf.Bytes())
	return err
}

// page returns the layout data of a merchant page.
func (h *Handlers) page(c echo.Context, title, nav string) views.Page {
	p := views.Page{Title: title, Nav: nav, Sandbox: h.cfg.Sandbox, SandboxURL: h.cfg.SandboxURL}
	if tok, ok := c.Get("csrf").(string); ok {
		p.CSRF = tok
	}
	if u, ok := c.Get(userKey).(checkout.User); ok {
		p.User = u.Email
		p.Role = u.Role
		p.DemoPassword = u.Demo
		p.Banner = h.webhookBanner(c.Request().Context())
	}
	return p
}

// ErrorHandler maps every error to one status and renders it: JSON for API-style routes, the
// error page for browsers. Only internal errors are logged with their cause.
func (h *Handlers) ErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		p := problemFor(err)
		if p.Status >= 500 {
			h.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "route", c.Path(), "status", p.Status, "err", err)
		}
		if err := writeProblem(c, p); err != nil {
			h.log.ErrorContext(c.Request().Context(), "write problem", "err", err)
		}
		return
	}
	status, msg := http.StatusInternalServerError, checkout.ErrorMessage(err)
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, "The request body is too large."
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(he.Code)
		}
	default:
		switch checkout.ErrorCode(err) {
		case checkout.ENotFound:
			status = http.StatusNotFound
		case checkout.EInvalid:
			status = http.StatusUnprocessableEntity
		case checkout.EConflict:
			status = http.StatusConflict
		case checkout.EUnavailable:
			status = http.StatusServiceUnavailable
		case checkout.EUnauthorized:
			status = http.StatusUnauthorized
		}
	}
	if status >= 500 {
		h.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "route", c.Path(), "status", status, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/webhooks/") || strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		c.JSON(status, map[string]string{"error": msg})
		return
	}
	if strings.HasSuffix(c.Request().URL.Path, "/events") {
		c.String(status, msg)
		return
	}
	page := views.ErrorPage(h.page(c, "Error", ""), status, msg)
	if strings.HasPrefix(c.Request().URL.Path, "/pay/") {
		// The customer's: no merchant menu, what to do next, in the reader's language (also for
		// a path no route matched, which customerLanguage did not see).
		page = views.PayError(h.cfg.MerchantName, status)
		if _, picked := c.Get(readerKey).(*locale.Printer); !picked {
			r := c.Request()
			c.SetRequest(r.WithContext(locale.With(r.Context(), h.reader(r))))
		}
	}
	if err := render(c, status, page); err != nil {
		h.log.ErrorContext(c.Request().Context(), "render error page", "err", err)
	}
}

// idParam is the route's :id, a positive number, or ENotFound with notFound as its message:
// a malformed id names nothing, like an unknown one.
func idParam(c echo.Context, notFound string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, checkout.Errorf(checkout.ENotFound, "%s", notFound)
	}
	return id, nil
}
