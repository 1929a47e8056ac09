package sandbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/banq-checkout/checkout/banq"
)

//go:embed migrations/*.sql
var migrations embed.FS

// openDB opens the sandbox's database on a single connection: every read and write queues in Go
// instead of failing with "database is locked", and an in-memory database lives as long as that
// connection. Each in-memory sandbox gets a database of its own, so parallel tests share nothing.
func openDB(path string) (*sql.DB, error) {
	opts := "_busy_timeout=5000&_foreign_keys=on&_txlock=immediate&_stmt_cache_size=64"
	var dsn string
	if path == "" {
		dsn = "file:sandbox-" + uuid.NewString() + "?mode=memory&cache=shared&" + opts
	} else {
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath() + "?_journal_mode=WAL&_synchronous=NORMAL&" + opts
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sandbox: open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sandbox: open database %q: %w", path, err)
	}
	return db, nil
}

// migrate applies the embedded migrations newer than the database's user_version, each in its
// own transaction with the version bump.
func (s *Sandbox) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var current int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("sandbox: read schema version: %w", err)
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sandbox: migration %s: name must start with its number", name)
		}
		if version <= current {
			continue
		}
		script, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(script)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version))
			return err
		})
		if err != nil {
			return fmt.Errorf("sandbox: migration %s: %w", base, err)
		}
		current = version
	}
	return nil
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (s *Sandbox) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// demoSpace and demoPayers are the world seeded on first start. The GUIDs are generated then and
// stored, so they stay stable across restarts of a file database.
var demoSpace = banq.AccountSpace{ID: 1, Name: "Demo Shop"}

var demoPayers = []struct{ name, tag, ownerType string }{
	{"Ada Lovelace", "@ada", "Personal"},
	{"Zoë Ångström", "@zoe.angstrom", "Personal"},
	{"李雷", "@lilei", "Personal"},
	{"Olúṣẹ́gun Adéyẹmí", "@segun", "Personal"},
	{"María José García-Pérez", "@mariajose", "Personal"},
	{"Søren Østergaard", "@soren", "Personal"},
	{"Priya Raghunathan", "@priya.r", "Personal"},
	{"Аня Волкова", "@anya.volkova", "Personal"},
	{"Siobhán O'Brien", "@siobhan", "Personal"},
	{"Nguyễn Thị Hoa", "@hoa.nguyen", "Personal"},
	{"田中 由紀", "@yuki.tanaka", "Personal"},
	{"فاطمة السيد", "@fatima", "Personal"},
	{"Corner Bakery & Café", "@cornerbakery", "Business"},
	{"Jean-Luc Picard-Dupont", "@jeanluc", "Personal"},
}

// seed creates the demo world when the database is new.
func (s *Sandbox) seed(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM account_spaces").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO account_spaces (id, name) VALUES (?, ?)",
			demoSpace.ID, demoSpace.Name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('user_id', ?)",
			uuid.NewString()); err != nil {
			return err
		}
		insert := func(name, tag, ownerType string, space any) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO banqs (guid, name, tag, owner_type, account_space_id, search)
				VALUES (?, ?, ?, ?, ?, ?)`, uuid.NewString(), name, tag, ownerType, space, searchKey(name, tag))
			return err
		}
		if err := insert(demoSpace.Name, "@demoshop", "Business", demoSpace.ID); err != nil {
			return err
		}
		for _, p := range demoPayers {
			if err := insert(p.name, p.tag, p.ownerType, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddPayer adds a payer's banq to the directory, as someone signing up to Banq would, and
// returns it: tests name payers as people (or attackers) might.
func (s *Sandbox) AddPayer(ctx context.Context, name, tag string) (banq.Banq, error) {
	b := banq.Banq{GUID: uuid.NewString(), Name: name, Tag: tag, OwnerType: "Personal"}
	_, err := s.db.ExecContext(ctx, `INSERT INTO banqs (guid, name, tag, owner_type, account_space_id, search)
		VALUES (?, ?, ?, ?, NULL, ?)`, b.GUID, b.Name, b.Tag, b.OwnerType, searchKey(name, tag))
	return b, err
}

func searchKey(name, tag string) string { return strings.ToLower(name + "\n" + tag) }

// loadIdentity reads the merchant's account space, banq and user id.
func (s *Sandbox) loadIdentity(ctx context.Context) error {
	err := s.db.QueryRowContext(ctx, "SELECT id, name FROM account_spaces ORDER BY id LIMIT 1").
		Scan(&s.space.ID, &s.space.Name)
	if err != nil {
		return fmt.Errorf("sandbox: load account space: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT guid, name, account_space_id FROM banqs
		WHERE account_space_id = ? ORDER BY rowid LIMIT 1`, s.space.ID).
		Scan(&s.merchant.GUID, &s.merchant.Name, &s.merchant.AccountSpaceID)
	if err != nil {
		return fmt.Errorf("sandbox: load merchant banq: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'user_id'").Scan(&s.userID); err != nil {
		return fmt.Errorf("sandbox: load user: %w", err)
	}
	return nil
}

// prefixed qualifies each column of a column list: prefixed("a, b", "t.") is "t.a, t.b".
func prefixed(cols, prefix string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// queryer is what both *sql.DB and *sql.Tx offer for reads.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const paymentColumns = `id, account_space_id, status, held_from, funds, comment, external_order_code,
	frequency, source_guid, destination_guid, payment_link, created_at, updated_at`

// paymentRow is a payment as stored.
type paymentRow struct {
	banq.Payment
	heldFrom banq.PaymentStatus
}

func scanPayment(scan func(...any) error) (paymentRow, error) {
	var (
		p                  paymentRow
		source             sql.NullString
		created, updated   int64
		status, held, freq string
		funds              int64
	)
	err := scan(&p.ID, &p.AccountSpaceID, &status, &held, &funds, &p.Comment, &p.ExternalOrderCode,
		&freq, &source, &p.Destination.BanqGUID, &p.PaymentLink, &created, &updated)
	if err != nil {
		return paymentRow{}, err
	}
	p.Status, p.heldFrom, p.Frequency = banq.PaymentStatus(status), banq.PaymentStatus(held), banq.Frequency(freq)
	p.Funds = banq.Money(funds)
	if source.Valid {
		p.Source = &banq.BanqRef{BanqGUID: source.String}
	}
	p.CreatedAtUTC, p.UpdatedAtUTC = fromNanos(created), fromNanos(updated)
	return p, nil
}

// getPayment returns ErrNotFound when no payment has id.
func getPayment(ctx context.Context, q queryer, id string) (paymentRow, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, "SELECT "+paymentColumns+" FROM payments WHERE id = ?", id).Scan)
	if err == sql.ErrNoRows {
		return paymentRow{}, ErrNotFound
	}
	return p, err
}

func listPayments(ctx context.Context, q queryer, where string, args ...any) ([]banq.Payment, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+paymentColumns+" FROM payments "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []banq.Payment{}
	for rows.Next() {
		p, err := scanPayment(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Payment)
	}
	return out, rows.Err()
}

const transactionColumns = "id, payment_id, status, fail_reason, funds, created_at, updated_at"

func scanTransaction(scan func(...any) error) (banq.Transaction, error) {
	var (
		t                banq.Transaction
		status, reason   string
		funds            int64
		created, updated int64
	)
	if err := scan(&t.ID, &t.PaymentID, &status, &reason, &funds, &created, &updated); err != nil {
		return banq.Transaction{}, err
	}
	t.Status, t.FailReason, t.Funds = banq.TransactionStatus(status), banq.FailReason(reason), banq.Money(funds)
	t.CreatedAtUTC, t.UpdatedAtUTC = fromNanos(created), fromNanos(updated)
	return t, nil
}

func scanBanq(scan func(...any) error) (banq.Banq, error) {
	var b banq.Banq
	err := scan(&b.GUID, &b.Name, &b.Tag, &b.OwnerType)
	return b, err
}

// PayerBanqs lists the banqs of the sandbox's payers (every banq but the merchant's own), in
// seed order. Tests and demos pick a payer here.
func (s *Sandbox) PayerBanqs(ctx context.Context) ([]banq.Banq, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT guid, name, tag, owner_type FROM banqs
		WHERE account_space_id IS NULL ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []banq.Banq
	for rows.Next() {
		b, err := scanBanq(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Payment returns one payment, or ErrNotFound.
func (s *Sandbox) Payment(ctx context.Context, id string) (banq.Payment, error) {
	p, err := getPayment(ctx, s.db, id)
	return p.Payment, err
}

// Payments lists the payments with the given external order code and, when sourceGUID is not
// empty, that payer; newest first. An empty externalOrderCode matches every payment.
func (s *Sandbox) Payments(ctx context.Context, externalOrderCode, sourceGUID string) ([]banq.Payment, error) {
	var conds []string
	var args []any
	if externalOrderCode != "" {
		conds, args = append(conds, "external_order_code = ?"), append(args, externalOrderCode)
	}
	if sourceGUID != "" {
		conds, args = append(conds, "source_guid = ?"), append(args, sourceGUID)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	return listPayments(ctx, s.db, where+" ORDER BY rowid DESC", args...)
}
