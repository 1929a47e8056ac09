package store

// InboxBatches is how many group commits of inbox inserts db has made.
func InboxBatches(db *DB) int64 { return db.inbox.batches.Load() }

// Exec runs a statement on the write pool, as someone with the database's credentials could.
func Exec(db *DB, query string) error {
	_, err := db.write.Exec(query)
	return err
}

// InboxReads is how many reads of pending webhooks db's claims have made (SQLite).
func InboxReads(db *DB) int64 { return db.inboxReads.Load() }

// WriteBatches is how many group commits of order changes db has made, and of how many changes.
func WriteBatches(db *DB) (batches, writes int64) {
	return db.writes.batches.Load(), db.writes.items.Load()
}
