-- PostgreSQL's twin of migrations/0003_api.sql: API keys (hashed), the API's order fields and the
-- answers kept for Idempotency-Key.
CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       TEXT NOT NULL UNIQUE,
    hash         TEXT NOT NULL,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_by   BIGINT REFERENCES users(id),
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL DEFAULT '',
    revoked_at   TEXT NOT NULL DEFAULT ''
);

ALTER TABLE orders ADD COLUMN reference TEXT;
ALTER TABLE orders ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN metadata TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN cancel_url TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_link TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX orders_reference ON orders(reference);

-- status is 0 while the first request with the key is being answered.
CREATE TABLE api_idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BYTEA NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX api_idempotency_created ON api_idempotency(created_at);
