package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/banq-checkout/checkout/checkout"
)

// ChangesChannel is the NOTIFY channel that carries "order_id:seq" after every committed order
// change, never data: listeners read the change from the tables.
const ChangesChannel = "checkout_order_changes"

// pgState is what only the PostgreSQL dialect needs.
type pgState struct {
	conn *pgx.ConnConfig // for the dedicated LISTEN and lock connections, outside the pool
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: CHECKOUT_DB is not a valid PostgreSQL URL: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "checkout"
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	shown := cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
	db := &DB{write: pool, read: pool, path: "postgres://" + shown, Now: time.Now, pg: &pgState{conn: cfg}}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// lockKey turns a name into an advisory lock key, shared by every instance.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("banq-checkout:" + name))
	return int64(h.Sum64())
}

// migratePostgres applies pending migrations from migrations_postgres/ under an advisory lock,
// so that instances starting together do not race; each file commits with its version row.
func (db *DB) migratePostgres(ctx context.Context) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey("migrate")); err != nil {
		return fmt.Errorf("store: lock for migrations: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey("migrate"))
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var version int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	pending, err := pendingMigrations("migrations_postgres/*.sql", version)
	if err != nil {
		return err
	}
	for _, m := range pending {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Without arguments pgx sends the file with the simple protocol: several statements at once.
		_, err = tx.ExecContext(ctx, m.body)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES($1, $2)`, m.version, m.name)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// wrapPostgres translates PostgreSQL errors into checkout errors; others pass through.
func wrapPostgres(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case strings.HasPrefix(pe.Code, "23"): // integrity constraint violation
		return &checkout.Error{Code: checkout.EConflict, Message: "That already exists.", Err: err}
	case pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03" || pe.Code == "57014":
		return &checkout.Error{Code: checkout.EUnavailable, Message: "The database is busy; try again.", Err: err}
	}
	return err
}

// forUpdate locks the selected row until the transaction ends, on PostgreSQL (SQLite's single
// writer already serialises write transactions).
func (db *DB) forUpdate() string {
	if db.pg != nil {
		return ` FOR UPDATE`
	}
	return ""
}

// notify queues, inside tx, the NOTIFY that tells every instance an order changed; PostgreSQL
// delivers it at commit, and not at all on rollback. No-op on SQLite (one process).
func (db *DB) notify(ctx context.Context, tx *sql.Tx, orderID, seq int64) error {
	if db.pg == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ChangesChannel,
		strconv.FormatInt(orderID, 10)+":"+strconv.FormatInt(seq, 10))
	return err
}

func (db *DB) claimPostgres(ctx context.Context, now time.Time, lease time.Duration) (checkout.WebhookClaim, error) {
	id := make([]byte, 12)
	rand.Read(id)
	c := &pgClaim{db: db, lease: lease, stop: make(chan struct{}), stopped: make(chan struct{})}
	var err error
	// A lease that ran out (its holder died) is taken over; '' sorts before every time.
	c.w, err = scanWebhook(db.write.QueryRowContext(ctx, `UPDATE webhooks SET lease_id = $1, lease_until = $2
		WHERE id = (SELECT id FROM webhooks WHERE status = 'pending' AND next_attempt_at <= $3 AND lease_until < $3
			ORDER BY next_attempt_at, received_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+webhookColumns, hex.EncodeToString(id), formatTime(now.Add(lease)), formatTime(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	c.w.Lease = hex.EncodeToString(id)
	go c.renew()
	return c, nil
}

type pgClaim struct {
	db      *DB
	w       checkout.InboxWebhook
	lease   time.Duration
	stop    chan struct{} // closed when the claim ends
	stopped chan struct{} // closed when renew has returned
	once    sync.Once
}

func (c *pgClaim) Webhook() checkout.InboxWebhook { return c.w }

// renew extends the lease every lease/3 until the claim ends. A renewal that finds the lease
// taken over stops: the outcome will not be recorded either.
func (c *pgClaim) renew() {
	defer close(c.stopped)
	t := time.NewTicker(c.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.lease/3)
		res, err := c.db.write.ExecContext(ctx, `UPDATE webhooks SET lease_until = $1 WHERE id = $2 AND lease_id = $3`,
			formatTime(c.db.Now().Add(c.lease)), c.w.ID, c.w.Lease)
		cancel()
		if n, _ := rowsAffected(res, err); err == nil && n == 0 {
			return
		}
	}
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// end stops the renewal and waits for it, so that no renewal follows the claim's end.
func (c *pgClaim) end() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}

func (c *pgClaim) Finish(ctx context.Context, w checkout.InboxWebhook) error {
	c.end()
	w.Lease = c.w.Lease
	return c.db.FinishWebhook(ctx, w)
}

func (c *pgClaim) Release() {
	c.end()
	// Free at once for any worker, unless it was finished meanwhile (applied with its outcome)
	// or taken over.
	ctx, cancel := context.WithTimeout(context.Background(), c.lease)
	defer cancel()
	c.db.write.ExecContext(ctx, `UPDATE webhooks SET lease_id = '', lease_until = '' WHERE id = $1 AND lease_id = $2`,
		c.w.ID, c.w.Lease)
}

// WatchChanges calls fn(orderID, lastSeq) for order changes committed by any instance, until
// ctx ends: on every NOTIFY, and, so that nothing is lost when a notification is, for every
// order changed lately each time the listening connection (re)connects and every poll interval.
// fn must be cheap and must tolerate repeats and stale values. On SQLite it returns at once:
// there is one process, whose changes are published in-process.
func (db *DB) WatchChanges(ctx context.Context, poll time.Duration, fn func(orderID, seq int64)) error {
	if db.pg == nil {
		return nil
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	// Orders are found by updated_at, written by the committing instance's clock: the margin
	// covers clock skew between instances and transactions that commit late.
	const margin = 30 * time.Second
	since := db.Now()
	sweep := func() error {
		start := db.Now()
		rows, err := db.read.QueryContext(ctx, `SELECT id, last_seq FROM orders WHERE updated_at >= $1`,
			formatTime(since.Add(-margin)))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				return err
			}
			fn(id, seq)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		since = start
		return nil
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil && !db.closed.Load() {
		err := db.listen(ctx, poll, sweep, fn)
		if ctx.Err() != nil {
			break
		}
		_ = err // the connection went; reconnect and sweep, which covers what it missed
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

func (db *DB) listen(ctx context.Context, poll time.Duration, sweep func() error, fn func(orderID, seq int64)) error {
	cfg := db.pg.conn.Copy()
	cfg.RuntimeParams["application_name"] += "-listen"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+ChangesChannel); err != nil {
		return err
	}
	// Listening first, then reading: a change committed in between is seen twice, never missed.
	if err := sweep(); err != nil {
		return err
	}
	next := time.Now().Add(poll)
	for {
		wctx, cancel := context.WithDeadline(ctx, next)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && wctx.Err() != nil && !conn.IsClosed():
			// The slow safety poll.
			if err := sweep(); err != nil {
				return err
			}
			next = time.Now().Add(poll)
			continue
		case err != nil:
			return err
		}
		id, seq, ok := strings.Cut(n.Payload, ":")
		oid, err1 := strconv.ParseInt(id, 10, 64)
		s, err2 := strconv.ParseInt(seq, 10, 64)
		if ok && err1 == nil && err2 == nil {
			fn(oid, s)
		}
	}
}

// Exclusive runs fn while this instance holds the named lock, and only then: on PostgreSQL a
// session advisory lock on a dedicated connection, so that if this instance dies the lock goes
// with its connection and another instance's Exclusive takes over within retry. fn's context
// ends when ctx does or when the lock's connection is lost; fn is then run again once the lock
// is held again. On SQLite (one process) fn simply runs.
func (db *DB) Exclusive(ctx context.Context, name string, retry time.Duration, fn func(ctx context.Context)) {
	if db.pg == nil {
		fn(ctx)
		return
	}
	if retry <= 0 {
		retry = 2 * time.Second
	}
	for ctx.Err() == nil && !db.closed.Load() {
		db.holdAndRun(ctx, name, retry, fn)
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

func (db *DB) holdAndRun(ctx context.Context, name string, check time.Duration, fn func(ctx context.Context)) {
	cfg := db.pg.conn.Copy()
	cfg.RuntimeParams["application_name"] += "-lock"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&got); err != nil || !got {
		return
	}
	// A previous holder cut off from the database notices at its next check; give it two
	// before starting, so that the two do not overlap (it would be harmless for the
	// reconciler, whose every step is idempotent, but wasteful).
	select {
	case <-ctx.Done():
		return
	case <-time.After(2 * check):
	}
	if conn.Ping(ctx) != nil {
		return
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		t := time.NewTicker(check)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(fctx, check)
				err := conn.Ping(pctx)
				pcancel()
				if (err != nil || db.closed.Load()) && fctx.Err() == nil {
					cancel() // the lock is gone with its connection: stop, someone else may run
					return
				}
			}
		}
	}()
	fn(fctx)
	cancel()
	<-lost
	// Closing the connection releases the lock.
}
