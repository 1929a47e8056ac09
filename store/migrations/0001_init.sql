-- Orders, their Banq payments and transactions, the webhook inbox and each order's timeline.
-- Times are TEXT in a fixed-width UTC format, so they sort as strings.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       BLOB NOT NULL,
    demo                INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL DEFAULT ''
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    pay_token       TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    description     TEXT NOT NULL,
    customer_banq   TEXT NOT NULL,
    customer_name   TEXT NOT NULL,
    state           TEXT NOT NULL,
    fail_reason     TEXT NOT NULL DEFAULT '',
    payment_id      TEXT UNIQUE,
    transaction_id  TEXT NOT NULL DEFAULT '',
    create_error    TEXT NOT NULL DEFAULT '',
    create_attempts INTEGER NOT NULL DEFAULT 0,
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    paid_at         TEXT NOT NULL DEFAULT '',
    expires_at      TEXT NOT NULL DEFAULT '',
    late            INTEGER NOT NULL DEFAULT 0,
    next_check_at   TEXT NOT NULL DEFAULT '',
    check_attempts  INTEGER NOT NULL DEFAULT 0,
    last_seq        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_state ON orders(state, id);
CREATE INDEX orders_check ON orders(next_check_at) WHERE next_check_at <> '';

CREATE TABLE payments (
    id          TEXT PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    status      TEXT NOT NULL,
    funds_cents INTEGER NOT NULL,
    body        TEXT NOT NULL,
    fetched_at  TEXT NOT NULL
);
CREATE INDEX payments_order ON payments(order_id);

CREATE TABLE transactions (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    status      TEXT NOT NULL,
    fail_reason TEXT NOT NULL,
    funds_cents INTEGER NOT NULL,
    body        TEXT NOT NULL,
    fetched_at  TEXT NOT NULL
);
CREATE INDEX transactions_order ON transactions(order_id);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    received_at     TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    body            BLOB NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL DEFAULT '',
    processed_at    TEXT NOT NULL DEFAULT '',
    order_id        INTEGER REFERENCES orders(id),
    duplicates      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_pending ON webhooks(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhooks_received ON webhooks(received_at);
CREATE INDEX webhooks_order ON webhooks(order_id);

CREATE TABLE order_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    message    TEXT NOT NULL,
    webhook_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_events_order ON order_events(order_id, seq);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
