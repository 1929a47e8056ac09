package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

func scanUser(s scanner) (checkout.User, error) {
	var u checkout.User
	var created, changed, disabled string
	err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Demo, &created, &changed, &u.Role, &disabled, &u.MustChangePassword)
	u.CreatedAt, u.PasswordChangedAt, u.DisabledAt = parseTime(created), parseTime(changed), parseTime(disabled)
	return u, err
}

const userColumns = `id, email, password_hash, demo, created_at, password_changed_at, role, disabled_at, must_change_password`

// CreateUser stores a merchant user, an owner unless u.Role says otherwise; EConflict if the
// email is taken, EInvalid if the role is unknown.
func (db *DB) CreateUser(ctx context.Context, u checkout.User) (checkout.User, error) {
	u.CreatedAt = db.Now()
	if u.Role == "" {
		u.Role = checkout.RoleOwner
	}
	if !checkout.ValidRole(u.Role) {
		return u, checkout.Errorf(checkout.EInvalid, "There is no role %q.", u.Role)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return db.insertUser(ctx, tx, &u)
	})
	return u, err
}

func (db *DB) insertUser(ctx context.Context, tx *sql.Tx, u *checkout.User) error {
	return tx.QueryRowContext(ctx, db.q(`INSERT INTO users(email, password_hash, demo, created_at, role, must_change_password)
		VALUES(?, ?, ?, ?, ?, ?) RETURNING id`),
		u.Email, u.PasswordHash, u.Demo, formatTime(u.CreatedAt), u.Role, u.MustChangePassword).Scan(&u.ID)
}

// UserByEmail returns the user with email (any case), or ENotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (checkout.User, error) {
	where := `email = ?` // COLLATE NOCASE on SQLite
	if db.pg != nil {
		where = `lower(email) = lower(?)` // a unique index on lower(email)
	}
	u, err := scanUser(db.read.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE `+where), email))
	return u, wrap(err)
}

// User returns the user with id, or ENotFound.
func (db *DB) User(ctx context.Context, id int64) (checkout.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	return u, wrap(err)
}

// DemoPasswordSetting is the setting holding the demo login's generated password, kept only
// while the demo user still has it.
const DemoPasswordSetting = "demo_password"

// SetPassword replaces a user's password hash, ends the demo status (forgetting the generated
// demo password) and the need to change it, and signs the user out everywhere else: every session but keep is deleted.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash []byte, keep string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var demo bool
		if err := tx.QueryRowContext(ctx, db.q(`SELECT demo FROM users WHERE id = ?`), userID).Scan(&demo); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET password_hash = ?, demo = ?, must_change_password = ?, password_changed_at = ? WHERE id = ?`),
			hash, false, false, db.now(), userID); err != nil {
			return err
		}
		if demo {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM settings WHERE key = ?`), DemoPasswordSetting); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ? AND id <> ?`), userID, keep)
		return err
	})
}

// CreateSession stores a new server-side session.
func (db *DB) CreateSession(ctx context.Context, s checkout.Session) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO sessions(id, user_id, created_at, last_seen_at, expires_at) VALUES(?, ?, ?, ?, ?)`),
			s.ID, s.UserID, formatTime(s.CreatedAt), formatTime(s.LastSeen), formatTime(s.ExpiresAt))
		return err
	})
}

// Session returns the session with id, or ENotFound.
func (db *DB) Session(ctx context.Context, id string) (checkout.Session, error) {
	var s checkout.Session
	var created, seen, expires string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT id, user_id, created_at, last_seen_at, expires_at FROM sessions WHERE id = ?`), id).
		Scan(&s.ID, &s.UserID, &created, &seen, &expires)
	s.CreatedAt, s.LastSeen, s.ExpiresAt = parseTime(created), parseTime(seen), parseTime(expires)
	return s, wrap(err)
}

// TouchSession records activity on a session.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET last_seen_at = ? WHERE id = ?`), formatTime(at), id)
		return err
	})
}

// DeleteSession ends a session; deleting one that does not exist is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE id = ? OR expires_at < ?`), id, db.now())
		return err
	})
}

// SignInFailures returns how many failed sign-ins are counted under key and when the last was,
// forgetting a count whose last failure is older than since.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time) (checkout.SignInFailures, error) {
	var f checkout.SignInFailures
	var last string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT failures, last_at FROM signin_failures WHERE key = ? AND last_at >= ?`),
		key, formatTime(since)).Scan(&f.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return checkout.SignInFailures{}, nil
	}
	f.Last = parseTime(last)
	return f, wrap(err)
}

// AddSignInFailure counts a failed sign-in at now under each key, starting a key afresh when its
// last failure is older than since, and returns the new counts in the order of keys. Counts
// older than since are deleted on the way, so the table stays as small as the recent failures.
func (db *DB) AddSignInFailure(ctx context.Context, now, since time.Time, keys ...string) ([]checkout.SignInFailures, error) {
	out := make([]checkout.SignInFailures, len(keys))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM signin_failures WHERE last_at < ?`), formatTime(since)); err != nil {
			return err
		}
		for i, key := range keys {
			var last string
			if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO signin_failures(key, failures, last_at) VALUES(?, 1, ?)
				ON CONFLICT(key) DO UPDATE SET failures = signin_failures.failures + 1, last_at = excluded.last_at
				RETURNING failures, last_at`), key, formatTime(now)).Scan(&out[i].Count, &last); err != nil {
				return err
			}
			out[i].Last = parseTime(last)
		}
		return nil
	})
	return out, err
}

// ClearSignInFailures forgets the failures counted under key.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM signin_failures WHERE key = ?`), key)
		return err
	})
}
