package checkout

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/ingest"
)

// Receive stores a verified, parsed webhook in the inbox and wakes the worker. It reports false
// when the webhook id was seen before (a duplicate, which changes nothing).
func (s *Service) Receive(ctx context.Context, w banq.Webhook, body []byte) (bool, error) {
	inserted, err := s.store.InsertWebhook(ctx, InboxWebhook{
		ID: w.ID, ResourceType: w.ResourceType, Action: w.Action, ResourceID: w.ResourceID, Body: body,
	})
	if err != nil {
		return false, err
	}
	if inserted {
		s.Wake()
	}
	return inserted, nil
}

// Wake tells the worker that the inbox has news.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Process applies one inbox webhook through the apply path and returns its outcome for the
// inbox: applied, ignored (not about an order of ours), pending again with a later attempt, or
// failed after the last retry. It leaves w untouched when ctx ends mid-way, so the webhook stays
// pending and is processed after a restart.
//
// An applied outcome is recorded with the apply, in its transaction (see Cause.Claimed); the
// caller records the others. It returns ErrClaimLost, leaving w untouched, when w's claim was
// taken over meanwhile.
func (s *Service) Process(ctx context.Context, w InboxWebhook) (InboxWebhook, error) {
	cause := Cause{Kind: EventWebhook, WebhookID: w.ID, Resource: w.ResourceType, Action: w.Action, Claimed: &w}
	up, err := s.syncWebhook(ctx, w, cause)
	if ctx.Err() != nil {
		return w, ctx.Err()
	}
	if errors.Is(err, ErrClaimLost) {
		return w, err
	}
	now := s.now()
	if err == nil {
		return applied(w, up.Order.ID, now), nil
	}
	w.Attempts++
	switch {
	case errors.Is(err, errUnknownResource):
		w.Status, w.Error, w.ProcessedAt = WebhookIgnored, err.Error(), now
		s.log.Info("webhook ignored: unknown resource type", "webhook_id", w.ID,
			"resource_type", w.ResourceType, "action", w.Action)
		return w, nil
	case notOurs(err) && w.Attempts >= 3:
		// Banq may answer a webhook's resource a moment late; after a few tries it is not ours.
		w.Status, w.Error, w.ProcessedAt = WebhookIgnored, err.Error(), now
	case w.Attempts >= s.cfg.WebhookRetries:
		w.Status, w.Error, w.ProcessedAt = WebhookFailed, err.Error(), now
	default:
		w.Error = err.Error()
		w.NextAttemptAt = now.Add(backoff(time.Second, 5*time.Minute, w.Attempts-1))
	}
	s.log.Warn("webhook not applied", "webhook_id", w.ID, "resource_id", w.ResourceID,
		"attempt", w.Attempts, "status", w.Status, "err", err)
	return w, nil
}

// applied is w's outcome once applied to order orderID at now.
func applied(w InboxWebhook, orderID int64, now time.Time) InboxWebhook {
	w.Attempts++
	w.Status, w.Error, w.OrderID, w.ProcessedAt = WebhookApplied, "", orderID, now
	return w
}

// WebhookClaim is one inbox webhook that this worker, and no other, is processing. The store
// makes that hold across instances (see store.DB.ClaimWebhook) with a lease that is committed
// before any Banq call and renewed while the claim lasts: no transaction or row lock is held
// while Banq is asked, and a claim whose instance dies expires, so another instance finishes
// the webhook.
type WebhookClaim interface {
	// Webhook is the claimed webhook, its Lease set.
	Webhook() InboxWebhook
	// Finish records the outcome of processing and ends the claim; ErrClaimLost if the claim
	// was taken over meanwhile.
	Finish(ctx context.Context, w InboxWebhook) error
	// Release ends the claim without recording anything: unless its outcome was recorded with
	// its apply, the webhook is pending again, for any worker at once.
	Release()
}

// RunWorker drains the webhook inbox until ctx ends, processing up to Config.Workers webhooks at
// once. An item being processed when ctx ends is finished or left pending, never half-applied.
func (s *Service) RunWorker(ctx context.Context) error {
	return s.RunWorkerUntil(ctx, context.WithoutCancel(ctx))
}

// RunWorkerUntil is RunWorker with a bound on the drain at shutdown: when ctx ends it takes no
// new item and returns once the items in flight are finished; those still running when abort
// ends are cut short and stay pending, to be processed again after a restart.
func (s *Service) RunWorkerUntil(ctx, abort context.Context) error {
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	// claim starts one webhook if a worker slot is free and one is due.
	claim := func() bool {
		select {
		case sem <- struct{}{}:
		default:
			return false
		}
		s.cfg.Ingest.WaitIdle(ctx, ingest.MaxDefer)
		c, err := s.store.ClaimWebhook(ctx, s.now(), s.cfg.WebhookLease)
		if err != nil || c == nil {
			<-sem
			if err != nil && ctx.Err() == nil {
				s.log.Error("claim a webhook from the inbox", "err", err)
			}
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem; s.Wake() }()
			// A webhook being applied is finished even if shutdown begins meanwhile, unless
			// the drain runs out of time (abort).
			w, start := c.Webhook(), time.Now()
			// The webhook's id stands for a request id, so that its Banq calls and their log
			// lines can be told apart and traced at Banq.
			done, err := s.Process(banq.WithRequestID(abort, "webhook:"+w.ID), w)
			switch {
			case errors.Is(err, ErrClaimLost):
				s.log.Warn("webhook left to the worker that took its claim over", "webhook_id", w.ID)
				c.Release()
				return
			case err != nil:
				s.log.Warn("webhook left pending at shutdown", "webhook_id", w.ID, "err", err)
				c.Release()
				return
			case done.Status == WebhookApplied:
				c.Release() // recorded with the apply
			default:
				if err := c.Finish(context.WithoutCancel(abort), done); err != nil {
					s.log.Error("record webhook outcome", "webhook_id", done.ID, "err", err)
					return
				}
			}
			if done.Status == WebhookApplied {
				s.log.Info("webhook applied", "webhook_id", w.ID, "order_id", done.OrderID,
					"resource_type", w.ResourceType, "action", w.Action, "attempt", done.Attempts)
			}
			if s.cfg.ObserveWebhook != nil {
				s.cfg.ObserveWebhook(done, time.Since(start))
			}
		}()
		return true
	}
	for {
		for ctx.Err() == nil && claim() {
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		case <-time.After(time.Second):
		}
	}
}

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
