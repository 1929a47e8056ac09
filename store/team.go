package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// Users returns every merchant user, in the order they were added.
func (db *DB) Users(ctx context.Context) ([]checkout.User, error) {
	return queryRows(ctx, db, `SELECT `+userColumns+` FROM users ORDER BY id`, nil, scanUser)
}

// lockTeam serialises changes to the team, so that two owners demoting each other at once
// cannot leave none: SQLite's write transactions are serial already; PostgreSQL takes an
// advisory lock held until the transaction ends.
func (db *DB) lockTeam(ctx context.Context, tx *sql.Tx) error {
	if db.pg == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("team"))
	return err
}

// keepAnOwner returns EConflict when no enabled owner would be left but the user with id.
func (db *DB) keepAnOwner(ctx context.Context, tx *sql.Tx, id int64) error {
	var others int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM users WHERE role = ? AND disabled_at = '' AND id <> ?`),
		checkout.RoleOwner, id).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return checkout.Errorf(checkout.EConflict, "There must always be an enabled owner: make someone else an owner first.")
	}
	return nil
}

// SetRole gives the user with id a role. ENotFound if there is no such user, EInvalid for an
// unknown role, EConflict if they are the last enabled owner and the role is not owner.
func (db *DB) SetRole(ctx context.Context, id int64, role string) (checkout.User, error) {
	if !checkout.ValidRole(role) {
		return checkout.User{}, checkout.Errorf(checkout.EInvalid, "There is no role %q.", role)
	}
	var u checkout.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockTeam(ctx, tx); err != nil {
			return err
		}
		var err error
		if u, err = scanUser(tx.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)); err != nil {
			return err
		}
		if u.Role == checkout.RoleOwner && role != checkout.RoleOwner && u.DisabledAt.IsZero() {
			if err := db.keepAnOwner(ctx, tx, id); err != nil {
				return err
			}
		}
		u.Role = role
		_, err = tx.ExecContext(ctx, db.q(`UPDATE users SET role = ? WHERE id = ?`), role, id)
		return err
	})
	return u, err
}

// SetDisabled disables the user with id, ending all their sessions in the same transaction, or
// enables them again. ENotFound if there is no such user, EConflict when disabling the last
// enabled owner.
func (db *DB) SetDisabled(ctx context.Context, id int64, disabled bool) (checkout.User, error) {
	var u checkout.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockTeam(ctx, tx); err != nil {
			return err
		}
		var err error
		if u, err = scanUser(tx.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)); err != nil {
			return err
		}
		if !disabled {
			u.DisabledAt = time.Time{}
			_, err = tx.ExecContext(ctx, db.q(`UPDATE users SET disabled_at = '' WHERE id = ?`), id)
			return err
		}
		if u.Role == checkout.RoleOwner {
			if err := db.keepAnOwner(ctx, tx, id); err != nil {
				return err
			}
		}
		if u.DisabledAt.IsZero() {
			u.DisabledAt = db.Now()
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET disabled_at = ? WHERE id = ?`), formatTime(u.DisabledAt), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ?`), id)
		return err
	})
	return u, err
}

const inviteColumns = `id, token_hash, email, role, COALESCE(created_by, 0), created_at, expires_at, used_at`

func scanInvite(s scanner) (checkout.Invite, error) {
	var in checkout.Invite
	var created, expires, used string
	err := s.Scan(&in.ID, &in.TokenHash, &in.Email, &in.Role, &in.CreatedBy, &created, &expires, &used)
	in.CreatedAt, in.ExpiresAt, in.UsedAt = parseTime(created), parseTime(expires), parseTime(used)
	return in, err
}

// CreateInvite stores an invitation; EInvalid for an unknown role, EConflict if a user has the
// email already.
func (db *DB) CreateInvite(ctx context.Context, in checkout.Invite) (checkout.Invite, error) {
	if !checkout.ValidRole(in.Role) {
		return in, checkout.Errorf(checkout.EInvalid, "There is no role %q.", in.Role)
	}
	in.CreatedAt = db.Now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := scanUser(tx.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE `+db.emailIs()), in.Email)); err == nil {
			return checkout.Errorf(checkout.EConflict, "%s is on the team already.", in.Email)
		}
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO invites(token_hash, email, role, created_by, created_at, expires_at)
			VALUES(?, ?, ?, NULLIF(?, 0), ?, ?) RETURNING id`),
			in.TokenHash, in.Email, in.Role, in.CreatedBy, formatTime(in.CreatedAt), formatTime(in.ExpiresAt)).Scan(&in.ID)
	})
	return in, err
}

// emailIs is the condition matching a user's email in any case.
func (db *DB) emailIs() string {
	if db.pg != nil {
		return `lower(email) = lower(?)`
	}
	return `email = ?`
}

// PendingInvites returns the invitations neither used nor expired at now, newest first.
func (db *DB) PendingInvites(ctx context.Context, now time.Time) ([]checkout.Invite, error) {
	return queryRows(ctx, db, db.q(`SELECT `+inviteColumns+` FROM invites WHERE used_at = '' AND expires_at > ? ORDER BY id DESC`),
		[]any{formatTime(now)}, scanInvite)
}

// Invite returns the invitation whose token hashes to tokenHash if it may still be used at
// now: ENotFound if there is none, EConflict if it was used or has expired (the message says
// which).
func (db *DB) Invite(ctx context.Context, tokenHash string, now time.Time) (checkout.Invite, error) {
	in, err := scanInvite(db.read.QueryRowContext(ctx, db.q(`SELECT `+inviteColumns+` FROM invites WHERE token_hash = ?`), tokenHash))
	if err != nil {
		return in, wrap(err)
	}
	return in, usable(in, now)
}

func usable(in checkout.Invite, now time.Time) error {
	switch {
	case !in.UsedAt.IsZero():
		return checkout.Errorf(checkout.EConflict, "This invitation was used already. Sign in, or ask an owner for a new one.")
	case !now.Before(in.ExpiresAt):
		return checkout.Errorf(checkout.EConflict, "This invitation has expired. Ask an owner for a new one.")
	}
	return nil
}

// AcceptInvite uses the invitation whose token hashes to tokenHash, once: it is marked used
// and its user created with passwordHash, in one transaction. Errors as Invite, and EConflict
// if a user with the email was added meanwhile.
func (db *DB) AcceptInvite(ctx context.Context, tokenHash string, now time.Time, passwordHash []byte) (checkout.User, error) {
	var u checkout.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		in, err := scanInvite(tx.QueryRowContext(ctx, db.q(`SELECT `+inviteColumns+` FROM invites WHERE token_hash = ?`), tokenHash))
		if err != nil {
			return err
		}
		if err := usable(in, now); err != nil {
			return err
		}
		// The condition on used_at makes the link single-use even where two requests read it
		// unused at once (PostgreSQL): the second updates nothing.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE invites SET used_at = ? WHERE id = ? AND used_at = ''`), formatTime(now), in.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return usable(checkout.Invite{UsedAt: now}, now)
		}
		u = checkout.User{Email: in.Email, PasswordHash: passwordHash, Role: in.Role, CreatedAt: db.Now()}
		if err := db.insertUser(ctx, tx, &u); err != nil {
			if checkout.ErrorCode(wrap(err)) == checkout.EConflict {
				return checkout.Errorf(checkout.EConflict, "%s is on the team already: sign in.", in.Email)
			}
			return err
		}
		return nil
	})
	return u, err
}

// AddAudit appends an entry to the audit log, stamped now unless it has a time.
func (db *DB) AddAudit(ctx context.Context, e checkout.AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.Now()
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO audit_log(at, actor_id, actor, action, subject, address)
			VALUES(?, NULLIF(?, 0), ?, ?, ?, ?)`), formatTime(e.At), e.ActorID, e.Actor, e.Action, e.Subject, e.Address)
		return err
	})
}

// AuditLog returns up to limit entries older than before (all when before is 0), newest first,
// and whether older ones follow.
func (db *DB) AuditLog(ctx context.Context, before int64, limit int) ([]checkout.AuditEntry, bool, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := queryRows(ctx, db, db.q(`SELECT id, at, COALESCE(actor_id, 0), actor, action, subject, address FROM audit_log
		WHERE id < ? ORDER BY id DESC LIMIT ?`), []any{before, limit + 1}, func(s scanner) (checkout.AuditEntry, error) {
		var e checkout.AuditEntry
		var at string
		err := s.Scan(&e.ID, &at, &e.ActorID, &e.Actor, &e.Action, &e.Subject, &e.Address)
		e.At = parseTime(at)
		return e, err
	})
	if err != nil {
		return nil, false, err
	}
	rows, more := cut(rows, limit)
	return rows, more, nil
}
