package checkout

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/ingest"
)

// Store is what the checkout needs from persistence (store.DB implements it).
type Store interface {
	CreateOrder(ctx context.Context, o Order, first Event) (Order, error)
	Order(ctx context.Context, id int64) (Order, error)
	UpdateOrder(ctx context.Context, id int64, fn func(*Order) (Change, error)) (Update, error)
	// UpdatePaymentOrder is UpdateOrder for the order that owns a Banq payment (by its id, or
	// else by the order code it carries), found in the same transaction; ENotFound if none.
	UpdatePaymentOrder(ctx context.Context, paymentID, externalOrderCode string, fn func(*Order) (Change, error)) (Update, error)
	DueOrders(ctx context.Context, now time.Time, limit int) ([]Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, bool, error)
	InsertWebhook(ctx context.Context, w InboxWebhook) (bool, error)
	// ClaimWebhook hands out one pending inbox webhook due at now that no other worker, in this
	// instance or another, is processing; nil when there is none. The claim is held for lease
	// and renewed until it ends; a claim not renewed (its instance died) expires after lease.
	ClaimWebhook(ctx context.Context, now time.Time, lease time.Duration) (WebhookClaim, error)
	FinishWebhook(ctx context.Context, w InboxWebhook) error
	Webhook(ctx context.Context, id string) (InboxWebhook, error)
	InsertRejectedWebhook(ctx context.Context, r RejectedWebhook, keep int) error
	WebhookSilence(ctx context.Context) (last time.Time, open int, oldest time.Time, err error)
}

// Banq is what the checkout needs from the Banq API (banq.Client implements it).
type Banq interface {
	CreateGetPaidDirect(ctx context.Context, p banq.CreatePayment, idempotencyKey string) (banq.Payment, error)
	CreateGetPaidLink(ctx context.Context, p banq.CreatePayment, idempotencyKey string) (banq.Payment, error)
	Payment(ctx context.Context, id string) (banq.Payment, error)
	Transactions(ctx context.Context, q banq.TransactionQuery) (banq.Page[banq.Transaction], error)
	Transaction(ctx context.Context, id string) (banq.Transaction, error)
	Me(ctx context.Context) (banq.Me, error)
	SetWebhookConfig(ctx context.Context, accountSpaceID int64, cfg banq.WebhookConfig) error
}

// Publisher receives every committed change (live.Hub implements it).
type Publisher interface {
	Publish(Update)
}

// Config tunes the service; zero values take the defaults.
type Config struct {
	MerchantBanq   string        // the banq to be paid into (BANQ_MERCHANT_BANQ); "": the account space's first
	WebhookURL     string        // where Connect points Banq's webhooks
	WebhookSecret  string        // what they are signed with
	CreateTimeout  time.Duration // bound on the create call made while the merchant waits; 15s
	RecoverAfter   time.Duration // a create not confirmed by then is retried with the same key; 10s
	ReconcileAfter time.Duration // Banq is asked about an order this long after its last news; 30s
	ReconcileMax   time.Duration // the longest wait between two such questions; 10m
	WebhookRetries int           // attempts at one webhook before it is marked failed; 10
	Workers        int           // webhooks processed at once; 16
	WebhookLease   time.Duration // a claimed webhook whose instance stopped renewing its claim is free again after this; 15s
	OrderTTL       time.Duration // an order not paid this long after its creation expires; 30m
	LateWatch      time.Duration // Banq is still asked about an order this long after it expired here; 24h
	WebhookGap     time.Duration // orders sent this long ago with no webhook since mean webhooks are broken; 10m
	MissWindow     time.Duration // unannounced changes the reconciler found are counted over this; 30m
	MissLimit      int           // this many of them within MissWindow mean webhooks are broken; 3
	// Money writes an amount as the merchant's pages do (with the shop's currency), for the
	// timeline's words; nil writes the bare decimal.
	Money  func(banq.Money) string
	Now    func() time.Time
	Logger *slog.Logger
	// ObserveWebhook, when set, is called after each attempt of the worker at an inbox webhook
	// with the webhook as the attempt left it and how long the attempt took (metrics).
	ObserveWebhook func(w InboxWebhook, took time.Duration)
	// Ingest is the deliveries being received, which the worker lets go first (the HTTP side
	// marks them); nil paces nothing.
	Ingest *ingest.Gate
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CreateTimeout, 15*time.Second)
	def(&c.RecoverAfter, 10*time.Second)
	def(&c.ReconcileAfter, 30*time.Second)
	def(&c.ReconcileMax, 10*time.Minute)
	def(&c.OrderTTL, 30*time.Minute)
	def(&c.LateWatch, 24*time.Hour)
	def(&c.WebhookGap, 10*time.Minute)
	def(&c.MissWindow, 30*time.Minute)
	def(&c.WebhookLease, 15*time.Second)
	if c.MissLimit <= 0 {
		c.MissLimit = 3
	}
	if c.WebhookRetries <= 0 {
		c.WebhookRetries = 10
	}
	if c.Money == nil {
		c.Money = banq.Money.Display
	}
	if c.Workers <= 0 {
		// Enough that the changes of orders they apply share commits (store's group commit):
		// while webhooks were processed, 4 workers left most commits with one change.
		c.Workers = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service is the checkout's domain logic.
type Service struct {
	cfg   Config
	store Store
	banq  Banq
	pub   Publisher
	log   *slog.Logger
	wake  chan struct{}
	locks [64]sync.Mutex
	// merchant is learnt by Connect, after start when Banq was away then; connectErr is why its
	// last attempt failed.
	merchant   atomic.Pointer[Merchant]
	connectErr atomic.Pointer[error]
	seed       maphash.Seed

	health webhookHealth
}

// New returns a service over its collaborators.
func New(cfg Config, st Store, b Banq, pub Publisher) *Service {
	cfg.defaults()
	return &Service{cfg: cfg, store: st, banq: b, pub: pub, log: cfg.Logger,
		wake: make(chan struct{}, 1), seed: maphash.MakeSeed()}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

func (s *Service) publish(up Update) {
	if up.Order.ID != 0 && len(up.Events) > 0 {
		s.pub.Publish(up)
	}
}

// lock serialises fetch-and-apply for one Banq payment, so a slower fetch never overwrites what
// a newer one saw.
func (s *Service) lock(paymentID string) func() {
	m := &s.locks[maphash.String(s.seed, paymentID)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// errNotConnected means Banq has not told us yet which banq to be paid into.
var errNotConnected = errors.New("not connected to Banq yet")

// notConnectedError is errNotConnected with why, when known.
type notConnectedError struct{ why error }

func (e *notConnectedError) Error() string {
	if e.why == nil {
		return errNotConnected.Error()
	}
	return errNotConnected.Error() + ": " + e.why.Error()
}

func (e *notConnectedError) Is(target error) bool { return target == errNotConnected }

func (e *notConnectedError) Unwrap() error { return e.why }

// NewOrder is a validated order request.
type NewOrder struct {
	Amount       banq.Money
	Description  string
	CustomerBanq string // "" to be paid by link, by whoever opens it
	CustomerName string
	CreatedBy    int64
	TTL          time.Duration // how long the customer has to pay; 0 for Config.OrderTTL

	// From the shop's API; see Order.
	Reference   string
	RequestHash string
	Metadata    map[string]string
	ReturnURL   string
	CancelURL   string
}

// Limits of an order's fields.
const (
	MaxDescription = 500
	MaxName        = 200
)

// OrderForm is a new order as the merchant's form or the shop's API gives it: text, not yet
// trusted.
type OrderForm struct {
	Amount       string
	Description  string
	ByLink       bool // paid by link, by whoever opens it: no customer
	CustomerBanq string
	CustomerName string
	ExpiresIn    string // minutes the customer has to pay; "" for the default
}

// ParseNewOrder validates a new order, its time to pay included (defTTL when f.ExpiresIn is
// empty). It returns an *Error with code EInvalid and a message for every wrong field at once:
// "amount", "description", "customer", "expires".
func ParseNewOrder(f OrderForm, defTTL time.Duration) (NewOrder, error) {
	fields := map[string]string{}
	var n NewOrder
	m, err := banq.ParseMoney(f.Amount)
	switch {
	case errors.Is(err, banq.ErrMoneyEmpty):
		fields["amount"] = "Enter the amount to charge."
	case errors.Is(err, banq.ErrMoneyNegative):
		fields["amount"] = "The amount must be more than zero."
	case errors.Is(err, banq.ErrMoneyPrecision):
		fields["amount"] = "Use at most two decimals, like 12.50."
	case errors.Is(err, banq.ErrMoneyTooLarge):
		fields["amount"] = "The amount can be at most " + banq.MaxMoney.Display() + "."
	case err != nil:
		fields["amount"] = "Enter the amount as a number, like 12.50."
	case m == 0:
		fields["amount"] = "The amount must be more than zero."
	}
	n.Amount = m
	n.Description = strings.TrimSpace(f.Description)
	switch l := len([]rune(n.Description)); {
	case !utf8.ValidString(n.Description):
		fields["description"] = "The description holds characters that are not text; type it again."
	case l == 0:
		fields["description"] = "Say what the payment is for; the customer sees it."
	case l > MaxDescription:
		fields["description"] = fmt.Sprintf("The description can be at most %d characters (it has %d).", MaxDescription, l)
	}
	n.CustomerBanq = strings.TrimSpace(f.CustomerBanq)
	n.CustomerName = strings.TrimSpace(f.CustomerName)
	switch {
	case f.ByLink:
		n.CustomerBanq, n.CustomerName = "", ""
	case n.CustomerBanq == "":
		fields["customer"] = "Choose the customer's banq."
	case !isGUID(n.CustomerBanq) || len([]rune(n.CustomerName)) > MaxName:
		fields["customer"] = "That customer is not valid; choose again."
	}
	if n.CustomerName == "" && !f.ByLink {
		n.CustomerName = n.CustomerBanq
	}
	var msg string
	if n.TTL, msg = parseTTL(f.ExpiresIn, defTTL); msg != "" {
		fields["expires"] = msg
	}
	if len(fields) > 0 {
		return n, &Error{Code: EInvalid, Message: "Please correct the highlighted fields.", Fields: fields}
	}
	return n, nil
}

// isGUID reports whether s is a GUID as Banq writes them: 36 characters, hex digits in groups
// of 8-4-4-4-12 (uuid.Parse alone would also take braces, a urn: prefix and no hyphens).
func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func newToken() string {
	b := make([]byte, 24) // 192 bits
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateOrder stores a new order with its idempotency key, then asks Banq to get it paid. The
// order is committed before Banq is called, so a crash or timeout in between loses nothing: the
// reconciler sends it again with the same key. When Banq cannot be reached the order is returned
// with an EUnavailable error; when Banq refuses it, the order is rejected and the error is
// EInvalid with Banq's message.
func (s *Service) CreateOrder(ctx context.Context, n NewOrder) (Order, error) {
	now := s.now()
	if r := []rune(n.CustomerName); len(r) > MaxName {
		// The merchant's form takes the payer's name from Banq's directory, whose names may be
		// longer than an order keeps.
		n.CustomerName = string(r[:MaxName])
	}
	ttl := n.TTL
	if ttl <= 0 {
		ttl = s.cfg.OrderTTL
	}
	o := Order{
		Token:          newToken(),
		IdempotencyKey: uuid.NewString(),
		Amount:         n.Amount,
		Description:    n.Description,
		CustomerBanq:   n.CustomerBanq,
		CustomerName:   n.CustomerName,
		State:          StateCreating,
		CreatedBy:      n.CreatedBy,
		ExpiresAt:      now.Add(ttl),
		Reference:      n.Reference,
		RequestHash:    n.RequestHash,
		Metadata:       n.Metadata,
		ReturnURL:      n.ReturnURL,
		CancelURL:      n.CancelURL,
	}
	o.NextCheckAt = nextCheck(&o, now.Add(s.cfg.RecoverAfter))
	from := "from " + o.CustomerName
	if o.ByLink() {
		from = "payable by link"
	}
	o, err := s.store.CreateOrder(ctx, o, Event{Kind: EventCreated, State: StateCreating,
		Message: fmt.Sprintf("Order created: %s %s.", s.cfg.Money(o.Amount), from)})
	if err != nil {
		return Order{}, err
	}
	s.pub.Publish(Update{Order: o})
	return s.send(ctx, o)
}

// RetryCreate sends a creating order to Banq again, with its original idempotency key.
func (s *Service) RetryCreate(ctx context.Context, id int64) (Order, error) {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if o.State != StateCreating {
		return o, nil
	}
	return s.send(ctx, o)
}

func (s *Service) send(ctx context.Context, o Order) (Order, error) {
	merchant := s.Merchant().Banq
	if merchant == "" {
		// Not yet connected to Banq: the order waits, and recovery sends it once we are.
		return s.sendFailed(ctx, o, &notConnectedError{why: s.NotConnected()})
	}
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.CreateTimeout)
	defer cancel()
	req := banq.CreatePayment{
		Destination:       banq.BanqRef{BanqGUID: merchant},
		Funds:             o.Amount,
		Comment:           o.Description,
		ExternalOrderCode: o.Number(), // what the payer, the merchant and the receipt all show
		Frequency:         banq.FrequencyOnce,
	}
	create := s.banq.CreateGetPaidLink
	if !o.ByLink() {
		req.Source = &banq.BanqRef{BanqGUID: o.CustomerBanq}
		create = s.banq.CreateGetPaidDirect
	}
	p, err := create(callCtx, req, o.IdempotencyKey)
	// What Banq said must be recorded even if the merchant's request is gone.
	ctx = context.WithoutCancel(ctx)
	if err != nil {
		return s.sendFailed(ctx, o, err)
	}
	up, uerr := s.store.UpdateOrder(ctx, o.ID, func(o *Order) (Change, error) {
		ch := Change{Payment: &p}
		if o.PaymentID == "" {
			// Else a webhook about the payment, quicker than this answer, recorded the request.
			o.PaymentID = p.ID
			ch.Events = append(ch.Events, requestSent(o))
		}
		if o.PaymentLink == "" {
			o.PaymentLink = p.PaymentLink
		}
		o.CreateError = ""
		o.CreateAttempts++
		if o.State == StateCreating {
			o.State = StateWaiting
			for i := range ch.Events {
				ch.Events[i].State = StateWaiting
			}
			o.NextCheckAt = nextCheck(o, s.now().Add(s.cfg.ReconcileAfter))
		}
		return ch, nil
	})
	if uerr != nil {
		return o, uerr
	}
	s.publish(up)
	return up.Order, nil
}

func (s *Service) sendFailed(ctx context.Context, o Order, cause error) (Order, error) {
	later := classify(cause) == temporary
	var be *banq.Error
	errors.As(cause, &be)
	var out *Error
	if later {
		// Say what went wrong: the merchant (or whoever they call) acts on it.
		const saved = " The order is saved and will be sent again with the same key, so the customer can " +
			"never be charged twice. Retry now, or wait."
		why := "Banq did not answer in time."
		switch {
		case errors.Is(cause, errNotConnected):
			why = "The checkout is not connected to Banq yet."
			if nc, ok := errors.AsType[*notConnectedError](cause); ok && nc.why != nil {
				why = "The checkout is not connected to Banq yet: " + nc.why.Error() + "."
			}
		case errors.Is(cause, banq.ErrUnexpected) && be != nil && be.Status >= 200 && be.Status < 300:
			why = "Banq's answer could not be read (" + be.Message + ")."
		case be != nil && be.Status != 0:
			why = fmt.Sprintf("Banq is unavailable (it answered %d).", be.Status)
		}
		out = &Error{Code: EUnavailable, Err: cause, Message: why + saved}
	} else {
		msg := "Banq refused the payment request."
		if be != nil && be.Message != "" {
			msg = "Banq refused the payment request: " + be.Message
		}
		out = &Error{Code: EInvalid, Err: cause, Message: msg, Fields: banqFields(be)}
	}
	s.log.Warn("create payment failed", "order_id", o.ID, "temporary", later, "err", cause)
	up, err := s.store.UpdateOrder(ctx, o.ID, func(o *Order) (Change, error) {
		if o.State != StateCreating {
			return Change{}, ErrNoChange // a webhook or another attempt got there first
		}
		o.CreateAttempts++
		o.CreateError = out.Message
		if later {
			o.NextCheckAt = nextCheck(o, s.now().Add(backoff(s.cfg.RecoverAfter, s.cfg.ReconcileMax, o.CreateAttempts-1)))
			return Change{Events: []Event{{Kind: EventRequestFailed, Message: out.Message}}}, nil
		}
		o.State = StateRejected
		o.NextCheckAt = time.Time{}
		return Change{Events: []Event{{Kind: EventState, State: StateRejected, Message: out.Message}}}, nil
	})
	if err != nil {
		return o, err
	}
	s.publish(up)
	if up.Order.State != StateCreating && up.Order.State != StateRejected {
		return up.Order, nil // it went through after all
	}
	return up.Order, out
}

// banqFields maps Banq's field errors onto the new-order form's fields.
func banqFields(be *banq.Error) map[string]string {
	if be == nil || len(be.Fields) == 0 {
		return nil
	}
	out := map[string]string{}
	for field, msgs := range be.Fields {
		f := strings.ToLower(field)
		name := ""
		switch {
		case strings.HasPrefix(f, "funds"):
			name = "amount"
		case strings.HasPrefix(f, "comment"):
			name = "description"
		case strings.HasPrefix(f, "source"):
			name = "customer"
		}
		if name != "" && len(msgs) > 0 {
			out[name] = "Banq says: " + strings.Join(msgs, " ")
		}
	}
	return out
}

// backoff is base doubled per attempt (0 first), capped at max.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// requestSent is the timeline's entry for a payment request Banq has.
func requestSent(o *Order) Event {
	if o.ByLink() {
		return Event{Kind: EventRequestSent, Message: "Payment link made; anyone who opens it in Banq can pay."}
	}
	return Event{Kind: EventRequestSent, Message: "Payment request sent to the customer's Banq app."}
}
