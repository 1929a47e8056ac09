package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// ListWebhooks returns inbox webhooks newest first, matching f, at most f.Limit (default 50),
// and whether there are more after them.
func (db *DB) ListWebhooks(ctx context.Context, f checkout.WebhookFilter) ([]checkout.InboxWebhook, bool, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var where []string
	var args []any
	if f.OrderID > 0 {
		where = append(where, "order_id = ?")
		args = append(args, f.OrderID)
	}
	if f.Before > 0 {
		where = append(where, "rowid < ?")
		args = append(args, f.Before)
	}
	q := `SELECT ` + webhookColumns + ` FROM webhooks`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	out, err := queryRows(ctx, db, db.q(q+` ORDER BY rowid DESC LIMIT ?`), append(args, f.Limit+1), scanWebhook)
	if err != nil {
		return nil, false, err
	}
	out, more := cut(out, f.Limit)
	return out, more, nil
}

// InsertRejectedWebhook records a refused delivery and drops all but the newest keep of them, so
// the table stays small however many bad requests arrive.
func (db *DB) InsertRejectedWebhook(ctx context.Context, r checkout.RejectedWebhook, keep int) error {
	if len(r.Body) > checkout.MaxRejectedBody {
		r.Body = r.Body[:checkout.MaxRejectedBody]
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_rejections(received_at, remote, reason, body)
			VALUES(?, ?, ?, ?)`), db.now(), r.Remote, r.Reason, r.Body); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM webhook_rejections WHERE id <=
			(SELECT id FROM webhook_rejections ORDER BY id DESC LIMIT 1 OFFSET ?)`), keep)
		return err
	})
}

// RejectedWebhooks returns up to limit refused deliveries, newest first.
func (db *DB) RejectedWebhooks(ctx context.Context, limit int) ([]checkout.RejectedWebhook, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, received_at, remote, reason, body
		FROM webhook_rejections ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []checkout.RejectedWebhook
	for rows.Next() {
		var r checkout.RejectedWebhook
		var at string
		if err := rows.Scan(&r.ID, &at, &r.Remote, &r.Reason, &r.Body); err != nil {
			return nil, wrap(err)
		}
		r.ReceivedAt = parseTime(at)
		out = append(out, r)
	}
	return out, wrap(rows.Err())
}

// WebhookSilence says how many orders are open at Banq (waiting, on hold or accepted) although
// they were created after the last webhook arrived, and when the oldest of them was created.
// After a create, Banq announces the payment with a webhook at once; orders piling up without
// one mean webhooks do not reach us.
func (db *DB) WebhookSilence(ctx context.Context) (last time.Time, open int, oldest time.Time, err error) {
	var lastS, oldestS sql.NullString
	const lastWebhook = `(SELECT COALESCE(MAX(received_at), '') FROM webhooks)`
	err = db.read.QueryRowContext(ctx, `SELECT `+lastWebhook+`, COUNT(*), MIN(created_at) FROM orders
		WHERE state IN ('waiting', 'on_hold', 'accepted') AND created_at > `+lastWebhook).
		Scan(&lastS, &open, &oldestS)
	return parseTime(lastS.String), open, parseTime(oldestS.String), wrap(err)
}
