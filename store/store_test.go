package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
	"github.com/banq-checkout/checkout/store/storetest"
)

func mustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), pgtest.DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestContractSQLite(t *testing.T) { storetest.Run(t, mustOpen) }

func TestContractPostgres(t *testing.T) {
	pgtest.DSN(t) // skips (or fails in CI) before any subtest when there is no server
	storetest.Run(t, openPostgres)
}

func TestOpenUsesWAL(t *testing.T) {
	db := mustOpen(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Reopening applies no migration twice.
	db2, err := store.Open(context.Background(), db.Path())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db2.Close()
}

func TestBackupRestores(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	o := storetest.MustOrder(t, db)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, dest); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("backup over an existing file: got %v, want EConflict", err)
	}
	restored, err := store.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	got, err := restored.OrderByToken(ctx, o.Token)
	if err != nil || got.ID != o.ID {
		t.Fatalf("restored: got %+v, %v", got, err)
	}
}

// Every SQLite migration has its PostgreSQL twin with the same number, and no twin is orphaned.
func TestMigrationsHaveTwins(t *testing.T) {
	names := func(dir string) map[string]string {
		files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range files {
			base := filepath.Base(f)
			num, _, _ := strings.Cut(base, "_")
			out[num] = base
		}
		return out
	}
	lite, pg := names("migrations"), names("migrations_postgres")
	for num, f := range lite {
		if pg[num] == "" {
			t.Errorf("migrations/%s has no PostgreSQL twin migrations_postgres/%s_*.sql", f, num)
		}
	}
	for num, f := range pg {
		if lite[num] == "" {
			t.Errorf("migrations_postgres/%s has no SQLite migration %s_*.sql", f, num)
		}
	}
}
