package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
)

// applyBefore applies the migrations in dir numbered below 8 to conn, the schema as it was
// before roles, recording each as the dialect does.
func applyBefore(t *testing.T, conn *sql.DB, dir string, record func(version int, name string) string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil || n >= 8 {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(record(n, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
}

// A user there was before roles, the demo login or one added with `checkout user add`, is an
// owner after the migration.
func testUsersBeforeRolesBecomeOwners(t *testing.T, conn *sql.DB, insert string, open func() *store.DB) {
	if _, err := conn.Exec(insert); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	db := open()
	defer db.Close()
	u, err := db.UserByEmail(context.Background(), "before@shop.test")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != checkout.RoleOwner || !u.DisabledAt.IsZero() || u.MustChangePassword {
		t.Fatalf("a user from before roles: got role %q, disabled %v, must change %v; want an enabled owner", u.Role, u.DisabledAt, u.MustChangePassword)
	}
}

func TestUsersBeforeRolesBecomeOwnersSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	conn, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetMaxOpenConns(1)
	applyBefore(t, conn, "migrations", func(v int, _ string) string { return fmt.Sprintf("PRAGMA user_version = %d", v) })
	testUsersBeforeRolesBecomeOwners(t, conn, `INSERT INTO users(email, password_hash, created_at) VALUES('before@shop.test', x'00', '2026-01-01T00:00:00.000000000Z')`,
		func() *store.DB {
			db, err := store.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
}

func TestUsersBeforeRolesBecomeOwnersPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	applyBefore(t, conn, "migrations_postgres", func(v int, name string) string {
		return fmt.Sprintf("INSERT INTO schema_migrations(version, name) VALUES(%d, '%s')", v, name)
	})
	testUsersBeforeRolesBecomeOwners(t, conn, `INSERT INTO users(email, password_hash, created_at) VALUES('before@shop.test', '\x00', '2026-01-01T00:00:00.000000000Z')`,
		func() *store.DB {
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
}
