package checkout

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// WebhookHealth says whether Banq's webhooks seem to reach the checkout. They look broken when
// orders were sent to Banq a while ago and no webhook has arrived since (Banq announces every new
// payment at once), or when the reconciler keeps finding changes that no webhook announced.
type WebhookHealth struct {
	Broken        bool
	Reason        string    // why, in a sentence, when Broken
	LastWebhookAt time.Time // zero if none ever arrived
	SilentOrders  int       // open orders created after the last webhook arrived
	SilentSince   time.Time // when the oldest of them was created
	Unannounced   int       // changes the reconciler found within Config.MissWindow that no webhook announced
}

// webhookHealth is the service's in-memory part of WebhookHealth.
type webhookHealth struct {
	mu          sync.Mutex
	unannounced []time.Time // when the reconciler found a change no webhook announced, oldest first
	lastReject  time.Time
}

func (h *webhookHealth) note(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unannounced = append(h.unannounced, at)
	if len(h.unannounced) > 1000 {
		h.unannounced = h.unannounced[len(h.unannounced)-1000:]
	}
}

// count returns how many notes fall after since, dropping older ones.
func (h *webhookHealth) count(since time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := 0
	for i < len(h.unannounced) && !h.unannounced[i].After(since) {
		i++
	}
	h.unannounced = h.unannounced[i:]
	return len(h.unannounced)
}

// allowRejection lets one refused delivery in 100ms be recorded.
func (h *webhookHealth) allowRejection(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.lastReject) < 100*time.Millisecond && !now.Before(h.lastReject) {
		return false
	}
	h.lastReject = now
	return true
}

// noteUnannounced records that the reconciler found a change no webhook had announced.
func (s *Service) noteUnannounced() { s.health.note(s.now()) }

// changedState reports whether events hold a state change.
func changedState(events []Event) bool {
	for _, e := range events {
		if e.Kind == EventState {
			return true
		}
	}
	return false
}

// WebhookHealth reports whether webhooks look broken now (see the type). The merchant pages show
// its Reason as a banner and the metrics export Broken as a gauge.
func (s *Service) WebhookHealth(ctx context.Context) (WebhookHealth, error) {
	now := s.now()
	var h WebhookHealth
	var err error
	h.LastWebhookAt, h.SilentOrders, h.SilentSince, err = s.store.WebhookSilence(ctx)
	if err != nil {
		return h, err
	}
	h.Unannounced = s.health.count(now.Add(-s.cfg.MissWindow))
	switch {
	case h.SilentOrders > 0 && now.Sub(h.SilentSince) >= s.cfg.WebhookGap:
		h.Broken = true
		since := "No webhook from Banq has ever arrived"
		if !h.LastWebhookAt.IsZero() {
			since = fmt.Sprintf("No webhook from Banq has arrived for %s", roundMinutes(now.Sub(h.LastWebhookAt)))
		}
		h.Reason = fmt.Sprintf("%s, although %d %s sent to Banq since (the oldest %s ago).", since,
			h.SilentOrders, plural(h.SilentOrders, "order was", "orders were"), roundMinutes(now.Sub(h.SilentSince)))
	case h.Unannounced >= s.cfg.MissLimit:
		h.Broken = true
		h.Reason = fmt.Sprintf("In the last %s the reconciler found %d payment changes that no webhook announced.",
			roundMinutes(s.cfg.MissWindow), h.Unannounced)
	}
	return h, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// roundMinutes says a duration in whole minutes, or seconds below one.
func roundMinutes(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	}
	m := int(d.Minutes())
	return fmt.Sprintf("%d %s", m, plural(m, "minute", "minutes"))
}
