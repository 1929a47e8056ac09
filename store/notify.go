package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

// queueNotification writes, inside the transaction of an order's change, the notification that
// the change calls for and one delivery of it to each enabled endpoint that wants its type.
// Being in the same transaction, a crash can neither lose it nor send one for a change that was
// rolled back. prev is the order's state before the change, "" for a new order.
func (db *DB) queueNotification(ctx context.Context, tx *sql.Tx, prev checkout.State, o checkout.Order) error {
	t := notify.TypeFor(prev, o)
	if t == "" {
		return nil
	}
	like := "%," + t + ",%"
	want := `FROM notify_endpoints WHERE enabled AND (event_types = '' OR ',' || event_types || ',' LIKE ?)`
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) `+want), like).Scan(&n); err != nil || n == 0 {
		return err
	}
	now := db.Now()
	id := "msg_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO notify_messages(id, order_id, type, seq, body, created_at)
		VALUES(?, ?, ?, ?, ?, ?)`), id, o.ID, t, o.LastSeq, notify.NewSnapshot(t, now, o).JSON(), formatTime(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO notify_deliveries(message_id, endpoint_id, status, next_attempt_at, created_at)
		SELECT ?, id, 'pending', ?, ? `+want), id, formatTime(now), formatTime(now), like)
	return err
}

const endpointColumns = `id, url, description, event_types, secret, previous_secret, previous_until,
	enabled, disabled_reason, failing_since, created_at, updated_at`

func scanEndpoint(s scanner) (notify.Endpoint, error) {
	var e notify.Endpoint
	var types, prevUntil, failing, created, updated string
	err := s.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Secret, &e.PreviousSecret, &prevUntil,
		&e.Enabled, &e.DisabledReason, &failing, &created, &updated)
	if types != "" {
		e.Types = strings.Split(types, ",")
	}
	e.PreviousUntil, e.FailingSince = parseTime(prevUntil), parseTime(failing)
	e.CreatedAt, e.UpdatedAt = parseTime(created), parseTime(updated)
	return e, err
}

// CreateEndpoint stores a new notification endpoint and returns it with its id.
func (db *DB) CreateEndpoint(ctx context.Context, e notify.Endpoint) (notify.Endpoint, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO notify_endpoints(url, description, event_types, secret,
			enabled, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			e.URL, e.Description, strings.Join(e.Types, ","), e.Secret, e.Enabled,
			formatTime(e.CreatedAt), formatTime(e.UpdatedAt)).Scan(&e.ID)
	})
	return e, err
}

// Endpoint returns the endpoint with id, or ENotFound.
func (db *DB) Endpoint(ctx context.Context, id int64) (notify.Endpoint, error) {
	e, err := scanEndpoint(db.read.QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` FROM notify_endpoints WHERE id = ?`), id))
	return e, wrap(err)
}

// Endpoints lists every endpoint, oldest first.
func (db *DB) Endpoints(ctx context.Context) ([]notify.Endpoint, error) {
	return queryRows(ctx, db, `SELECT `+endpointColumns+` FROM notify_endpoints ORDER BY id`, nil, scanEndpoint)
}

// UpdateEndpoint reads the endpoint with id and calls fn with it inside one write transaction,
// then stores what fn left in it.
func (db *DB) UpdateEndpoint(ctx context.Context, id int64, fn func(*notify.Endpoint) error) (notify.Endpoint, error) {
	var e notify.Endpoint
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanEndpoint(tx.QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` FROM notify_endpoints WHERE id = ?`+db.forUpdate()), id))
		if err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE notify_endpoints SET url = ?, description = ?, event_types = ?,
			secret = ?, previous_secret = ?, previous_until = ?, enabled = ?, disabled_reason = ?,
			failing_since = ?, updated_at = ? WHERE id = ?`),
			e.URL, e.Description, strings.Join(e.Types, ","), e.Secret, e.PreviousSecret, formatTime(e.PreviousUntil),
			e.Enabled, e.DisabledReason, formatTime(e.FailingSince), formatTime(e.UpdatedAt), e.ID)
		return err
	})
	return e, err
}

// DeleteEndpoint removes an endpoint with its deliveries and their attempts; ENotFound if none.
func (db *DB) DeleteEndpoint(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM notify_endpoints WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
}

const deliveryColumns = `d.id, d.message_id, d.endpoint_id, m.type, m.order_id, d.status, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.created_at`

func scanDelivery(s scanner, extra ...any) (notify.Delivery, error) {
	var d notify.Delivery
	var next, last, created string
	err := s.Scan(append([]any{&d.ID, &d.MessageID, &d.EndpointID, &d.Type, &d.OrderID, &d.Status, &d.Attempts,
		&next, &last, &d.LastStatus, &d.LastError, &created}, extra...)...)
	d.NextAttemptAt, d.LastAttemptAt, d.CreatedAt = parseTime(next), parseTime(last), parseTime(created)
	return d, err
}

// Deliveries lists an endpoint's deliveries that f selects, newest first, and reports whether
// older ones follow.
func (db *DB) Deliveries(ctx context.Context, f notify.DeliveryFilter) ([]notify.Delivery, bool, error) {
	if f.Before <= 0 {
		f.Before = 1<<62 - 1
	}
	where, args := `d.endpoint_id = ? AND d.id < ?`, []any{f.EndpointID, f.Before}
	switch f.Status {
	case "":
	case notify.DeliveryRetrying:
		where += ` AND d.status = 'pending' AND d.attempts > 0`
	default:
		where += ` AND d.status = ?`
		args = append(args, f.Status)
	}
	ds, err := queryRows(ctx, db, db.q(`SELECT `+deliveryColumns+` FROM notify_deliveries d
		JOIN notify_messages m ON m.id = d.message_id WHERE `+where+`
		ORDER BY d.id DESC LIMIT ?`), append(args, f.Limit+1),
		func(s scanner) (notify.Delivery, error) { return scanDelivery(s) })
	if err != nil {
		return nil, false, err
	}
	ds, more := cut(ds, f.Limit)
	return ds, more, nil
}

// Delivery returns the delivery with id, or ENotFound.
func (db *DB) Delivery(ctx context.Context, id int64) (notify.Delivery, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, db.q(`SELECT `+deliveryColumns+` FROM notify_deliveries d
		JOIN notify_messages m ON m.id = d.message_id WHERE d.id = ?`), id))
	return d, wrap(err)
}

// Attempts lists a delivery's attempts, oldest first.
func (db *DB) Attempts(ctx context.Context, deliveryID int64) ([]notify.Attempt, error) {
	return queryRows(ctx, db, db.q(`SELECT id, delivery_id, at, status, error, response, duration_ms
		FROM notify_attempts WHERE delivery_id = ? ORDER BY id`), []any{deliveryID},
		func(s scanner) (notify.Attempt, error) {
			var a notify.Attempt
			var at string
			var ms int64
			err := s.Scan(&a.ID, &a.DeliveryID, &at, &a.Status, &a.Error, &a.Response, &ms)
			a.At, a.Duration = parseTime(at), time.Duration(ms)*time.Millisecond
			return a, err
		})
}

// Redeliver queues the message of delivery id to its endpoint again, as a new pending delivery
// due at once, and returns it.
func (db *DB) Redeliver(ctx context.Context, id int64, at time.Time) (notify.Delivery, error) {
	var newID int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO notify_deliveries(message_id, endpoint_id, status,
			next_attempt_at, created_at) SELECT message_id, endpoint_id, 'pending', ?, ? FROM notify_deliveries
			WHERE id = ? RETURNING id`), formatTime(at), formatTime(at), id).Scan(&newID)
	})
	if err != nil {
		return notify.Delivery{}, err
	}
	return db.Delivery(ctx, newID)
}

// ClaimDeliveries leases up to limit pending deliveries due at now, to enabled endpoints, until
// now+lease. The lease is committed before any delivery is attempted, so no lock is held while
// a shop's server is called; on PostgreSQL, FOR UPDATE SKIP LOCKED makes each claim go to one
// instance, and a lease whose instance died expires and is claimed again.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notify.Job, error) {
	token := leaseToken()
	var jobs []notify.Job
	lock := ""
	if db.pg != nil {
		lock = ` FOR UPDATE OF d SKIP LOCKED`
	}
	// A read first, so that an idle sender's poll costs no write transaction.
	var due int
	err := db.read.QueryRowContext(ctx, db.q(`SELECT count(*) FROM (SELECT 1 FROM notify_deliveries
		WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1) d`), formatTime(now)).Scan(&due)
	if err != nil || due == 0 {
		return nil, wrap(err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE notify_deliveries SET lease_until = ?, lease_token = ?
			WHERE id IN (SELECT d.id FROM notify_deliveries d JOIN notify_endpoints e ON e.id = d.endpoint_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND d.lease_until < ? AND e.enabled
			ORDER BY d.next_attempt_at, d.id LIMIT ?`+lock+`)`),
			formatTime(now.Add(lease)), token, formatTime(now), formatTime(now), limit)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+deliveryColumns+`, m.body, `+prefixed("e.", endpointColumns)+`
			FROM notify_deliveries d JOIN notify_messages m ON m.id = d.message_id
			JOIN notify_endpoints e ON e.id = d.endpoint_id WHERE d.lease_token = ? ORDER BY d.next_attempt_at, d.id`), token)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j := notify.Job{Lease: token}
			var err error
			var ep notify.Endpoint
			epScan := scannerFunc(func(dest ...any) error {
				d, err := scanDelivery(rows, append([]any{&j.Snapshot}, dest...)...)
				j.Delivery = d
				return err
			})
			if ep, err = scanEndpoint(epScan); err != nil {
				return err
			}
			j.Endpoint = ep
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	return jobs, err
}

type scannerFunc func(dest ...any) error

func (f scannerFunc) Scan(dest ...any) error { return f(dest...) }

func prefixed(p, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func leaseToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// FinishDelivery records an attempt at a claimed delivery and its outcome, and keeps the
// endpoint's failure record, in one transaction. It records nothing if the lease is no longer
// the job's (it expired and another sender claimed the delivery).
func (db *DB) FinishDelivery(ctx context.Context, j notify.Job, o notify.Outcome) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE notify_deliveries SET status = ?, attempts = attempts + 1,
			next_attempt_at = ?, lease_until = '', lease_token = '', last_attempt_at = ?, last_status = ?,
			last_error = ? WHERE id = ? AND lease_token = ?`),
			o.Status, formatTime(o.Next), formatTime(o.Attempt.At), o.Attempt.Status, o.Attempt.Error, j.ID, j.Lease)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		a := o.Attempt
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO notify_attempts(delivery_id, at, status, error, response, duration_ms)
			VALUES(?, ?, ?, ?, ?, ?)`), j.ID, formatTime(a.At), a.Status, a.Error, a.Response, a.Duration.Milliseconds()); err != nil {
			return err
		}
		switch {
		case a.Error == "":
			_, err = tx.ExecContext(ctx, db.q(`UPDATE notify_endpoints SET failing_since = '' WHERE id = ?`), j.Endpoint.ID)
		case o.Disable != "":
			_, err = tx.ExecContext(ctx, db.q(`UPDATE notify_endpoints SET enabled = ?, disabled_reason = ?,
				failing_since = CASE WHEN failing_since = '' THEN ? ELSE failing_since END WHERE id = ?`),
				false, o.Disable, formatTime(a.At), j.Endpoint.ID)
		default:
			_, err = tx.ExecContext(ctx, db.q(`UPDATE notify_endpoints SET failing_since = ? WHERE id = ? AND failing_since = ''`),
				formatTime(a.At), j.Endpoint.ID)
		}
		return err
	})
}

// ReleaseDeliveryLeases ends every claim. Only for SQLite, at start: one process owns that
// database, so a lease found then was held by a process that died (kill -9, a crash), and its
// deliveries need not wait for the lease to run out. On PostgreSQL other instances hold live
// leases, and a dead one's run out by themselves; it does nothing there.
func (db *DB) ReleaseDeliveryLeases(ctx context.Context) error {
	if db.pg != nil {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET lease_until = '', lease_token = '' WHERE lease_token <> ''`)
		return err
	})
}

// ReleaseDelivery ends a claim without an attempt: the delivery is due again at once.
func (db *DB) ReleaseDelivery(ctx context.Context, j notify.Job) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE notify_deliveries SET lease_until = '', lease_token = ''
			WHERE id = ? AND lease_token = ?`), j.ID, j.Lease)
		return err
	})
}
