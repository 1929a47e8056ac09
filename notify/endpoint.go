package notify

import (
	"context"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// Endpoint is a URL of the shop's that wants notifications.
type Endpoint struct {
	ID          int64
	URL         string
	Description string
	Types       []string // the event types it wants; empty for all
	Secret      string
	// PreviousSecret still signs, beside Secret, until PreviousUntil: a rotation gives the
	// shop a day to switch its receiver over.
	PreviousSecret string
	PreviousUntil  time.Time
	Enabled        bool
	DisabledReason string    // why the checkout disabled it, "" when the merchant did
	FailingSince   time.Time // the first failed attempt since the last success; zero when none
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Secrets are the secrets that sign a message sent at now, newest first.
func (e Endpoint) Secrets(now time.Time) []string {
	if e.PreviousSecret != "" && now.Before(e.PreviousUntil) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// Wants reports whether the endpoint subscribes to event type t.
func (e Endpoint) Wants(t string) bool {
	if len(e.Types) == 0 {
		return true
	}
	for _, w := range e.Types {
		if w == t {
			return true
		}
	}
	return false
}

// SecretHint is the end of the secret, enough to tell two apart on the merchant's page.
func (e Endpoint) SecretHint() string {
	if len(e.Secret) < 4 {
		return ""
	}
	return "…" + e.Secret[len(e.Secret)-4:]
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed" // gave up after the last retry
	// DeliveryRetrying is not stored: it selects pending deliveries that have failed before.
	DeliveryRetrying = "retrying"
)

// DeliveryFilter selects an endpoint's deliveries for its log, newest first.
type DeliveryFilter struct {
	EndpointID int64
	Status     string // a delivery status, DeliveryRetrying, or "" for all
	Before     int64  // id cursor for paging; 0 for the newest
	Limit      int
}

// Delivery is one message on its way to one endpoint, with the state of its attempts.
type Delivery struct {
	ID            int64
	MessageID     string
	EndpointID    int64
	Type          string
	OrderID       int64
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastAttemptAt time.Time
	LastStatus    int // the HTTP status of the last answer; 0 for none
	LastError     string
	CreatedAt     time.Time
}

// Attempt is one try at a delivery, as the delivery log shows it.
type Attempt struct {
	ID         int64
	DeliveryID int64
	At         time.Time
	Status     int    // HTTP status; 0 when no answer came
	Error      string // why it failed, "" on success
	Response   string // the start of the answer's body
	Duration   time.Duration
}

// Input is what the merchant sets on an endpoint.
type Input struct {
	URL         string
	Description string
	Types       []string
}

// MaxDescription bounds an endpoint's description.
const MaxDescription = 200

// Manager keeps the merchant's endpoints: it validates what the merchant enters, generates and
// rotates secrets, and requeues deliveries.
type Manager struct {
	store  ManagerStore
	policy Policy
	now    func() time.Time
	wake   func()
}

// ManagerStore is the persistence a Manager needs (store.DB implements it).
type ManagerStore interface {
	CreateEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
	Endpoint(ctx context.Context, id int64) (Endpoint, error)
	Endpoints(ctx context.Context) ([]Endpoint, error)
	UpdateEndpoint(ctx context.Context, id int64, fn func(*Endpoint) error) (Endpoint, error)
	DeleteEndpoint(ctx context.Context, id int64) error
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, bool, error)
	Delivery(ctx context.Context, id int64) (Delivery, error)
	Attempts(ctx context.Context, deliveryID int64) ([]Attempt, error)
	Redeliver(ctx context.Context, deliveryID int64, at time.Time) (Delivery, error)
}

// NewManager returns a Manager; wake, when set, is called when a delivery is queued.
func NewManager(st ManagerStore, p Policy, now func() time.Time, wake func()) *Manager {
	if now == nil {
		now = time.Now
	}
	if wake == nil {
		wake = func() {}
	}
	return &Manager{store: st, policy: p, now: now, wake: wake}
}

// Policy is the address policy the manager checks URLs against.
func (m *Manager) Policy() Policy { return m.policy }

func (m *Manager) check(in Input) (Input, error) {
	fields := map[string]string{}
	in.URL = strings.TrimSpace(in.URL)
	if u, err := m.policy.CheckURL(in.URL); err != nil {
		fields["url"] = strings.TrimPrefix(err.Error(), ErrAddress.Error()+": ")
	} else {
		in.URL = u.String()
	}
	in.Description = strings.TrimSpace(in.Description)
	if n := len([]rune(in.Description)); n > MaxDescription {
		fields["description"] = "Use at most 200 characters."
	}
	seen := map[string]bool{}
	var types []string
	for _, t := range in.Types {
		if !ValidType(t) {
			fields["types"] = "Unknown event type " + t + "."
			continue
		}
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	if len(types) == len(EventTypes) {
		types = nil // all of them, including types added later
	}
	in.Types = types
	if len(fields) > 0 {
		return in, &checkout.Error{Code: checkout.EInvalid, Message: "Check the highlighted fields.", Fields: fields}
	}
	return in, nil
}

// Create adds an endpoint and returns it with its secret, which is shown to the merchant once.
func (m *Manager) Create(ctx context.Context, in Input) (Endpoint, error) {
	in, err := m.check(in)
	if err != nil {
		return Endpoint{}, err
	}
	now := m.now()
	return m.store.CreateEndpoint(ctx, Endpoint{URL: in.URL, Description: in.Description, Types: in.Types,
		Secret: NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now})
}

// Update changes an endpoint's URL, description and event types.
func (m *Manager) Update(ctx context.Context, id int64, in Input) (Endpoint, error) {
	in, err := m.check(in)
	if err != nil {
		return Endpoint{}, err
	}
	return m.store.UpdateEndpoint(ctx, id, func(e *Endpoint) error {
		e.URL, e.Description, e.Types, e.UpdatedAt = in.URL, in.Description, in.Types, m.now()
		return nil
	})
}

// SetEnabled enables or disables an endpoint. Enabling clears the failure record, so that the
// deliveries waiting for it are tried at once.
func (m *Manager) SetEnabled(ctx context.Context, id int64, on bool) (Endpoint, error) {
	e, err := m.store.UpdateEndpoint(ctx, id, func(e *Endpoint) error {
		e.Enabled, e.DisabledReason, e.UpdatedAt = on, "", m.now()
		if on {
			e.FailingSince = time.Time{}
		}
		return nil
	})
	if err == nil && on {
		m.wake()
	}
	return e, err
}

// RotationOverlap is how long the previous secret keeps signing after a rotation.
const RotationOverlap = 24 * time.Hour

// RotateSecret gives the endpoint a new secret, shown to the merchant once; the old one signs
// beside it for RotationOverlap.
func (m *Manager) RotateSecret(ctx context.Context, id int64) (Endpoint, error) {
	return m.store.UpdateEndpoint(ctx, id, func(e *Endpoint) error {
		now := m.now()
		e.PreviousSecret, e.PreviousUntil = e.Secret, now.Add(RotationOverlap)
		e.Secret, e.UpdatedAt = NewSecret(), now
		return nil
	})
}

// Delete removes an endpoint and its delivery log.
func (m *Manager) Delete(ctx context.Context, id int64) error { return m.store.DeleteEndpoint(ctx, id) }

// Endpoint returns one endpoint, or ENotFound.
func (m *Manager) Endpoint(ctx context.Context, id int64) (Endpoint, error) {
	return m.store.Endpoint(ctx, id)
}

// Endpoints lists every endpoint, oldest first.
func (m *Manager) Endpoints(ctx context.Context) ([]Endpoint, error) { return m.store.Endpoints(ctx) }

// Deliveries lists an endpoint's deliveries that f selects, newest first.
func (m *Manager) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, bool, error) {
	return m.store.Deliveries(ctx, f)
}

// Delivery returns one delivery with its attempts, or ENotFound.
func (m *Manager) Delivery(ctx context.Context, id int64) (Delivery, []Attempt, error) {
	d, err := m.store.Delivery(ctx, id)
	if err != nil {
		return d, nil, err
	}
	as, err := m.store.Attempts(ctx, id)
	return d, as, err
}

// Redeliver queues the delivery's message to its endpoint again, as a new delivery with a fresh
// retry schedule (the merchant's button after fixing the shop's receiver).
func (m *Manager) Redeliver(ctx context.Context, deliveryID int64) (Delivery, error) {
	d, err := m.store.Redeliver(ctx, deliveryID, m.now())
	if err == nil {
		m.wake()
	}
	return d, err
}
