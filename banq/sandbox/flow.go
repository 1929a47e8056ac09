package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
)

// Payment actions, as the control endpoints name them (POST /sandbox/payments/{id}/{action}).
const (
	actionApprove = "approve"
	actionDecline = "decline"
	actionFail    = "fail"
	actionExpire  = "expire"
	actionHold    = "hold"
	actionResume  = "resume"
	actionCancel  = "cancel"
)

// transition says from which statuses an action is allowed, where it leads, and the webhook it
// emits. Resume leads back to the status the payment had before the hold.
type transition struct {
	from    []banq.PaymentStatus
	to      banq.PaymentStatus
	webhook banq.WebhookAction
}

var transitions = map[string]transition{
	actionApprove: {[]banq.PaymentStatus{banq.PaymentPending}, banq.PaymentAccepted, banq.ActionAccepted},
	actionFail:    {[]banq.PaymentStatus{banq.PaymentPending}, banq.PaymentAccepted, banq.ActionAccepted},
	actionDecline: {[]banq.PaymentStatus{banq.PaymentPending}, banq.PaymentDeclined, banq.ActionDeclined},
	actionExpire:  {[]banq.PaymentStatus{banq.PaymentPending}, banq.PaymentExpired, banq.ActionExpired},
	actionCancel:  {[]banq.PaymentStatus{banq.PaymentPending, banq.PaymentOnHold}, banq.PaymentCanceled, banq.ActionCanceled},
	actionHold:    {[]banq.PaymentStatus{banq.PaymentPending, banq.PaymentAccepted}, banq.PaymentOnHold, banq.ActionOnHold},
	actionResume:  {[]banq.PaymentStatus{banq.PaymentOnHold}, "", banq.ActionResumed},
}

// Approve accepts a Pending payment as its payer would: the payment becomes Accepted, then after
// StepDelay a Completed transaction is made, then after StepDelay the payment is Completed.
// It returns ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Approve(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionApprove, "")
}

// Fail accepts a Pending payment like Approve, but its transaction fails with reason; the payment
// still completes. It returns ErrInvalidReason, ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Fail(ctx context.Context, paymentID string, reason banq.FailReason) (banq.Payment, error) {
	if !reason.Valid() {
		return banq.Payment{}, fmt.Errorf("%w %q", ErrInvalidReason, reason)
	}
	return s.act(ctx, paymentID, actionFail, reason)
}

// Decline turns a Pending payment Declined. It returns ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Decline(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionDecline, "")
}

// Expire turns a Pending payment Expired. It returns ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Expire(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionExpire, "")
}

// Hold puts a Pending or Accepted payment OnHold; an approval flow in progress pauses.
// It returns ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Hold(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionHold, "")
}

// Resume returns an OnHold payment to the status it had before (webhook Resumed); a paused
// approval flow goes on after StepDelay. It returns ErrNotFound or ErrIllegalTransition.
func (s *Sandbox) Resume(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionResume, "")
}

// Cancel turns a Pending payment, or one held while Pending, Canceled. It returns ErrNotFound or
// ErrIllegalTransition.
func (s *Sandbox) Cancel(ctx context.Context, paymentID string) (banq.Payment, error) {
	return s.act(ctx, paymentID, actionCancel, "")
}

// identify records who answers a payment link: payerGUID becomes the source of a payment that
// has none. A payment that names its payer keeps it. It returns ErrNotFound or ErrUnknownPayer.
func (s *Sandbox) identify(ctx context.Context, paymentID, payerGUID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := getPayment(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM banqs WHERE guid = ? AND guid <> ?",
			payerGUID, p.Destination.BanqGUID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w %q", ErrUnknownPayer, payerGUID)
		}
		_, err = tx.ExecContext(ctx, "UPDATE payments SET source_guid = ? WHERE id = ? AND source_guid IS NULL", payerGUID, paymentID)
		return err
	})
}

// act applies an action to a payment in one transaction with its webhook and flow steps.
func (s *Sandbox) act(ctx context.Context, id, action string, reason banq.FailReason) (banq.Payment, error) {
	tr, ok := transitions[action]
	if !ok {
		return banq.Payment{}, fmt.Errorf("sandbox: unknown action %q", action)
	}
	var out banq.Payment
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := getPayment(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(tr.from, p.Status) ||
			(action == actionCancel && p.Status == banq.PaymentOnHold && p.heldFrom != banq.PaymentPending) {
			return fmt.Errorf("%w: cannot %s a payment that is %s", ErrIllegalTransition, action, p.Status)
		}
		now := s.now()
		to, held := tr.to, banq.PaymentStatus("")
		switch action {
		case actionHold:
			held = p.Status
		case actionResume:
			to = p.heldFrom
		}
		if _, err := tx.ExecContext(ctx, "UPDATE payments SET status = ?, held_from = ?, updated_at = ? WHERE id = ?",
			to, held, nanos(now), id); err != nil {
			return err
		}
		switch action {
		case actionApprove, actionFail:
			err = s.scheduleStep(ctx, tx, id, stepTransaction, reason, now)
		case actionHold:
			_, err = tx.ExecContext(ctx, "UPDATE steps SET due_at = NULL WHERE payment_id = ?", id)
		case actionResume:
			_, err = tx.ExecContext(ctx, "UPDATE steps SET due_at = ? WHERE payment_id = ? AND due_at IS NULL",
				nanos(now.Add(s.cfg.StepDelay)), id)
		}
		if err != nil {
			return err
		}
		if err := s.enqueueWebhook(ctx, tx, p.AccountSpaceID, banq.ResourcePayment, tr.webhook, id, now); err != nil {
			return err
		}
		p, err = getPayment(ctx, tx, id)
		out = p.Payment
		return err
	})
	if err != nil {
		return banq.Payment{}, err
	}
	s.log.Info("sandbox payment action", "payment", id, "action", action, "status", out.Status)
	notify(s.wakeSteps)
	s.wakeDispatcher()
	return out, nil
}

// Kinds of flow steps.
const (
	stepTransaction = "transaction" // make the transaction of an Accepted payment
	stepComplete    = "complete"    // complete an Accepted payment whose transaction was made
)

// scheduleStep plans a step StepDelay from now. reason is set when the transaction is to fail.
func (s *Sandbox) scheduleStep(ctx context.Context, tx *sql.Tx, paymentID, kind string, reason banq.FailReason, now time.Time) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO steps (payment_id, kind, fail_reason, due_at) VALUES (?, ?, ?, ?)",
		paymentID, kind, reason, nanos(now.Add(s.cfg.StepDelay)))
	return err
}

// runSteps carries out due flow steps until ctx is done. Steps live in the database, so a flow
// interrupted by a restart goes on.
func (s *Sandbox) runSteps(ctx context.Context) {
	for {
		next := s.runDueSteps(ctx)
		if !sleepUntil(ctx, s.wakeSteps, next, s.now()) {
			return
		}
	}
}

// runDueSteps runs every due step, each in its own transaction, and returns when the next is due
// (zero when none is scheduled).
func (s *Sandbox) runDueSteps(ctx context.Context) time.Time {
	for ctx.Err() == nil {
		var (
			ran  bool
			next time.Time
		)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			now := s.now()
			var (
				id                      int64
				paymentID, kind, reason string
			)
			err := tx.QueryRowContext(ctx, `SELECT id, payment_id, kind, fail_reason FROM steps
				WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT 1`, nanos(now)).
				Scan(&id, &paymentID, &kind, &reason)
			if errors.Is(err, sql.ErrNoRows) {
				var n sql.NullInt64
				if err := tx.QueryRowContext(ctx, "SELECT min(due_at) FROM steps").Scan(&n); err != nil {
					return err
				}
				if n.Valid {
					next = fromNanos(n.Int64)
				}
				return nil
			}
			if err != nil {
				return err
			}
			ran = true
			if _, err := tx.ExecContext(ctx, "DELETE FROM steps WHERE id = ?", id); err != nil {
				return err
			}
			return s.applyStep(ctx, tx, paymentID, kind, banq.FailReason(reason), now)
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("sandbox: run flow step", "err", err)
			}
			return time.Time{}
		}
		if !ran {
			return next
		}
		s.wakeDispatcher()
	}
	return time.Time{}
}

func (s *Sandbox) applyStep(ctx context.Context, tx *sql.Tx, paymentID, kind string, reason banq.FailReason, now time.Time) error {
	p, err := getPayment(ctx, tx, paymentID)
	if err != nil {
		return err
	}
	if p.Status != banq.PaymentAccepted {
		return nil // the flow was overtaken (it cannot be while steps pause on hold; kept for safety)
	}
	switch kind {
	case stepTransaction:
		status, action, failReason := banq.TransactionCompleted, banq.ActionCreated, banq.FailNone
		if reason != "" {
			status, action, failReason = banq.TransactionFailed, banq.ActionFailed, reason
		}
		txID := uuid.NewString()
		if _, err := tx.ExecContext(ctx, `INSERT INTO transactions (id, payment_id, status, fail_reason, funds,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			txID, paymentID, status, failReason, p.Funds, nanos(now), nanos(now)); err != nil {
			return err
		}
		if err := s.enqueueWebhook(ctx, tx, p.AccountSpaceID, banq.ResourceTransaction, action, txID, now); err != nil {
			return err
		}
		s.log.Info("sandbox transaction made", "payment", paymentID, "transaction", txID, "status", status)
		return s.scheduleStep(ctx, tx, paymentID, stepComplete, "", now)
	case stepComplete:
		if _, err := tx.ExecContext(ctx, "UPDATE payments SET status = ?, updated_at = ? WHERE id = ?",
			banq.PaymentCompleted, nanos(now), paymentID); err != nil {
			return err
		}
		s.log.Info("sandbox payment completed", "payment", paymentID)
		return s.enqueueWebhook(ctx, tx, p.AccountSpaceID, banq.ResourcePayment, banq.ActionCompleted, paymentID, now)
	default:
		return fmt.Errorf("unknown step kind %q", kind)
	}
}
