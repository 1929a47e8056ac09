package checkout

import (
	"context"
	"errors"
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
	return s.attempt(ctx, w, Cause{Kind: EventWebhook, WebhookID: w.ID, Resource: w.ResourceType, Action: w.Action, Claimed: &w})
}

// attempt is one attempt at an inbox webhook, the worker's (Process) or a merchant's
// (Reprocess, cause.Kind EventReprocessed): it syncs the webhook's resource and returns w with
// the attempt's outcome. A webhook about something not ours is ignored, at once when a merchant
// asked, after a few tries otherwise (Banq may answer about a resource a moment late). Banq
// being unable to answer leaves the worker's webhook pending with a later attempt (failed after
// the last retry); a merchant's is left as it was, and the error returned.
func (s *Service) attempt(ctx context.Context, w InboxWebhook, cause Cause) (InboxWebhook, error) {
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
	byMerchant := cause.Kind == EventReprocessed
	v := classify(err)
	switch {
	case v == unknownKind:
		w.Attempts++
		w.Status, w.Error, w.ProcessedAt = WebhookIgnored, err.Error(), now
		s.log.Info("webhook ignored: unknown resource type", "webhook_id", w.ID,
			"resource_type", w.ResourceType, "action", w.Action)
		return w, nil
	case byMerchant && v != notOurs:
		s.log.Warn("reprocess webhook", "webhook_id", w.ID, "err", err)
		return w, err
	}
	w.Attempts++
	switch {
	case v == notOurs && (byMerchant || w.Attempts >= 3):
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

// RunWorkerUntil drains the webhook inbox until ctx ends, processing up to Config.Workers
// webhooks at once. An item being processed is finished or left pending, never half-applied:
// when ctx ends it takes no new item and returns once the items in flight are finished; those
// still running when abort ends are cut short and stay pending, to be processed again after a
// restart.
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
