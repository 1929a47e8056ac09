package checkout

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// Bounds of an order's time to pay, as the new-order form accepts it.
const (
	MinOrderTTL = time.Minute
	MaxOrderTTL = 7 * 24 * time.Hour
)

// Event kinds beyond the core.
const (
	EventReprocessed = "reprocessed" // a merchant had a webhook applied again (a Cause only)
)

// CanExpire reports whether o expires at ExpiresAt if it is not paid by then: only while Banq
// has not heard back from the payer. An accepted or held payment is Banq's to finish.
func (o Order) CanExpire() bool {
	return (o.State == StateCreating || o.State == StateWaiting) && !o.ExpiresAt.IsZero()
}

// parseTTL reads a new order's "expires in" minutes; empty means def. It returns the message for
// the field when the value is not a whole number of minutes between MinOrderTTL and MaxOrderTTL.
func parseTTL(minutes string, def time.Duration) (time.Duration, string) {
	minutes = strings.TrimSpace(minutes)
	if minutes == "" {
		return def, ""
	}
	n, err := strconv.Atoi(minutes)
	d := time.Duration(n) * time.Minute
	if err != nil || d < MinOrderTTL || d > MaxOrderTTL {
		return 0, fmt.Sprintf("Give the customer between %d and %d minutes to pay.",
			int(MinOrderTTL.Minutes()), int(MaxOrderTTL.Minutes()))
	}
	return d, ""
}

// nextCheck is at, or the order's expiry if that comes first while it can expire, so that the
// reconciler wakes the order on time to expire it.
func nextCheck(o *Order, at time.Time) time.Time {
	if o.CanExpire() && o.ExpiresAt.Before(at) {
		return o.ExpiresAt
	}
	return at
}

// watchLate is when to ask Banq again about an order that ended here (expired or canceled) while
// its Banq payment is still open: Banq cannot withdraw the request (banq.CanWithdrawPayments), so
// the payer may still approve it, and that money must be found even if its webhook is lost. It
// backs off like any check and stops LateWatch after the order's expiry. Zero when there is
// nothing to watch.
func (s *Service) watchLate(o *Order, p banq.Payment, now time.Time) time.Time {
	if (o.State != StateExpired && o.State != StateCanceled) || p.ID == "" || p.Status.Terminal() {
		return time.Time{}
	}
	o.CheckAttempts++
	return s.watchUntil(o, now.Add(backoff(s.cfg.ReconcileAfter, s.cfg.ReconcileMax, o.CheckAttempts)))
}

// watchUntil is at, or zero when at falls after the late watch of an ended order.
func (s *Service) watchUntil(o *Order, at time.Time) time.Time {
	if o.State.Terminal() && (o.ExpiresAt.IsZero() || at.After(o.ExpiresAt.Add(s.cfg.LateWatch))) {
		return time.Time{}
	}
	return at
}

// endedHere is the timeline message of an order expired or canceled on our side.
func endedHere(what string) string {
	if banq.CanWithdrawPayments {
		return what + " The request was withdrawn at Banq too."
	}
	return what + " Banq's API cannot withdraw a payment request, so it may still show in the customer's " +
		"Banq app: a payment made anyway is kept and flagged late."
}

// end moves an order that has not been approved to state (expired or canceled) on our side, and
// keeps watching its Banq payment (see watchLate).
func (s *Service) end(o *Order, state State, message string) Change {
	now := s.now()
	o.State = state
	o.CreateError = ""
	o.CheckAttempts = 0
	o.NextCheckAt = time.Time{}
	if o.PaymentID != "" {
		o.NextCheckAt = s.watchUntil(o, now.Add(s.cfg.ReconcileAfter))
	}
	return Change{Events: []Event{{Kind: EventState, State: state, Message: endedHere(message)}}}
}

// expire ends an order whose time to pay is over, if it still can expire (a sync just before may
// have moved it on). The change is published like every other.
func (s *Service) expire(ctx context.Context, id int64) error {
	up, err := s.store.UpdateOrder(context.WithoutCancel(ctx), id, func(o *Order) (Change, error) {
		if !o.CanExpire() || s.now().Before(o.ExpiresAt) {
			return Change{}, ErrNoChange
		}
		return s.end(o, StateExpired, fmt.Sprintf("Expired: not paid by %s.",
			o.ExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC"))), nil
	})
	if err != nil {
		return err
	}
	s.publish(up)
	return nil
}

// unschedule clears an order's next check: there is nothing to ask Banq about it.
func (s *Service) unschedule(ctx context.Context, id int64) error {
	_, err := s.store.UpdateOrder(ctx, id, func(o *Order) (Change, error) {
		if o.NextCheckAt.IsZero() {
			return Change{}, ErrNoChange
		}
		o.NextCheckAt = time.Time{}
		return Change{}, nil
	})
	return err
}
