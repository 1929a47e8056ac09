package checkout

import (
	"context"
	"time"
)

// keepRejected is how many refused deliveries the webhook log keeps.
const keepRejected = 100

// Reprocess fetches the resource of an inbox webhook from Banq again and applies it through the
// one apply path (SyncPayment), then records the outcome in the inbox. Applying the same Banq
// state twice changes nothing, so reprocessing is safe to repeat. It returns ENotFound for an
// unknown webhook and EUnavailable when Banq cannot be asked now (the inbox is left as it was).
func (s *Service) Reprocess(ctx context.Context, id string) (InboxWebhook, error) {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return InboxWebhook{}, err
	}
	w, err = s.attempt(ctx, w, Cause{Kind: EventReprocessed, WebhookID: w.ID, Resource: w.ResourceType, Action: w.Action})
	if err != nil {
		return w, &Error{Code: EUnavailable, Err: err,
			Message: "Banq did not answer about this webhook's " + string(w.ResourceType) + "; nothing changed. Try again in a moment."}
	}
	w.NextAttemptAt = time.Time{}
	if err := s.store.FinishWebhook(context.WithoutCancel(ctx), w); err != nil {
		return w, err
	}
	return w, nil
}

// RejectWebhook keeps a refused delivery for the webhook log's signature verdicts. Only the
// newest few are kept, and at most ten a second are written, so a flood of bad requests costs
// little; those beyond are only counted in the logs by the caller.
func (s *Service) RejectWebhook(ctx context.Context, r RejectedWebhook) error {
	if !s.health.allowRejection(s.now()) {
		return nil
	}
	return s.store.InsertRejectedWebhook(context.WithoutCancel(ctx), r, keepRejected)
}
