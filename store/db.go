// Package store persists the checkout: orders, their payments and transactions, each order's
// timeline, the webhook inbox, merchant users and their sessions. It speaks two dialects behind
// one type, chosen by the DSN given to Open; the rest of the code does not know which it has.
//
// SQLite (a file path, or sqlite:path) is the default: one file, one process. Writes go through
// one connection (SetMaxOpenConns(1), BEGIN IMMEDIATE), so they queue in Go instead of failing
// with "database is locked"; reads use a separate read-only pool and run beside the writer
// thanks to WAL.
//
// PostgreSQL (postgres://...) lets several identical app instances share one database: row
// locks serialise changes to an order, FOR UPDATE SKIP LOCKED hands each inbox webhook to one
// instance, LISTEN/NOTIFY wakes the others after a commit (see postgres.go).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/banq-checkout/checkout/checkout"
)

// migrations/ is SQLite's; migrations_postgres/ holds PostgreSQL's twins: same numbers, same
// meaning, each dialect's types.
//
//go:embed migrations/*.sql migrations_postgres/*.sql
var migrations embed.FS

// DB is the checkout's database.
type DB struct {
	write *sql.DB
	read  *sql.DB // the same pool as write on PostgreSQL
	path  string
	pg    *pgState // nil on SQLite

	closed  atomic.Bool
	claimMu sync.Mutex              // SQLite: the webhooks this process is processing
	claimed map[string]bool         //
	due     []checkout.InboxWebhook // SQLite: pending and unclaimed when read, oldest first
	// inboxReads counts the reads of pending webhooks for claims, for tests.
	inboxReads atomic.Int64
	inbox      groupQueue[*inboxInsert] // SQLite: inserts waiting for the next group commit
	writes     groupQueue[*queuedWrite] // SQLite: changes of orders waiting for the next group commit
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// IsPostgres reports whether dsn selects PostgreSQL (postgres:// or postgresql://).
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database named by dsn and applies pending migrations: a postgres:// URL opens
// PostgreSQL; a file path (or sqlite:path) opens, creating if needed, a SQLite file.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// Each connection keeps its prepared statements: preparing them anew took about a third
	// of SQLite's time in the benchmark (cmd/bench).
	common := "_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL&_stmt_cache_size=64"
	w, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?_journal_mode=WAL&_txlock=immediate&"+common)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{write: w, path: path, Now: time.Now, claimed: map[string]bool{}}
	db.inbox.max, db.writes.max = maxInboxBatch, maxWriteBatch
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?mode=ro&"+common)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.read = r
	return db, nil
}

func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	if db.pg != nil {
		return db.write.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// Path is the database file, or the PostgreSQL URL without its password.
func (db *DB) Path() string { return db.path }

// Shared reports whether other app instances may use the same database (PostgreSQL), so that
// changes they commit must be watched for (WatchChanges) and exclusive work arbitrated
// (Exclusive).
func (db *DB) Shared() bool { return db.pg != nil }

// q adapts a query written with ? placeholders to the dialect: $1, $2... on PostgreSQL.
func (db *DB) q(query string) string {
	if db.pg == nil || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Ping checks that the database answers and is writable.
func (db *DB) Ping(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings(key, value) VALUES('ping', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`), db.now())
		return err
	})
}

// Backup writes a consistent copy of the live database to dest (VACUUM INTO), which must not exist.
func (db *DB) Backup(ctx context.Context, dest string) error {
	if db.pg != nil {
		return checkout.Errorf(checkout.EInvalid, "backup: on PostgreSQL use pg_dump (or your provider's snapshots)")
	}
	if _, err := os.Stat(dest); err == nil {
		return checkout.Errorf(checkout.EConflict, "%s already exists", dest)
	}
	_, err := db.read.ExecContext(ctx, `VACUUM INTO ?`, dest)
	return wrap(err)
}

func (db *DB) migrate(ctx context.Context) error {
	if db.pg != nil {
		return db.migratePostgres(ctx)
	}
	// The merchant list's search is an FTS5 index, which go-sqlite3 compiles in only with the
	// build tag sqlite_fts5; without it a migration would fail with "no such module".
	var fts5 bool
	if err := db.write.QueryRowContext(ctx, `SELECT sqlite_compileoption_used('ENABLE_FTS5')`).Scan(&fts5); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !fts5 {
		return errors.New("store: this binary's SQLite has no FTS5: build, test and run with -tags sqlite_fts5 (as the Makefile does)")
	}
	var version int
	if err := db.write.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	pending, err := pendingMigrations("migrations/*.sql", version)
	if err != nil {
		return err
	}
	for _, m := range pending {
		err = db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.body); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, m.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// migration is one embedded SQL file, numbered by the start of its name (0002_date_index_and_rejections.sql).
type migration struct {
	version    int
	name, body string
}

// pendingMigrations returns the embedded migrations matching glob that are newer than version,
// in order.
func pendingMigrations(glob string, version int) ([]migration, error) {
	files, err := fs.Glob(migrations, glob)
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []migration
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: name must start with a number", f)
		}
		if n <= version {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: n, name: filepath.Base(f), body: string(body)})
	}
	return out, nil
}

// tx runs fn in one write transaction, committing if fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return wrap(err)
	}
	return wrap(tx.Commit())
}

// wrap translates driver errors into checkout errors; others pass through.
func wrap(err error) error {
	var se sqlite3.Error
	var ce *checkout.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return &checkout.Error{Code: checkout.ENotFound, Message: "Not found.", Err: err}
	case errors.As(err, &se) && se.Code == sqlite3.ErrConstraint:
		return &checkout.Error{Code: checkout.EConflict, Message: "That already exists.", Err: err}
	case errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked):
		return &checkout.Error{Code: checkout.EUnavailable, Message: "The database is busy; try again.", Err: err}
	}
	return wrapPostgres(err)
}

// queryRows runs q on the read pool and scans every row it answers with scan.
func queryRows[T any](ctx context.Context, db *DB, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err())
}

// cut trims a page fetched with LIMIT limit+1 to limit, and reports whether more follow it.
func cut[T any](items []T, limit int) ([]T, bool) {
	if len(items) > limit {
		return items[:limit], true
	}
	return items, false
}

const timeFormat = "2006-01-02T15:04:05.000000000Z"

func (db *DB) now() string { return formatTime(db.Now()) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// parseTime reads a time as formatTime wrote it; the zero time for "" or anything else.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, ok := parseStoredTime(s); ok {
		return t
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// parseStoredTime reads s in timeFormat by hand, as time.Parse would and at about an eighth of its cost
// (a list or an export parses several times per order). ok is false for anything time.Parse
// should judge: another shape, or a field out of its range.
func parseStoredTime(s string) (t time.Time, ok bool) {
	if len(s) != len(timeFormat) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 || nsec < 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// Setting returns the value stored under key, or ENotFound.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v)
	return v, wrap(err)
}

// SettingOrInit returns the value under key, storing init() first if there is none. Concurrent
// callers all get the one value that was stored.
func (db *DB) SettingOrInit(ctx context.Context, key string, init func() (string, error)) (string, error) {
	if v, err := db.Setting(ctx, key); err == nil {
		return v, nil
	}
	v, err := init()
	if err != nil {
		return "", err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING`), key, v); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v)
	})
	return v, err
}
