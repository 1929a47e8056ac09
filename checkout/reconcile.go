package checkout

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// Reconcile asks Banq about every order whose check is due: it resends orders whose create was
// never confirmed (with their original key) and syncs the others. It returns how many it looked at.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	due, err := s.store.DueOrders(ctx, s.now(), 100)
	if err != nil {
		return 0, err
	}
	for _, o := range due {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		ctx := banq.WithRequestID(ctx, "reconcile:order-"+strconv.FormatInt(o.ID, 10))
		expiring := o.CanExpire() && !s.now().Before(o.ExpiresAt)
		switch {
		case o.State == StateCreating && expiring:
			err = s.expire(ctx, o.ID)
		case o.State == StateCreating:
			_, err = s.send(ctx, o)
		case o.PaymentID != "":
			// At expiry too, Banq is asked first: a payment approved a moment ago wins.
			_, err = s.SyncPayment(ctx, o.PaymentID, Cause{Kind: EventReconciled})
			if expiring {
				err = errors.Join(err, s.expire(ctx, o.ID))
			}
		default:
			err = s.unschedule(ctx, o.ID) // ended here before Banq named a payment: nothing to ask
		}
		if err != nil && ErrorCode(err) != EInvalid {
			s.log.Warn("reconcile order", "order_id", o.ID, "err", err)
			s.postpone(ctx, o.ID)
		}
	}
	return len(due), nil
}

// postpone pushes an order's next check back after a failed one, so a Banq outage is not
// hammered.
func (s *Service) postpone(ctx context.Context, id int64) {
	up, err := s.store.UpdateOrder(context.WithoutCancel(ctx), id, func(o *Order) (Change, error) {
		if o.NextCheckAt.IsZero() {
			return Change{}, ErrNoChange // done with, or checked meanwhile
		}
		o.CheckAttempts++
		o.NextCheckAt = s.watchUntil(o, nextCheck(o, s.now().Add(backoff(s.cfg.RecoverAfter, s.cfg.ReconcileMax, o.CheckAttempts))))
		return Change{}, nil
	})
	if err != nil && !errors.Is(err, ErrNoChange) {
		s.log.Error("postpone order check", "order_id", id, "err", err)
	}
	s.publish(up)
}

// Recover sends again, with their original keys, the orders whose create was never confirmed:
// after a crash nothing is in flight, so none of them needs to wait for its next check.
func (s *Service) Recover(ctx context.Context) (int, error) {
	n := 0
	var before int64
	for {
		orders, more, err := s.store.ListOrders(ctx, OrderFilter{State: StateCreating, Before: before, Limit: 100})
		if err != nil {
			return n, err
		}
		for _, o := range orders {
			var err error
			if o.CanExpire() && !s.now().Before(o.ExpiresAt) {
				err = s.expire(ctx, o.ID) // too late to ask the customer now
			} else {
				_, err = s.send(ctx, o)
			}
			if err != nil && ErrorCode(err) != EInvalid {
				s.log.Warn("recover order", "order_id", o.ID, "err", err)
			}
			n++
			before = o.ID
		}
		if !more || ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}

// RunReconciler recovers interrupted creates, then calls Reconcile every interval until ctx
// ends.
func (s *Service) RunReconciler(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	if n, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("recover interrupted orders", "err", err)
	} else if n > 0 {
		s.log.Info("recovered interrupted orders", "count", n)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
