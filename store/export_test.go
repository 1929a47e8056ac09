package store

// InboxBatches is how many group commits of inbox inserts db has made.
func InboxBatches(db *DB) int64 { return db.inbox.batches.Load() }
