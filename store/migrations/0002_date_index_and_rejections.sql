-- Beyond the core checkout: the merchant list's date filter, and a small bounded log of webhook
-- deliveries that were refused (bad or missing signature, malformed body). Refused deliveries are
-- never events: they only let the webhook log show its signature verdicts.
CREATE INDEX orders_created ON orders(created_at, id);

CREATE TABLE webhook_rejections (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    remote      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    body        BLOB NOT NULL
);
