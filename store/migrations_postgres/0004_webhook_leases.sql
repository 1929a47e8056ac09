-- A worker claims an inbox webhook with a lease that it commits before asking Banq and renews
-- while it works, instead of holding the row locked for the whole Banq call. Another instance
-- takes the webhook over once the lease has run out (its holder died). SQLite, one process,
-- claims in memory and leaves these empty; they exist so both dialects share one schema.
ALTER TABLE webhooks ADD COLUMN lease_id TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN lease_until TEXT COLLATE "C" NOT NULL DEFAULT '';
