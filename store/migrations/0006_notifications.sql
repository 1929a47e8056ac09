-- The shop's notifications: its endpoints, the outbox of messages (written in the same
-- transaction as the order change they tell of), one delivery per message and endpoint with its
-- retry state and lease, and every attempt for the delivery log.
CREATE TABLE notify_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '', -- comma-separated; '' for all
    secret          TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_until  TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since   TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE notify_messages (
    id         TEXT PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    type       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    body       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE notify_deliveries (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES notify_messages(id),
    endpoint_id     INTEGER NOT NULL REFERENCES notify_endpoints(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT NOT NULL DEFAULT '',
    lease_token     TEXT NOT NULL DEFAULT '',
    last_attempt_at TEXT NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX notify_deliveries_due ON notify_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX notify_deliveries_endpoint ON notify_deliveries(endpoint_id, id);

CREATE TABLE notify_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES notify_deliveries(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    response    TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL
);
CREATE INDEX notify_attempts_delivery ON notify_attempts(delivery_id, id);
