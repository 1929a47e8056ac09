package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
)

// webhookConfig is an account space's webhook configuration as stored.
type webhookConfig struct {
	banq.WebhookConfig
	updatedAt time.Time
}

func (c webhookConfig) wants(t banq.ResourceType) bool {
	for _, w := range c.WebHookTypes {
		if strings.EqualFold(string(w), string(t)) {
			return true
		}
	}
	return false
}

// getWebhookConfig returns sql.ErrNoRows when the account space has none.
func getWebhookConfig(ctx context.Context, q queryer, space int64) (webhookConfig, error) {
	var (
		c       webhookConfig
		types   string
		updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT url, enabled, retry_count, types, shared_secret, updated_at
		FROM webhook_configs WHERE account_space_id = ?`, space).
		Scan(&c.URL, &c.Enabled, &c.RetryCount, &types, &c.SharedSecret, &updated)
	if err != nil {
		return webhookConfig{}, err
	}
	c.WebHookTypes = []banq.ResourceType{}
	for _, t := range strings.Split(types, ",") {
		if t != "" {
			c.WebHookTypes = append(c.WebHookTypes, banq.ResourceType(t))
		}
	}
	c.updatedAt = fromNanos(updated)
	return c, nil
}

// enqueueWebhook adds a webhook about a change to the outbox, in the transaction of the change,
// when the account space's config is enabled and lists the resource type. The caller wakes the
// dispatcher after commit.
func (s *Sandbox) enqueueWebhook(ctx context.Context, tx *sql.Tx, space int64, rt banq.ResourceType,
	action banq.WebhookAction, resourceID string, at time.Time) error {
	cfg, err := getWebhookConfig(ctx, tx, space)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if !cfg.Enabled || !cfg.wants(rt) {
		return nil
	}
	w := banq.Webhook{
		AccountSpaceID: space,
		Action:         action,
		ID:             uuid.NewString(),
		ResourceID:     resourceID,
		ResourceType:   rt,
		CreatedAtUTC:   at.UTC(),
	}
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (webhook_id, resource_type, resource_id, action, body,
		url, secret, max_attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, rt, resourceID, action, body, cfg.URL, cfg.SharedSecret, cfg.RetryCount+1, nanos(at), nanos(at))
	if err == nil {
		s.outboxAdded.Store(true)
	}
	return err
}

// delivery is one claimed outbox row.
type delivery struct {
	id                              int64
	webhookID, resourceType, action string
	resourceID, url, secret         string
	body                            []byte
	attempts, maxAttempts           int
}

// runDispatcher claims due deliveries and hands them to the workers until ctx is done. Rows
// claimed when an earlier run stopped are pending again.
func (s *Sandbox) runDispatcher(ctx context.Context, jobs chan<- delivery) {
	if _, err := s.db.ExecContext(ctx, "UPDATE outbox SET state = 'pending' WHERE state = 'sending'"); err != nil {
		s.log.Error("sandbox: reset deliveries", "err", err)
	}
	for {
		claimed, next, err := s.claimDeliveries(ctx, deliveryWorkers)
		if err != nil && ctx.Err() == nil {
			s.log.Error("sandbox: claim deliveries", "err", err)
		}
		for i, d := range claimed {
			select {
			case jobs <- d:
			case <-ctx.Done():
				s.unclaim(claimed[i:])
				return
			}
		}
		if len(claimed) > 0 {
			continue
		}
		if !sleepUntil(ctx, s.wakeDelivery, next, s.now()) {
			return
		}
	}
}

// sleepUntil waits for a wake-up, for next (polling at least every second, so a changed clock or a
// row written by another process is seen), or for ctx. It reports false when ctx is done.
func sleepUntil(ctx context.Context, wake <-chan struct{}, next, now time.Time) bool {
	wait := time.Second
	if !next.IsZero() {
		wait = min(max(next.Sub(now), time.Millisecond), time.Second)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// claimDeliveries marks up to limit due rows as sending and returns them, applying the delivery
// faults once per row first: a dropped row is logged and never sent, a duplicated one gets a copy
// row with the same webhook id, a delayed one is put off. It also returns when the next row is due.
func (s *Sandbox) claimDeliveries(ctx context.Context, limit int) ([]delivery, time.Time, error) {
	var (
		claimed []delivery
		next    time.Time
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		claimed, next = nil, time.Time{}
		now := s.now()
		rows, err := tx.QueryContext(ctx, `SELECT id, webhook_id, resource_type, resource_id, action, body, url,
			secret, attempts, max_attempts, faulted, copy FROM outbox
			WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`, nanos(now), limit)
		if err != nil {
			return err
		}
		type row struct {
			delivery
			faulted, copy bool
		}
		var due []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.webhookID, &r.resourceType, &r.resourceID, &r.action, &r.body, &r.url,
				&r.secret, &r.attempts, &r.maxAttempts, &r.faulted, &r.copy); err != nil {
				rows.Close()
				return err
			}
			due = append(due, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range due {
			if !r.faulted {
				sent, err := s.applyDeliveryFaults(ctx, tx, r.delivery, r.copy, now)
				if err != nil {
					return err
				}
				if !sent {
					continue
				}
			}
			if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = 'sending' WHERE id = ?", r.id); err != nil {
				return err
			}
			claimed = append(claimed, r.delivery)
		}
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT min(next_at) FROM outbox WHERE state = 'pending'").Scan(&n); err != nil {
			return err
		}
		if n.Valid {
			next = fromNanos(n.Int64)
		}
		return nil
	})
	return claimed, next, err
}

// applyDeliveryFaults rolls the delivery faults for a row's first attempt and reports whether it
// is to be sent now.
func (s *Sandbox) applyDeliveryFaults(ctx context.Context, tx *sql.Tx, d delivery, isCopy bool, now time.Time) (bool, error) {
	if _, err := tx.ExecContext(ctx, "UPDATE outbox SET faulted = 1 WHERE id = ?", d.id); err != nil {
		return false, err
	}
	if !isCopy && s.roll(func(f Faults) float64 { return f.DropWebhooks }) {
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = 'dropped' WHERE id = ?", d.id); err != nil {
			return false, err
		}
		s.log.Info("sandbox webhook dropped by fault", "webhook", d.webhookID, "resource", d.resourceType, "action", d.action)
		return false, s.logAttempt(ctx, tx, d, 0, "dropped", 0, "dropped by the dropWebhooks fault", 0, now)
	}
	if !isCopy && s.roll(func(f Faults) float64 { return f.DuplicateWebhooks }) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (webhook_id, resource_type, resource_id, action, body,
			url, secret, max_attempts, next_at, created_at, copy)
			SELECT webhook_id, resource_type, resource_id, action, body, url, secret, max_attempts, ?, ?, 1
			FROM outbox WHERE id = ?`, nanos(now), nanos(now), d.id); err != nil {
			return false, err
		}
		if err := s.logAttempt(ctx, tx, d, 0, "duplicated", 0, "a second delivery was queued by the duplicateWebhooks fault", 0, now); err != nil {
			return false, err
		}
	}
	if delay := s.randDuration(func(f Faults) time.Duration { return f.DelayWebhooks }); delay > 0 {
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET next_at = ? WHERE id = ?", nanos(now.Add(delay)), d.id); err != nil {
			return false, err
		}
		return false, s.logAttempt(ctx, tx, d, 0, "delayed", 0, "held back "+delay.Round(time.Millisecond).String()+" by the delayWebhooks fault", 0, now)
	}
	return true, nil
}

// unclaim returns claimed rows that no worker took to pending.
func (s *Sandbox) unclaim(ds []delivery) {
	ctx := context.Background()
	for _, d := range ds {
		if _, err := s.db.ExecContext(ctx, "UPDATE outbox SET state = 'pending' WHERE id = ? AND state = 'sending'", d.id); err != nil {
			s.log.Error("sandbox: unclaim delivery", "err", err)
		}
	}
}

func (s *Sandbox) runDeliveryWorker(ctx context.Context, jobs <-chan delivery) {
	for d := range jobs {
		if ctx.Err() != nil {
			s.unclaim([]delivery{d})
			continue
		}
		s.deliver(ctx, d)
	}
}

// deliver makes one attempt and records it: delivered on a 2xx, else retried with backoff until
// the config's retryCount extra attempts are spent.
func (s *Sandbox) deliver(ctx context.Context, d delivery) {
	attempt := d.attempts + 1
	start := time.Now()
	code, sendErr := s.send(ctx, d)
	took := time.Since(start)
	if ctx.Err() != nil {
		// Stopping: this attempt does not count; the next run sends it again.
		s.unclaim([]delivery{d})
		return
	}
	now := s.now()
	outcome, state, next := "delivered", "delivered", now
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error()
	} else if code < 200 || code > 299 {
		errText = fmt.Sprintf("receiver answered %d", code)
	}
	if errText != "" {
		if attempt < d.maxAttempts {
			outcome, state = "retry", "pending"
			next = now.Add(s.backoff(attempt))
		} else {
			outcome, state = "failed", "failed"
		}
	}
	s.log.Info("sandbox webhook attempt", "webhook", d.webhookID, "resource", d.resourceType, "resourceId", d.resourceID,
		"action", d.action, "attempt", attempt, "status", code, "err", errText, "took", took, "outcome", outcome)
	// The attempt was made: record it even if the sandbox is stopping meanwhile.
	dbctx := context.WithoutCancel(ctx)
	err := s.inTx(dbctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(dbctx, "UPDATE outbox SET state = ?, attempts = ?, next_at = ? WHERE id = ?",
			state, attempt, nanos(next), d.id); err != nil {
			return err
		}
		return s.logAttempt(dbctx, tx, d, attempt, outcome, code, errText, took, now)
	})
	if err != nil {
		s.log.Error("sandbox: record delivery", "err", err)
	}
	if state == "pending" {
		notify(s.wakeDelivery)
	}
}

// backoff is the wait after the given failed attempt: DeliveryBackoff doubling, capped at 30s.
func (s *Sandbox) backoff(attempt int) time.Duration {
	d := s.cfg.DeliveryBackoff
	for i := 1; i < attempt && d < maxDeliveryBackoff; i++ {
		d *= 2
	}
	return min(d, maxDeliveryBackoff)
}

// send POSTs the webhook, signed, and returns the receiver's status code.
func (s *Sandbox) send(ctx context.Context, d delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "banq-sandbox-webhooks/1")
	req.Header.Set(banq.HeaderWebhookHMAC, banq.Sign(d.body, d.secret))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, nil
}

func (s *Sandbox) logAttempt(ctx context.Context, tx *sql.Tx, d delivery, attempt int, outcome string,
	code int, errText string, took time.Duration, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO delivery_log (outbox_id, webhook_id,
		resource_type, resource_id, action, url, attempt, outcome, status_code, error, duration_ns, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.id, d.webhookID, d.resourceType, d.resourceID, d.action, d.url, attempt, outcome, code, errText,
		int64(took), nanos(at))
	return err
}

// Delivery is one entry of the webhook delivery log: an attempt, or a fault applied to a delivery.
type Delivery struct {
	WebhookID    string             `json:"webhookId"`
	ResourceType banq.ResourceType  `json:"resourceType"`
	ResourceID   string             `json:"resourceId"`
	Action       banq.WebhookAction `json:"action"`
	URL          string             `json:"url"`
	Attempt      int                `json:"attempt"` // 1 for the first send; 0 for a fault applied before sending
	// Outcome is delivered, retry (failed, will be retried), failed (no retries left),
	// dropped, duplicated or delayed (the faults).
	Outcome    string        `json:"outcome"`
	StatusCode int           `json:"statusCode,omitempty"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"durationNs"`
	At         time.Time     `json:"at"`
}

// Deliveries returns the latest entries of the delivery log, newest first; limit ≤ 0 means 200.
func (s *Sandbox) Deliveries(ctx context.Context, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.db.QueryContext(ctx, `SELECT webhook_id, resource_type, resource_id, action, url, attempt,
		outcome, status_code, error, duration_ns, at FROM delivery_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var (
			d      Delivery
			ns, at int64
		)
		if err := rows.Scan(&d.WebhookID, &d.ResourceType, &d.ResourceID, &d.Action, &d.URL, &d.Attempt,
			&d.Outcome, &d.StatusCode, &d.Error, &ns, &at); err != nil {
			return nil, err
		}
		d.Duration, d.At = time.Duration(ns), fromNanos(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Prune deletes delivery log entries and finished deliveries older than Config.KeepDeliveries,
// so that a sandbox left running does not grow without bound. It returns how many log entries
// went.
func (s *Sandbox) Prune(ctx context.Context) (int64, error) {
	cutoff := nanos(s.now().Add(-s.cfg.KeepDeliveries))
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM delivery_log WHERE at < ?", cutoff)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE state IN ('delivered', 'failed', 'dropped')
			AND created_at < ?`, cutoff)
		return err
	})
	return n, err
}

// runPruner prunes at start and then every pruneInterval until ctx is done.
func (s *Sandbox) runPruner(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sandbox: prune the delivery log", "err", err)
		} else if n > 0 {
			s.log.Info("sandbox: pruned the delivery log", "entries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
