package checkout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/banq-checkout/checkout/banq"
)

// Cause says what made the checkout look at a payment; it ends up on the timeline.
type Cause struct {
	Kind      string // EventWebhook, EventReconciled or EventReprocessed
	WebhookID string
	Resource  banq.ResourceType
	Action    banq.WebhookAction
	// Claimed is the inbox webhook a worker is processing: its applied outcome is recorded in
	// the apply's own transaction (Change.Webhook).
	Claimed *InboxWebhook
}

// Derive computes the order state that a payment and its transactions mean, with the fail
// reason and the transaction that decided it. Money that moved wins over everything; a failed
// transaction ends the order; otherwise the payment's status speaks.
func Derive(p banq.Payment, txns []banq.Transaction) (State, banq.FailReason, string) {
	var failed *banq.Transaction
	for i, t := range txns {
		switch t.Status {
		case banq.TransactionCompleted:
			return StatePaid, "", t.ID
		case banq.TransactionFailed:
			failed = &txns[i]
		}
	}
	switch p.Status {
	case banq.PaymentDeclined:
		return StateDeclined, "", ""
	case banq.PaymentCanceled:
		return StateCanceled, "", ""
	case banq.PaymentExpired:
		return StateExpired, "", ""
	}
	if failed != nil {
		reason := failed.FailReason
		if reason == "" {
			reason = banq.FailNone
		}
		return StateFailed, reason, failed.ID
	}
	switch p.Status {
	case banq.PaymentOnHold:
		return StateOnHold, "", ""
	case banq.PaymentAccepted, banq.PaymentCompleted:
		return StateAccepted, "", ""
	}
	return StateWaiting, "", ""
}

// SyncPayment is the one apply path: it fetches a payment and its transactions from Banq and
// moves the order that owns it forward, recording the cause on the timeline and publishing the
// change after it commits. Webhooks, the reconciler and reprocessing all come through here.
// It returns ENotFound when the payment belongs to no order of ours.
func (s *Service) SyncPayment(ctx context.Context, paymentID string, cause Cause) (Update, error) {
	defer s.lock(paymentID)()
	p, err := s.banq.Payment(ctx, paymentID)
	if err != nil {
		return Update{}, fmt.Errorf("fetch payment %s: %w", paymentID, err)
	}
	txns, err := banq.AllPages(ctx, 100, func(ctx context.Context, page, size int) (banq.Page[banq.Transaction], error) {
		return s.banq.Transactions(ctx, banq.TransactionQuery{PaymentID: p.ID, Page: page, PageSize: size})
	})
	if err != nil {
		return Update{}, fmt.Errorf("fetch transactions of %s: %w", paymentID, err)
	}
	up, err := s.store.UpdatePaymentOrder(ctx, p.ID, p.ExternalOrderCode, func(o *Order) (Change, error) {
		// Matched by its order code alone, a payment must be the one we asked for: another
		// program paid into the same Banq account may use the same numbers.
		if o.PaymentID == "" && (p.Funds != o.Amount || p.Source == nil || p.Source.BanqGUID != o.CustomerBanq) {
			return Change{}, &Error{Code: ENotFound, Message: fmt.Sprintf("payment %s is not order %s's request", p.ID, o.Number())}
		}
		return s.apply(o, p, txns, cause), nil
	})
	if err != nil {
		return Update{}, err
	}
	s.publish(up)
	if cause.Kind == EventReconciled && changedState(up.Events) {
		s.noteUnannounced()
	}
	return up, nil
}

// apply moves o according to what Banq said, forward only, and schedules its next check.
func (s *Service) apply(o *Order, p banq.Payment, txns []banq.Transaction, cause Cause) Change {
	now := s.now()
	ch := Change{Payment: &p, Transactions: txns}
	if o.PaymentID == "" && o.State == StateCreating {
		// Banq told of the request before the answer to our create call was recorded: the
		// request was sent, and the timeline says so first, as that answer would have.
		ch.Events = append(ch.Events, requestSent(o))
	}
	if cause.Kind == EventWebhook {
		ch.Events = append(ch.Events, Event{Kind: EventWebhook, WebhookID: cause.WebhookID,
			Message: webhookWords(cause.Resource, cause.Action)})
	}
	if cause.Claimed != nil {
		w := applied(*cause.Claimed, o.ID, now)
		ch.Webhook = &w
	}
	if o.PaymentID == "" {
		o.PaymentID = p.ID
	}
	next, reason, txID := Derive(p, txns)
	changed := o.State.CanMoveTo(next)
	if changed {
		prev := o.State
		o.State, o.FailReason, o.TransactionID = next, reason, txID
		o.CreateError = ""
		msg := next.Label() + "."
		switch {
		case next == StatePaid && (prev == StateExpired || prev == StateCanceled):
			o.Late = true
			msg = fmt.Sprintf("Paid after the order was %s here: the money arrived and is kept; check with the customer.", prev)
		case next == StateFailed:
			msg = "Failed: " + reason.MerchantText()
		}
		if next == StatePaid {
			o.PaidAt = now
		}
		switch cause.Kind {
		case EventReconciled:
			msg += " Found by asking Banq; no webhook announced it."
		case EventReprocessed:
			msg += " Found by reprocessing the webhook."
		}
		ch.Events = append(ch.Events, Event{Kind: EventState, State: next, Message: msg, WebhookID: cause.WebhookID})
	}
	switch {
	case o.State.Terminal():
		o.NextCheckAt = s.watchLate(o, p, now)
	case changed || cause.Kind == EventWebhook:
		o.CheckAttempts = 0
		o.NextCheckAt = nextCheck(o, now.Add(s.cfg.ReconcileAfter))
	default:
		o.CheckAttempts++
		o.NextCheckAt = nextCheck(o, now.Add(backoff(s.cfg.ReconcileAfter, s.cfg.ReconcileMax, o.CheckAttempts)))
	}
	return ch
}

// syncTransaction finds the payment of a transaction and syncs that.
func (s *Service) syncTransaction(ctx context.Context, txID string, cause Cause) (Update, error) {
	t, err := s.banq.Transaction(ctx, txID)
	if err != nil {
		return Update{}, fmt.Errorf("fetch transaction %s: %w", txID, err)
	}
	if t.PaymentID == "" {
		return Update{}, &Error{Code: ENotFound, Message: "transaction has no payment"}
	}
	return s.SyncPayment(ctx, t.PaymentID, cause)
}

// errUnknownResource: a webhook about a kind of resource the checkout does not know, which no
// order depends on; there is nothing to fetch.
var errUnknownResource = errors.New("webhook about a resource type the checkout does not know")

// syncWebhook fetches the resource an inbox webhook is about and applies it. Whatever its
// action says, even one the checkout does not know, the resource changed: fetch it again.
func (s *Service) syncWebhook(ctx context.Context, w InboxWebhook, cause Cause) (Update, error) {
	switch {
	case strings.EqualFold(string(w.ResourceType), string(banq.ResourcePayment)):
		return s.SyncPayment(ctx, w.ResourceID, cause)
	case strings.EqualFold(string(w.ResourceType), string(banq.ResourceTransaction)):
		return s.syncTransaction(ctx, w.ResourceID, cause)
	}
	return Update{}, fmt.Errorf("%w: %q", errUnknownResource, w.ResourceType)
}

// verdict is what an error from asking Banq about a payment, or from matching its answer to our
// orders, means for what to do next.
type verdict int

const (
	refused     verdict = iota // Banq refused the call: the same call would be refused again
	temporary                  // Banq was away, or its answer is unknown: ask again later
	notOurs                    // the resource is unknown to Banq, or belongs to no order of ours
	unknownKind                // a webhook about a resource type the checkout does not know
)

// classify is the one place that tells Banq's errors apart: the create path (sendFailed), the
// worker and reprocessing (attempt) all act on its verdict. Temporary wins over not ours: not
// being connected yet, because Banq's users/me answered 404, is still a wait.
func classify(err error) verdict {
	switch {
	case errors.Is(err, errUnknownResource):
		return unknownKind
	case banq.Temporary(err) || errors.Is(err, errNotConnected) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return temporary
	case ErrorCode(err) == ENotFound || errors.Is(err, banq.ErrNotFound):
		return notOurs
	}
	return refused
}

// webhookWords says what a Banq webhook tells, for the merchant reading the timeline top to
// bottom. Banq's payment is the request and its transaction the transfer of money: a payment
// "Completed" only means the request is finished, whether or not its transfer failed.
func webhookWords(r banq.ResourceType, a banq.WebhookAction) string {
	switch r {
	case banq.ResourcePayment:
		switch a {
		case banq.ActionCreated:
			return "Banq: payment request created."
		case banq.ActionAccepted:
			return "Banq: the customer approved the payment request."
		case banq.ActionDeclined:
			return "Banq: the customer declined the payment request."
		case banq.ActionOnHold:
			return "Banq: payment request put on hold."
		case banq.ActionResumed:
			return "Banq: payment request resumed."
		case banq.ActionCanceled:
			return "Banq: payment request canceled."
		case banq.ActionExpired:
			return "Banq: payment request expired."
		case banq.ActionCompleted:
			return "Banq: payment request finished (the transfer's entry says whether money moved)."
		}
	case banq.ResourceTransaction:
		switch a {
		case banq.ActionCreated:
			return "Banq: transfer of the money started."
		case banq.ActionCompleted:
			return "Banq: transfer done, the money arrived."
		case banq.ActionFailed:
			return "Banq: transfer failed, no money moved."
		case banq.ActionUpdated:
			return "Banq: transfer updated."
		}
	}
	return fmt.Sprintf("Banq webhook: %s %s.", r, a)
}
