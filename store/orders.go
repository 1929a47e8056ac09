package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

const orderColumns = `id, pay_token, idempotency_key, amount_cents, description, customer_banq,
	customer_name, state, fail_reason, COALESCE(payment_id, ''), transaction_id, create_error,
	create_attempts, COALESCE(created_by, 0), created_at, updated_at, paid_at, expires_at, late,
	next_check_at, check_attempts, last_seq, COALESCE(reference, ''), request_hash, metadata, return_url,
	cancel_url, payment_link`

type scanner interface{ Scan(...any) error }

func scanOrder(s scanner) (checkout.Order, error) {
	var o checkout.Order
	var created, updated, paid, expires, next, metadata string
	err := s.Scan(&o.ID, &o.Token, &o.IdempotencyKey, &o.Amount, &o.Description, &o.CustomerBanq,
		&o.CustomerName, &o.State, &o.FailReason, &o.PaymentID, &o.TransactionID, &o.CreateError,
		&o.CreateAttempts, &o.CreatedBy, &created, &updated, &paid, &expires, &o.Late,
		&next, &o.CheckAttempts, &o.LastSeq, &o.Reference, &o.RequestHash, &metadata, &o.ReturnURL,
		&o.CancelURL, &o.PaymentLink)
	o.CreatedAt, o.UpdatedAt, o.PaidAt = parseTime(created), parseTime(updated), parseTime(paid)
	o.ExpiresAt, o.NextCheckAt = parseTime(expires), parseTime(next)
	if err == nil && metadata != "" {
		err = json.Unmarshal([]byte(metadata), &o.Metadata)
	}
	return o, err
}

func marshalMetadata(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateOrder stores a new order with its first timeline event and returns it with its id.
// The idempotency key, token and reference must be unique (EConflict otherwise).
func (db *DB) CreateOrder(ctx context.Context, o checkout.Order, first checkout.Event) (checkout.Order, error) {
	now := db.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	err := db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO orders(pay_token, idempotency_key, amount_cents,
			description, customer_banq, customer_name, state, created_by, created_at, updated_at,
			expires_at, next_check_at, reference, request_hash, metadata, return_url, cancel_url)
			VALUES(?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			o.Token, o.IdempotencyKey, int64(o.Amount), o.Description, o.CustomerBanq, o.CustomerName,
			string(o.State), o.CreatedBy, formatTime(now), formatTime(now), formatTime(o.ExpiresAt),
			formatTime(o.NextCheckAt), nullable(o.Reference), o.RequestHash, marshalMetadata(o.Metadata),
			o.ReturnURL, o.CancelURL).Scan(&o.ID)
		if err != nil {
			return err
		}
		first.OrderID = o.ID
		if first.At.IsZero() {
			first.At = now
		}
		seq, err := db.insertEvent(ctx, tx, first)
		if err != nil {
			return err
		}
		o.LastSeq = seq
		if _, err = tx.ExecContext(ctx, db.q(`UPDATE orders SET last_seq = ? WHERE id = ?`), seq, o.ID); err != nil {
			return err
		}
		if err := db.queueNotification(ctx, tx, "", o); err != nil {
			return err
		}
		return db.notify(ctx, tx, o.ID, seq)
	})
	return o, err
}

func (db *DB) insertEvent(ctx context.Context, tx *sql.Tx, e checkout.Event) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, db.q(`INSERT INTO order_events(order_id, at, kind, state, message, webhook_id)
		VALUES(?, ?, ?, ?, ?, ?) RETURNING seq`), e.OrderID, formatTime(e.At), e.Kind, string(e.State), e.Message,
		e.WebhookID).Scan(&seq)
	return seq, err
}

// Order returns the order with id, or ENotFound.
func (db *DB) Order(ctx context.Context, id int64) (checkout.Order, error) {
	o, err := scanOrder(db.read.QueryRowContext(ctx, db.q(`SELECT `+orderColumns+` FROM orders WHERE id = ?`), id))
	return o, wrap(err)
}

// OrderByToken returns the order whose payment link token is token, or ENotFound.
func (db *DB) OrderByToken(ctx context.Context, token string) (checkout.Order, error) {
	o, err := scanOrder(db.read.QueryRowContext(ctx, db.q(`SELECT `+orderColumns+` FROM orders WHERE pay_token = ?`), token))
	return o, wrap(err)
}

// OrderByReference returns the order the shop created with reference, or ENotFound.
func (db *DB) OrderByReference(ctx context.Context, reference string) (checkout.Order, error) {
	o, err := scanOrder(db.read.QueryRowContext(ctx, db.q(`SELECT `+orderColumns+` FROM orders WHERE reference = ?`), reference))
	return o, wrap(err)
}

// orderIDForPayment returns the id of the order that owns a Banq payment: by payment id, or else
// by the order code the payment carries as externalOrderCode (a webhook can arrive before the
// create call's answer was stored). ENotFound when neither matches.
//
// The payment id is looked up alone first: it is how every webhook after the first finds its
// order, and one query ORing it with the order code scanned every order without a payment id.
func (db *DB) orderIDForPayment(ctx context.Context, tx *sql.Tx, paymentID, externalOrderCode string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM orders WHERE payment_id = ?`), paymentID).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	// The order code is the order's number; orders sent before that used their idempotency key.
	// A number matches only an order whose payment Banq has not yet told us: the payment's id is
	// ours to match from then on.
	number, perr := strconv.ParseInt(externalOrderCode, 10, 64)
	if perr != nil || strconv.FormatInt(number, 10) != externalOrderCode {
		number = 0 // no order has id 0
	}
	err = tx.QueryRowContext(ctx, db.q(`SELECT id FROM orders
		WHERE idempotency_key = ? OR (payment_id IS NULL AND id = ?)
		ORDER BY payment_id IS NULL LIMIT 1`), externalOrderCode, number).Scan(&id)
	return id, err
}

// ListOrders returns orders newest first, matching f, at most f.Limit (default 50), and
// whether there are more after them.
func (db *DB) ListOrders(ctx context.Context, f checkout.OrderFilter) ([]checkout.Order, bool, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	ids, args := db.orderIDs(f)
	q := `SELECT ` + orderColumns + ` FROM orders WHERE id IN (` + ids + ` ORDER BY id DESC LIMIT ?) ORDER BY id DESC`
	if db.pg != nil {
		// PostgreSQL plans the whole query with its statistics.
		where, wargs := db.orderWhere(f)
		q, args = `SELECT `+orderColumns+` FROM orders`+where+` ORDER BY id DESC LIMIT ?`, wargs
	}
	out, err := queryRows(ctx, db, db.q(q), append(args, f.Limit+1), scanOrder)
	if err != nil {
		return nil, false, err
	}
	out, more := cut(out, f.Limit)
	return out, more, nil
}

// orderIDs is a SQLite query selecting the ids of the orders that match f, and its arguments,
// to be followed by ORDER BY id DESC and a LIMIT. The page's ids are found first, from indexes
// alone where they suffice (a date range, a state), and only they are read in full: sorting
// whole rows of a month's orders to keep fifty took most of a second. A search of three
// characters or more walks the search index newest first and stops at the page's end.
func (db *DB) orderIDs(f checkout.OrderFilter) (string, []any) {
	s := strings.TrimPrefix(strings.TrimSpace(f.Search), "#")
	if utf8.RuneCountInString(s) < 3 {
		where, args := db.orderWhere(f)
		return `SELECT id FROM orders` + where, args
	}
	rest := f
	rest.Search = ""
	where, args := db.orderWhere(rest)
	and := strings.Replace(where, " WHERE ", " AND ", 1)
	q := `SELECT orders_search.rowid AS id FROM orders_search JOIN orders ON orders.id = orders_search.rowid
		WHERE orders_search MATCH ?` + and
	all := append([]any{ftsPhrase(s)}, args...)
	q += ` UNION SELECT id FROM orders WHERE reference = ?` + and
	all = append(append(all, s), args...)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		q += ` UNION SELECT id FROM orders WHERE id = ?` + and
		all = append(append(all, id), args...)
	}
	return q, all
}

// ftsPhrase quotes s as one FTS5 phrase: its trigrams in a row, that is the substring itself,
// with none of the query syntax (OR, NEAR, *, -) interpreted.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// orderWhere is the WHERE clause (with its leading space, or "") and arguments selecting the
// orders that match f, with ? placeholders; f.Limit is not part of it.
func (db *DB) orderWhere(f checkout.OrderFilter) (string, []any) {
	var where []string
	var args []any
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(f.State))
	}
	if f.Reference != "" {
		where = append(where, "reference = ?")
		args = append(args, f.Reference)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if !f.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, formatTime(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, formatTime(f.To))
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		s = strings.TrimPrefix(s, "#")
		var cond string
		switch {
		case db.pg != nil:
			// Trigram indexes (pg_trgm) serve ILIKE, which folds case by the database's locale.
			cond = `customer_name ILIKE ? ESCAPE '\' OR description ILIKE ? ESCAPE '\'`
			pattern := "%" + escapeLike(s) + "%"
			args = append(args, pattern, pattern)
		case utf8.RuneCountInString(s) >= 3:
			// A phrase of trigrams in the FTS5 index: a substring, case folded in every script.
			cond = `id IN (SELECT rowid FROM orders_search WHERE orders_search MATCH ?)`
			args = append(args, ftsPhrase(s))
		default:
			// Shorter than a trigram, so the index cannot answer: LIKE over every row, once per
			// case of each letter, as SQLite's LIKE folds only ASCII.
			var ors []string
			for _, v := range caseVariants(s) {
				ors = append(ors, `customer_name LIKE ? ESCAPE '\' OR description LIKE ? ESCAPE '\'`)
				pattern := "%" + escapeLike(v) + "%"
				args = append(args, pattern, pattern)
			}
			cond = strings.Join(ors, " OR ")
		}
		// The shop's own reference for the order, as the shop API set it, matches whole.
		cond += ` OR reference = ?`
		args = append(args, s)
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			cond += ` OR id = ?`
			args = append(args, id)
		}
		where = append(where, "("+cond+")")
	}
	if len(where) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(where, " AND "), args
}

// exportColumns are the columns of an order that the CSV export shows (checkout.ExportRow).
const exportColumns = `id, created_at, state, late, amount_cents, description, customer_name, customer_banq,
	COALESCE(payment_id, ''), transaction_id, paid_at, expires_at, fail_reason`

// EachExportRow calls fn with what the CSV export shows of every order matching f (f.Limit
// ignored), newest first, reading them as a stream so that an export of any size holds one row
// in memory at a time. Only the export's columns are read: an export reads every order, and
// reading and converting the others cost more than the export's own work. It stops at the first
// error fn returns and returns it.
func (db *DB) EachExportRow(ctx context.Context, f checkout.OrderFilter, fn func(checkout.ExportRow) error) error {
	where, args := db.orderWhere(f)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+exportColumns+` FROM orders`+where+` ORDER BY id DESC`), args...)
	if err != nil {
		return wrap(err)
	}
	defer rows.Close()
	// Plain types to scan into: database/sql converts a named type (State, banq.Money) through
	// reflection, a cost per column of every row.
	var (
		r                      checkout.ExportRow
		state, failReason      string
		amount                 int64
		created, paid, expires string
	)
	for rows.Next() {
		if err := rows.Scan(&r.ID, &created, &state, &r.Late, &amount, &r.Description, &r.CustomerName,
			&r.CustomerBanq, &r.PaymentID, &r.TransactionID, &paid, &expires, &failReason); err != nil {
			return wrap(err)
		}
		r.State, r.Amount, r.FailReason = checkout.State(state), banq.Money(amount), banq.FailReason(failReason)
		r.CreatedAt, r.PaidAt, r.ExpiresAt = parseTime(created), parseTime(paid), parseTime(expires)
		if err := fn(r); err != nil {
			return err
		}
	}
	return wrap(rows.Err())
}

// caseVariants returns s spelled with every case of each of its letters (unicode.SimpleFold's
// orbit: "é" gives "é" and "É"), for a search of one or two characters. ASCII letters stay as
// they are: LIKE folds them itself.
func caseVariants(s string) []string {
	out := []string{""}
	for _, r := range s {
		var next []string
		for _, prefix := range out {
			c := r
			for {
				next = append(next, prefix+string(c))
				if c = unicode.SimpleFold(c); c == r || r < utf8.RuneSelf {
					break
				}
			}
		}
		out = next
	}
	return out
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateOrder reads the order with id and calls fn with it inside one write transaction; fn
// changes the order in place and returns what else to write. The order, the events (given their
// seq) and the resource snapshots are committed together. If fn returns checkout.ErrNoChange
// nothing is written and the returned Update holds the order as it is, with no events.
func (db *DB) UpdateOrder(ctx context.Context, id int64, fn func(*checkout.Order) (checkout.Change, error)) (checkout.Update, error) {
	return db.updateOrder(ctx, func(context.Context, *sql.Tx) (int64, error) { return id, nil }, fn)
}

// UpdatePaymentOrder is UpdateOrder for the order that owns a Banq payment: by payment id, or
// else by the order code the payment carries as externalOrderCode (a webhook can arrive before
// the create call's answer was stored); ENotFound when neither matches. The order is looked up
// in the write transaction: on SQLite a read outside it starts a fresh snapshot on the read
// pool, cold after every write, and that lookup cost a fifth of the apply path.
func (db *DB) UpdatePaymentOrder(ctx context.Context, paymentID, externalOrderCode string, fn func(*checkout.Order) (checkout.Change, error)) (checkout.Update, error) {
	return db.updateOrder(ctx, func(ctx context.Context, tx *sql.Tx) (int64, error) {
		return db.orderIDForPayment(ctx, tx, paymentID, externalOrderCode)
	}, fn)
}

// updateOrder is UpdateOrder for the order whose id find returns in the transaction. Changes
// of orders arriving together share a commit on SQLite (writeTx).
func (db *DB) updateOrder(ctx context.Context, find func(context.Context, *sql.Tx) (int64, error), fn func(*checkout.Order) (checkout.Change, error)) (checkout.Update, error) {
	var up checkout.Update
	err := db.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		id, err := find(ctx, tx)
		if err != nil {
			return err
		}
		// On PostgreSQL the row lock serialises changes to one order across instances, so its
		// events get their seq in commit order.
		o, err := scanOrder(tx.QueryRowContext(ctx, db.q(`SELECT `+orderColumns+` FROM orders WHERE id = ?`+db.forUpdate()), id))
		if err != nil {
			return err
		}
		prev := o.State
		ch, err := fn(&o)
		if err != nil {
			up.Order = o
			return err
		}
		now := db.Now()
		for _, e := range ch.Events {
			e.OrderID = o.ID
			if e.At.IsZero() {
				e.At = now
			}
			if e.State == "" {
				e.State = o.State
			}
			if e.Seq, err = db.insertEvent(ctx, tx, e); err != nil {
				return err
			}
			o.LastSeq = e.Seq
			up.Events = append(up.Events, e)
		}
		fetched := formatTime(now)
		if p := ch.Payment; p != nil {
			body, _ := json.Marshal(p)
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO payments(id, order_id, status, funds_cents, body, fetched_at)
				VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status,
				funds_cents = excluded.funds_cents, body = excluded.body, fetched_at = excluded.fetched_at`),
				p.ID, o.ID, string(p.Status), int64(p.Funds), string(body), fetched); err != nil {
				return err
			}
		}
		for _, t := range ch.Transactions {
			body, _ := json.Marshal(t)
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO transactions(id, payment_id, order_id, status, fail_reason, funds_cents, body, fetched_at)
				VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status,
				fail_reason = excluded.fail_reason, funds_cents = excluded.funds_cents, body = excluded.body,
				fetched_at = excluded.fetched_at`),
				t.ID, t.PaymentID, o.ID, string(t.Status), string(t.FailReason), int64(t.Funds), string(body), fetched); err != nil {
				return err
			}
		}
		if ch.Webhook != nil {
			if err := db.finishWebhook(ctx, tx, *ch.Webhook); err != nil {
				return err
			}
		}
		o.UpdatedAt = now
		_, err = tx.ExecContext(ctx, db.q(`UPDATE orders SET state = ?, fail_reason = ?, payment_id = ?,
			transaction_id = ?, create_error = ?, create_attempts = ?, updated_at = ?, paid_at = ?,
			expires_at = ?, late = ?, next_check_at = ?, check_attempts = ?, last_seq = ?, payment_link = ?
			WHERE id = ?`),
			string(o.State), string(o.FailReason), nullable(o.PaymentID), o.TransactionID, o.CreateError,
			o.CreateAttempts, formatTime(o.UpdatedAt), formatTime(o.PaidAt), formatTime(o.ExpiresAt),
			o.Late, formatTime(o.NextCheckAt), o.CheckAttempts, o.LastSeq, o.PaymentLink, o.ID)
		up.Order = o
		if err != nil || len(up.Events) == 0 {
			return err
		}
		if err := db.queueNotification(ctx, tx, prev, o); err != nil {
			return err
		}
		return db.notify(ctx, tx, o.ID, o.LastSeq)
	})
	if errors.Is(err, checkout.ErrNoChange) {
		return up, nil
	}
	if err != nil {
		return checkout.Update{}, err
	}
	return up, nil
}

// Events returns the timeline of an order after seq, oldest first.
func (db *DB) Events(ctx context.Context, orderID, afterSeq int64) ([]checkout.Event, error) {
	return queryRows(ctx, db, db.q(`SELECT seq, order_id, at, kind, state, message, webhook_id
		FROM order_events WHERE order_id = ? AND seq > ? ORDER BY seq`), []any{orderID, afterSeq},
		func(s scanner) (checkout.Event, error) {
			var e checkout.Event
			var at string
			err := s.Scan(&e.Seq, &e.OrderID, &at, &e.Kind, &e.State, &e.Message, &e.WebhookID)
			e.At = parseTime(at)
			return e, err
		})
}

// DueOrders returns orders whose next check is due at now, oldest check first. The domain
// clears next_check_at of orders it is done with; an order that ended here (expired, canceled)
// keeps one while Banq may still complete its payment.
func (db *DB) DueOrders(ctx context.Context, now time.Time, limit int) ([]checkout.Order, error) {
	return queryRows(ctx, db, db.q(`SELECT `+orderColumns+` FROM orders
		WHERE next_check_at <> '' AND next_check_at <= ? ORDER BY next_check_at LIMIT ?`),
		[]any{formatTime(now), limit}, scanOrder)
}

// Transactions returns the Banq transactions seen for an order, oldest first. The app itself
// never reads them back (the order carries what they decided); the table is the record of what
// Banq said, for an operator's queries, and storetest reads it through this to prove UpdateOrder
// writes it on both dialects (another package, so export_test.go cannot carry it).
func (db *DB) Transactions(ctx context.Context, orderID int64) ([]banq.Transaction, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT body FROM transactions WHERE order_id = ? ORDER BY rowid`), orderID)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []banq.Transaction
	for rows.Next() {
		var body []byte
		var t banq.Transaction
		if err := rows.Scan(&body); err != nil {
			return nil, wrap(err)
		}
		if err := json.Unmarshal(body, &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, wrap(rows.Err())
}

// CountByState returns how many orders are in each state.
func (db *DB) CountByState(ctx context.Context) (map[checkout.State]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT state, COUNT(*) FROM orders GROUP BY state`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	out := map[checkout.State]int{}
	for rows.Next() {
		var s checkout.State
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, wrap(err)
		}
		out[s] = n
	}
	return out, wrap(rows.Err())
}
