-- PostgreSQL's twin of migrations/0002_date_index_and_rejections.sql: the merchant list's date filter, the webhook
-- log's paging order, and the small bounded log of refused webhook deliveries.
CREATE INDEX orders_created ON orders(created_at, id);

-- The webhook log pages by insertion order, as SQLite's implicit rowid does there.
ALTER TABLE webhooks ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX webhooks_rowid ON webhooks(rowid);

CREATE TABLE webhook_rejections (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at TEXT NOT NULL,
    remote      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    body        BYTEA NOT NULL
);
