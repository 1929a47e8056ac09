// Package checkout is the domain of the merchant checkout: orders and their forward-only state
// machine, the service that creates Banq payment requests for them, the webhook worker and the
// reconciler. One apply path (Service.Sync) turns what Banq says into order state for all three.
// It knows neither HTTP nor SQL: handlers/ translates HTTP, store/ persists.
package checkout

import (
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// State is where an order stands, from the merchant's side.
type State string

// Order states. An order starts Creating (stored, its Banq request not yet confirmed), becomes
// Waiting once Banq holds the payment request, and ends in one terminal state.
const (
	StateCreating State = "creating"
	StateWaiting  State = "waiting"
	StateOnHold   State = "on_hold"
	StateAccepted State = "accepted"
	StatePaid     State = "paid"
	StateDeclined State = "declined"
	StateExpired  State = "expired"
	StateCanceled State = "canceled"
	StateFailed   State = "failed"
	StateRejected State = "rejected" // Banq refused the request itself (400/422)
)

// States lists every state, in the order a filter shows them.
var States = []State{
	StateCreating, StateWaiting, StateOnHold, StateAccepted, StatePaid,
	StateDeclined, StateExpired, StateCanceled, StateFailed, StateRejected,
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether no further change is expected.
func (s State) Terminal() bool {
	switch s {
	case StatePaid, StateDeclined, StateExpired, StateCanceled, StateFailed, StateRejected:
		return true
	}
	return false
}

// rank orders states so that an order only ever moves forward. Waiting and OnHold share a rank
// because a hold can be lifted; Accepted and OnHold may follow each other for the same reason.
func (s State) rank() int {
	switch s {
	case StateCreating:
		return 0
	case StateWaiting, StateOnHold:
		return 1
	case StateAccepted:
		return 2
	}
	return 3
}

// CanMoveTo reports whether an order in state s may move to next. Terminal states never change,
// except that money Banq actually moved always wins: a payment that completes after the order was
// expired or canceled here makes it paid (and late) rather than being lost.
func (s State) CanMoveTo(next State) bool {
	if s == next {
		return false
	}
	if s.Terminal() {
		return next == StatePaid && (s == StateExpired || s == StateCanceled)
	}
	switch {
	case next == StateCreating:
		return false
	case s == StateOnHold, next == StateOnHold:
		return true // a hold comes and goes between waiting and accepted
	}
	return next.rank() > s.rank()
}

// Label is the state in a few words, for badges and filters.
func (s State) Label() string {
	switch s {
	case StateCreating:
		return "Sending to Banq"
	case StateWaiting:
		return "Waiting for approval"
	case StateOnHold:
		return "On hold"
	case StateAccepted:
		return "Accepted, processing"
	case StatePaid:
		return "Paid"
	case StateDeclined:
		return "Declined"
	case StateExpired:
		return "Expired"
	case StateCanceled:
		return "Canceled"
	case StateFailed:
		return "Failed"
	case StateRejected:
		return "Rejected by Banq"
	}
	return string(s)
}

// Order is a merchant's request to be paid an amount by one Banq customer.
type Order struct {
	ID             int64
	Token          string // the payment link's secret; 128 bits, never the id
	IdempotencyKey string // sent with the create call (and as externalOrderCode before orders sent their number)
	Amount         banq.Money
	Description    string
	CustomerBanq   string // the payer's banq guid; "" for an order paid by link
	CustomerName   string
	State          State
	FailReason     banq.FailReason
	PaymentID      string
	TransactionID  string
	CreateError    string // why the last create call did not go through
	CreateAttempts int
	CreatedBy      int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PaidAt         time.Time
	ExpiresAt      time.Time
	Late           bool // paid after it had expired or been canceled here
	NextCheckAt    time.Time
	CheckAttempts  int
	LastSeq        int64 // the newest timeline event's seq

	// Set by the shop's API (all empty for orders made on the form).
	Reference   string            // the shop's own id of the order, unique
	RequestHash string            // of the create request, to tell a repeat from a clash of references
	Metadata    map[string]string // the shop's notes, given back as they came
	ReturnURL   string            // where the customer goes back to once the order is paid
	CancelURL   string            // ... once it ended any other way
	PaymentLink string            // Banq's link the payer opens, for an order paid by link
}

// ExportRow is what the CSV export shows of an order, read without the rest of it: an export
// of every order reads these columns of each and nothing else.
type ExportRow struct {
	ID            int64
	CreatedAt     time.Time
	State         State
	Late          bool
	Amount        banq.Money
	Description   string
	CustomerName  string
	CustomerBanq  string
	PaymentID     string
	TransactionID string
	PaidAt        time.Time
	ExpiresAt     time.Time
	FailReason    banq.FailReason
}

// ByLink reports whether anyone holding Banq's payment link may pay the order, rather than one
// customer the merchant named.
func (o Order) ByLink() bool { return o.CustomerBanq == "" }

// Number is the order number people read and search for.
func (o Order) Number() string { return formatNumber(o.ID) }

// Event kinds on an order's timeline.
const (
	EventCreated       = "created"
	EventRequestSent   = "request_sent"
	EventRequestFailed = "request_failed"
	EventWebhook       = "webhook"
	EventState         = "state"
	EventReconciled    = "reconciled"
)

// Event is one entry of an order's timeline. Seq is global and increasing; it is also the SSE
// event id, so a stream resumes after the last seq it delivered.
type Event struct {
	Seq       int64
	OrderID   int64
	At        time.Time
	Kind      string
	State     State
	Message   string
	WebhookID string
}

// Update is what the hub publishes after a change to an order commits: the order as it now is
// and the timeline events the change appended.
type Update struct {
	Order  Order
	Events []Event
}

// User is a merchant staff member.
type User struct {
	ID                int64
	Email             string
	PasswordHash      []byte
	Demo              bool // the sandbox demo login, whose password is printed until changed
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	Role              string    // RoleOwner, RoleStaff or RoleViewer
	DisabledAt        time.Time // zero while the user may sign in
	// MustChangePassword is set on a password an owner chose: until the user picks their own,
	// they may do nothing but that.
	MustChangePassword bool
}

// SignInFailures is the failed sign-ins counted under one key (a client address, or an account
// and address together): how many, and when the last one was.
type SignInFailures struct {
	Count int
	Last  time.Time
}

// Session is a signed-in browser, kept server-side so that sign-out ends it for good.
type Session struct {
	ID        string
	UserID    int64
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// Webhook statuses in the inbox.
const (
	WebhookPending = "pending"
	WebhookApplied = "applied"
	WebhookIgnored = "ignored" // verified, but about nothing of ours
	WebhookFailed  = "failed"  // gave up after retries
)

// What became of a webhook delivery at the door, as the answer to Banq and the metrics name it
// (checkout_webhooks_received_total), and why a rejected one was refused.
const (
	WebhookStored    = "stored"
	WebhookDuplicate = "duplicate"
	WebhookRejected  = "rejected"
	WebhookError     = "error" // verified but not stored (database); Banq delivers it again

	ReasonSignature   = "signature"
	ReasonMalformed   = "malformed"
	ReasonTooLarge    = "too_large"
	ReasonUnreadable  = "unreadable"   // the body could not be read (the sender went away)
	ReasonRateLimited = "rate_limited" // answered 429 before the body was read; Banq retries
)

// InboxWebhook is a verified webhook as stored in the inbox.
type InboxWebhook struct {
	ID            string
	ReceivedAt    time.Time
	ResourceType  banq.ResourceType
	Action        banq.WebhookAction
	ResourceID    string
	Body          []byte
	Status        string
	Error         string
	Attempts      int
	NextAttemptAt time.Time
	ProcessedAt   time.Time
	OrderID       int64
	Duplicates    int
	Seq           int64 // the inbox's insertion order, for paging the webhook log
	// Lease names the claim under which a worker is processing the webhook ("" when none is):
	// its outcome is recorded only while that claim holds, so a worker whose claim expired and
	// was taken over records nothing.
	Lease string
}

// WebhookFilter selects inbox webhooks for the merchant's webhook log, newest first.
type WebhookFilter struct {
	OrderID int64 // 0 for all
	Before  int64 // Seq cursor for paging; 0 for the newest
	Limit   int
}

// RejectedWebhook is a delivery to the webhook URL that was refused before it became an event
// (missing or wrong signature, malformed body). Only the newest few are kept, to show the
// signature verdicts in the webhook log; they are never processed.
type RejectedWebhook struct {
	ID         int64
	ReceivedAt time.Time
	Remote     string
	Reason     string
	Body       []byte // at most MaxRejectedBody bytes of it
}

// MaxRejectedBody bounds how much of a refused delivery's body is kept.
const MaxRejectedBody = 2048

// OrderFilter selects orders for the merchant's list and its CSV export.
type OrderFilter struct {
	State  State     // "" for all
	Search string    // order number, customer name, description, or the shop's reference
	From   time.Time // created at or after; zero for no bound
	To     time.Time // created before; zero for no bound
	Before int64     // id cursor for paging; 0 for the newest
	Limit  int
	// Reference selects the order with this shop reference; "" for all.
	Reference string
}

// Change is what one apply step writes besides the order itself: timeline events to append and
// the Banq resources it saw, kept as snapshots.
type Change struct {
	Events       []Event
	Payment      *banq.Payment
	Transactions []banq.Transaction
	// Webhook, when set, is the outcome of the inbox webhook being applied, recorded in the
	// same transaction: a webhook is never applied without its outcome, so never applied twice.
	Webhook *InboxWebhook
}

// ErrNoChange, returned by an update function, ends the update without writing anything.
var ErrNoChange = &Error{Code: EConflict, Message: "nothing to change"}

// ErrClaimLost is returned when a webhook's outcome is recorded under a claim that expired and
// was taken over by another worker: nothing is written, the other worker finishes the webhook.
var ErrClaimLost = &Error{Code: EConflict, Message: "the webhook's claim expired and another worker took it over"}
