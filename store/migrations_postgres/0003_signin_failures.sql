-- Failed sign-ins, counted where every instance sees them: per client address, and per account
-- and address together (the handlers' limiter decides what the counts mean). A key's count is
-- forgotten once it has been quiet for the limiter's window.
CREATE TABLE signin_failures (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX signin_failures_last ON signin_failures(last_at);
