// Package pgtest gives tests a fresh PostgreSQL database of their own. The server comes from
// CHECKOUT_TEST_POSTGRES (a postgres:// URL of a role that may create databases); without it
// the tests skip, unless CHECKOUT_REQUIRE_POSTGRES=1 (set by CI), when a skip is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names.
const (
	EnvDSN     = "CHECKOUT_TEST_POSTGRES"
	EnvRequire = "CHECKOUT_REQUIRE_POSTGRES"
)

// DSN creates a database test_<random> on the test server, drops it when the test ends, and
// returns its URL.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("%s=1 but %s is not set: PostgreSQL tests cannot run", EnvRequire, EnvDSN)
		}
		tb.Skipf("PostgreSQL tests skipped: set %s=postgres://user@host:port/db to run them", EnvDSN)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvDSN, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		tb.Fatalf("create database on %s: %v", EnvDSN, err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Admin returns a connection pool to the database at dsn, closed when the test ends, for tests
// that look behind the store's back (counting rows, terminating backends).
func Admin(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// WithAppName returns dsn with application_name set, so that a test can tell connections apart
// in pg_stat_activity.
func WithAppName(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}
