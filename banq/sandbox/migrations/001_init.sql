-- The sandbox's own schema. Times are Unix nanoseconds (UTC); money is integer cents.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE account_spaces (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

-- banqs holds every wallet of the sandbox's world. account_space_id is set on the merchant's
-- own banqs (possible destinations) and NULL on the payers'.
CREATE TABLE banqs (
    guid             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    tag              TEXT NOT NULL UNIQUE,
    owner_type       TEXT NOT NULL,
    account_space_id INTEGER REFERENCES account_spaces (id),
    search           TEXT NOT NULL -- lower-cased name and tag, lowered in Go so non-ASCII letters match too
);

CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    account_space_id    INTEGER NOT NULL REFERENCES account_spaces (id),
    status              TEXT NOT NULL,
    held_from           TEXT NOT NULL DEFAULT '', -- the status to resume to while OnHold
    funds               INTEGER NOT NULL,
    comment             TEXT NOT NULL,
    external_order_code TEXT NOT NULL,
    frequency           TEXT NOT NULL,
    source_guid         TEXT REFERENCES banqs (guid),
    destination_guid    TEXT NOT NULL REFERENCES banqs (guid),
    payment_link        TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX payments_external_order_code ON payments (external_order_code);
CREATE INDEX payments_source ON payments (source_guid);

CREATE TABLE transactions (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    status      TEXT NOT NULL,
    fail_reason TEXT NOT NULL,
    funds       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX transactions_payment ON transactions (payment_id);

CREATE TABLE webhook_configs (
    account_space_id INTEGER PRIMARY KEY REFERENCES account_spaces (id),
    url              TEXT NOT NULL,
    enabled          INTEGER NOT NULL,
    retry_count      INTEGER NOT NULL,
    types            TEXT NOT NULL, -- comma-separated, lower case: payment,transaction
    shared_secret    TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- idempotency keeps the first answer to a POST carrying X-Idempotent-Id.
CREATE TABLE idempotency (
    key          TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    location     TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (key, path)
);

-- steps are the scheduled next moves of approval flows. due_at is NULL while the payment is on hold.
CREATE TABLE steps (
    id          INTEGER PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    kind        TEXT NOT NULL, -- transaction | complete
    fail_reason TEXT NOT NULL DEFAULT '', -- set when the transaction is to fail
    due_at      INTEGER
);
CREATE INDEX steps_due ON steps (due_at);

-- outbox holds webhook deliveries. A webhook duplicated by the fault gets a second row (copy = 1)
-- with the same webhook_id.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    webhook_id    TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    action        TEXT NOT NULL,
    body          BLOB NOT NULL,
    url           TEXT NOT NULL,
    secret        TEXT NOT NULL,
    max_attempts  INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'pending', -- pending | sending | delivered | failed | dropped
    faulted       INTEGER NOT NULL DEFAULT 0, -- the delivery faults were rolled for this row
    copy          INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_at);

CREATE TABLE delivery_log (
    id            INTEGER PRIMARY KEY,
    outbox_id     INTEGER NOT NULL,
    webhook_id    TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    action        TEXT NOT NULL,
    url           TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    outcome       TEXT NOT NULL, -- delivered | retry | failed | dropped | duplicated | delayed
    status_code   INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    duration_ns   INTEGER NOT NULL DEFAULT 0,
    at            INTEGER NOT NULL
);
