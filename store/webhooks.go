package store

import (
	"context"
	"database/sql"
	"slices"
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
// counts the duplicate, when a webhook with the same id was stored before. It returns once the
// webhook is committed.
//
// On SQLite, webhooks arriving together are committed together (group commit): the first caller
// commits every insert queued meanwhile in one transaction, and the next queued caller leads the
// next batch; no caller waits for more than one batch before its own. Writes queue for SQLite's
// one writer and a commit costs far more than an insert: with 16 callers on two cores an insert
// took 12µs instead of 64µs. On a single core callers rarely got to queue on their own (a cgo
// call keeps its P), and every batch held one insert; the leader now yields once before taking
// its batch, and the bench's batches hold about ten (cmd/bench, 16 deliveries in flight).
// PostgreSQL's writers do not queue on one connection: there each insert is its own transaction.
func (db *DB) InsertWebhook(ctx context.Context, w checkout.InboxWebhook) (bool, error) {
	if db.pg != nil {
		var inserted bool
		err := db.tx(ctx, func(tx *sql.Tx) error {
			var err error
			inserted, err = db.insertWebhook(ctx, tx, w)
			return err
		})
		return inserted, err
	}
	r := &inboxInsert{w: w}
	db.inbox.do(r, func(batch []*inboxInsert) { db.insertWebhooks(context.WithoutCancel(ctx), batch) })
	return r.inserted, r.err
}

// maxInboxBatch bounds one group commit.
const maxInboxBatch = 128

type inboxInsert struct {
	w        checkout.InboxWebhook
	inserted bool
	err      error
}

// insertWebhooks commits a batch in one transaction. If that fails, each insert is tried alone,
// so that one bad webhook cannot fail the others.
func (db *DB) insertWebhooks(ctx context.Context, batch []*inboxInsert) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			var err error
			if r.inserted, err = db.insertWebhook(ctx, tx, r.w); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].inserted, batch[0].err = false, err
		return
	}
	for _, r := range batch {
		r.err = db.tx(ctx, func(tx *sql.Tx) error {
			var err error
			r.inserted, err = db.insertWebhook(ctx, tx, r.w)
			return err
		})
		if r.err != nil {
			r.inserted = false
		}
	}
}

func (db *DB) insertWebhook(ctx context.Context, tx *sql.Tx, w checkout.InboxWebhook) (bool, error) {
	now := db.now()
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhooks(id, received_at, resource_type, action,
		resource_id, body, status, next_attempt_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO NOTHING`),
		w.ID, now, string(w.ResourceType), string(w.Action), w.ResourceID, w.Body, checkout.WebhookPending, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	_, err = tx.ExecContext(ctx, db.q(`UPDATE webhooks SET duplicates = duplicates + 1 WHERE id = ?`), w.ID)
	return false, err
}

// PendingWebhooks returns up to limit inbox webhooks due for processing at now, oldest first.
func (db *DB) PendingWebhooks(ctx context.Context, now time.Time, limit int) ([]checkout.InboxWebhook, error) {
	return queryRows(ctx, db, db.q(`SELECT `+webhookColumns+` FROM webhooks
		WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, received_at LIMIT ?`),
		[]any{formatTime(now), limit}, scanWebhook)
}

// ClaimWebhook hands out one pending inbox webhook due at now that no one else is processing,
// or nil when there is none. The claim ends with Finish or Release.
//
// On PostgreSQL the claim is a lease, committed before the caller asks Banq anything: the row
// gets a lease id and an expiry, and no transaction or row lock is held while the webhook is
// processed, so a duplicate delivery of it is answered at once. The lease is renewed every
// lease/3 until the claim ends; if this instance dies, renewal stops and another instance takes
// the webhook once lease has passed. The outcome is recorded only under the lease id, so a
// worker whose lease was taken over writes nothing. Instances' clocks are compared, so lease
// must outlast their skew.
//
// On SQLite (one process) the claim is an in-memory mark, and the pending webhooks are read a
// batch at a time (claimBatch): each read starts on a fresh snapshot of the read pool, cold
// after every write, and cost as much as the rest of the claim when it was made per webhook.
// A webhook read in a batch is pending until this process finishes it, since only this
// process's claims process webhooks, so the batch stays true while it is handed out; a
// merchant's reprocessing, which takes no claim, drops the webhook it finished from the batch
// (FinishWebhook).
func (db *DB) ClaimWebhook(ctx context.Context, now time.Time, lease time.Duration) (checkout.WebhookClaim, error) {
	if db.pg != nil {
		return db.claimPostgres(ctx, now, lease)
	}
	db.claimMu.Lock()
	defer db.claimMu.Unlock()
	if len(db.due) > 0 && db.due[0].NextAttemptAt.After(now) {
		db.due = nil // read for a later now than this one
	}
	if len(db.due) == 0 {
		pending, err := db.PendingWebhooks(ctx, now, len(db.claimed)+claimBatch)
		if err != nil {
			return nil, err
		}
		db.inboxReads.Add(1)
		db.due = pending[:0]
		for _, w := range pending {
			if !db.claimed[w.ID] {
				db.due = append(db.due, w)
			}
		}
	}
	if len(db.due) == 0 {
		db.due = nil
		return nil, nil
	}
	w := db.due[0]
	db.due = db.due[1:]
	db.claimed[w.ID] = true
	return &sqliteClaim{db: db, w: w}, nil
}

// claimBatch is how many pending webhooks a claim on SQLite reads at once.
const claimBatch = 32

type sqliteClaim struct {
	db *DB
	w  checkout.InboxWebhook
}

func (c *sqliteClaim) Webhook() checkout.InboxWebhook { return c.w }

func (c *sqliteClaim) Finish(ctx context.Context, w checkout.InboxWebhook) error {
	defer c.Release()
	return c.db.FinishWebhook(ctx, w)
}

func (c *sqliteClaim) Release() {
	c.db.claimMu.Lock()
	delete(c.db.claimed, c.w.ID)
	c.db.claimMu.Unlock()
}

// FinishWebhook records the outcome of processing a webhook: status applied, ignored or failed,
// or pending again with the time of the next attempt. When w.Lease is set, the outcome is
// recorded only if that claim still holds the webhook: ErrClaimLost otherwise.
func (db *DB) FinishWebhook(ctx context.Context, w checkout.InboxWebhook) error {
	err := db.tx(ctx, func(tx *sql.Tx) error { return db.finishWebhook(ctx, tx, w) })
	if err == nil && db.pg == nil {
		db.forgetDue(w.ID)
	}
	return err
}

// forgetDue drops a webhook from the batch read for claims (SQLite): one finished outside a
// claim, by a merchant's reprocessing, must not be processed again by the worker.
func (db *DB) forgetDue(id string) {
	db.claimMu.Lock()
	defer db.claimMu.Unlock()
	db.due = slices.DeleteFunc(db.due, func(w checkout.InboxWebhook) bool { return w.ID == id })
}

func (db *DB) finishWebhook(ctx context.Context, tx *sql.Tx, w checkout.InboxWebhook) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE webhooks SET status = ?, error = ?, attempts = ?,
		next_attempt_at = ?, processed_at = ?, order_id = NULLIF(?, 0), lease_id = '', lease_until = ''
		WHERE id = ? AND (? = '' OR lease_id = ?)`),
		w.Status, w.Error, w.Attempts, formatTime(w.NextAttemptAt), formatTime(w.ProcessedAt),
		w.OrderID, w.ID, w.Lease, w.Lease)
	if err != nil || w.Lease == "" {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = checkout.ErrClaimLost
	}
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

// WebhookCounts counts the inbox by status (pending, applied, ignored, failed). Only tests use
// it (storetest and the app's end-to-end tests, in other packages, so export_test.go cannot
// carry it); metrics and readiness need only WebhookStats' cheaper pending count.
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
