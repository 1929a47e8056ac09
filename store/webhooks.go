package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

const webhookColumns = `id, received_at, resource_type, action, resource_id, body, status, error,
	attempts, next_attempt_at, processed_at, COALESCE(order_id, 0), duplicates, rowid`

func scanWebhook(s scanner) (checkout.InboxWebhook, error) {
	var w checkout.InboxWebhook
	var received, next, processed string
	err := s.Scan(&w.ID, &received, &w.ResourceType, &w.Action, &w.ResourceID, &w.Body, &w.Status,
		&w.Error, &w.Attempts, &next, &processed, &w.OrderID, &w.Duplicates, &w.Seq)
	w.ReceivedAt, w.NextAttemptAt, w.ProcessedAt = parseTime(received), parseTime(next), parseTime(processed)
	return w, err
}

// InsertWebhook stores a verified webhook in the inbox as pending. It reports false, and only
// counts the duplicate, when a webhook with the same id was stored before.
func (db *DB) InsertWebhook(ctx context.Context, w checkout.InboxWebhook) (bool, error) {
	var inserted bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhooks(id, received_at, resource_type, action,
			resource_id, body, status, next_attempt_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(id) DO NOTHING`),
			w.ID, now, string(w.ResourceType), string(w.Action), w.ResourceID, w.Body, checkout.WebhookPending, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if inserted = n == 1; !inserted {
			_, err = tx.ExecContext(ctx, db.q(`UPDATE webhooks SET duplicates = duplicates + 1 WHERE id = ?`), w.ID)
		}
		return err
	})
	return inserted, err
}

// PendingWebhooks returns up to limit inbox webhooks due for processing at now, oldest first.
func (db *DB) PendingWebhooks(ctx context.Context, now time.Time, limit int) ([]checkout.InboxWebhook, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+webhookColumns+` FROM webhooks
		WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, received_at LIMIT ?`),
		formatTime(now), limit)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []checkout.InboxWebhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, w)
	}
	return out, wrap(rows.Err())
}

// NextWebhookDue returns when the earliest pending webhook is due, or the zero time if none is.
func (db *DB) NextWebhookDue(ctx context.Context) (time.Time, error) {
	var s sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM webhooks WHERE status = 'pending'`).Scan(&s)
	return parseTime(s.String), wrap(err)
}

// FinishWebhook records the outcome of processing a webhook: status applied, ignored or failed,
// or pending again with the time of the next attempt.
func (db *DB) FinishWebhook(ctx context.Context, w checkout.InboxWebhook) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return db.finishWebhook(ctx, tx, w) })
}

func (db *DB) finishWebhook(ctx context.Context, tx *sql.Tx, w checkout.InboxWebhook) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE webhooks SET status = ?, error = ?, attempts = ?,
		next_attempt_at = ?, processed_at = ?, order_id = NULLIF(?, 0) WHERE id = ?`),
		w.Status, w.Error, w.Attempts, formatTime(w.NextAttemptAt), formatTime(w.ProcessedAt),
		w.OrderID, w.ID)
	return err
}

// Webhook returns the inbox webhook with id, or ENotFound.
func (db *DB) Webhook(ctx context.Context, id string) (checkout.InboxWebhook, error) {
	w, err := scanWebhook(db.read.QueryRowContext(ctx, db.q(`SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`), id))
	return w, wrap(err)
}

// WebhookStats is the inbox at a glance, for metrics and readiness.
type WebhookStats struct {
	Pending        int
	OldestPending  time.Time
	LastReceivedAt time.Time
}

// WebhookStats counts the inbox.
func (db *DB) WebhookStats(ctx context.Context) (WebhookStats, error) {
	var st WebhookStats
	var oldest, last sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM webhooks WHERE status = 'pending'),
		(SELECT MIN(received_at) FROM webhooks WHERE status = 'pending'),
		(SELECT MAX(received_at) FROM webhooks)`).Scan(&st.Pending, &oldest, &last)
	st.OldestPending, st.LastReceivedAt = parseTime(oldest.String), parseTime(last.String)
	return st, wrap(err)
}

// WebhookCounts counts the inbox by status (pending, applied, ignored, failed).
func (db *DB) WebhookCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT status, COUNT(*) FROM webhooks GROUP BY status`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, wrap(err)
		}
		out[status] = n
	}
	return out, wrap(rows.Err())
}
