package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

const apiKeyColumns = `id, prefix, hash, name, scopes, COALESCE(created_by, 0), created_at, last_used_at, revoked_at`

func scanAPIKey(s scanner) (checkout.APIKey, error) {
	var k checkout.APIKey
	var scopes, created, used, revoked string
	err := s.Scan(&k.ID, &k.Prefix, &k.Hash, &k.Name, &scopes, &k.CreatedBy, &created, &used, &revoked)
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = parseTime(created), parseTime(used), parseTime(revoked)
	return k, err
}

// CreateAPIKey stores a new API key and returns it with its id and creation time.
func (db *DB) CreateAPIKey(ctx context.Context, k checkout.APIKey) (checkout.APIKey, error) {
	k.CreatedAt = db.Now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO api_keys(prefix, hash, name, scopes, created_by, created_at)
			VALUES(?, ?, ?, ?, NULLIF(?, 0), ?) RETURNING id`),
			k.Prefix, k.Hash, k.Name, strings.Join(k.Scopes, " "), k.CreatedBy, formatTime(k.CreatedAt)).Scan(&k.ID)
	})
	return k, err
}

// APIKeys returns every API key, revoked ones too, newest first.
func (db *DB) APIKeys(ctx context.Context) ([]checkout.APIKey, error) {
	return queryRows(ctx, db, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id DESC`, nil, scanAPIKey)
}

// APIKeyByPrefix returns the API key with prefix, or ENotFound.
func (db *DB) APIKeyByPrefix(ctx context.Context, prefix string) (checkout.APIKey, error) {
	k, err := scanAPIKey(db.read.QueryRowContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE prefix = ?`), prefix))
	return k, wrap(err)
}

// RevokeAPIKey revokes the API key with id for good; revoking it again changes nothing.
// ENotFound if there is no such key.
func (db *DB) RevokeAPIKey(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = '' THEN ? ELSE revoked_at END
			WHERE id = ?`), db.now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
}

// TouchAPIKey records that the key with id was used at.
func (db *DB) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), formatTime(at), id)
		return err
	})
}

// ClaimIdempotencyKey reserves key for a request whose body hashes to requestHash. It returns
// claimed true when this request is the first with the key (or the first one's claim was
// abandoned, unanswered, before staleBefore), and otherwise the answer kept for the key: its
// Status is 0 while the first request is still being answered. Answers created before
// expireBefore are deleted on the way, so the table holds about a day of keys.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, key, requestHash string, staleBefore, expireBefore time.Time) (checkout.IdempotentAnswer, bool, error) {
	var a checkout.IdempotentAnswer
	claimed := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM api_idempotency WHERE created_at < ?`), formatTime(expireBefore)); err != nil {
			return err
		}
		now := db.Now()
		// Of concurrent first requests one inserts; on PostgreSQL the others wait for its
		// commit and then insert nothing.
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO api_idempotency(key, request_hash, status, body, created_at)
			VALUES(?, ?, 0, ?, ?) ON CONFLICT(key) DO NOTHING`), key, requestHash, []byte{}, formatTime(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			a = checkout.IdempotentAnswer{Key: key, RequestHash: requestHash, CreatedAt: now, Body: []byte{}}
			return nil
		}
		// The first request died unanswered (a crash): this one takes its place.
		res, err = tx.ExecContext(ctx, db.q(`UPDATE api_idempotency SET created_at = ?
			WHERE key = ? AND status = 0 AND request_hash = ? AND created_at < ?`),
			formatTime(now), key, requestHash, formatTime(staleBefore))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			a = checkout.IdempotentAnswer{Key: key, RequestHash: requestHash, CreatedAt: now, Body: []byte{}}
			return nil
		}
		var created string
		err = tx.QueryRowContext(ctx, db.q(`SELECT key, request_hash, status, body, created_at FROM api_idempotency
			WHERE key = ?`), key).Scan(&a.Key, &a.RequestHash, &a.Status, &a.Body, &created)
		a.CreatedAt = parseTime(created)
		return err
	})
	return a, claimed, err
}

// AnswerIdempotencyKey keeps the answer to the request that claimed key.
func (db *DB) AnswerIdempotencyKey(ctx context.Context, key string, status int, body []byte) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE api_idempotency SET status = ?, body = ? WHERE key = ?`), status, body, key)
		return err
	})
}

// ReleaseIdempotencyKey forgets an unanswered claim on key, so that the request may be sent
// again (its first attempt failed before anything was done).
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM api_idempotency WHERE key = ? AND status = 0`), key)
		return err
	})
}
