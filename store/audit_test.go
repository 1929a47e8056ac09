package store_test

import (
	"context"
	"testing"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
)

// The audit log refuses changes and deletions in the database itself, not only in the code.
func testAuditLogAppendOnly(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if err := db.AddAudit(ctx, checkout.AuditEntry{Actor: "owner@shop.test", Action: checkout.AuditSignIn, Address: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`} {
		if err := store.Exec(db, q); err == nil {
			t.Errorf("%s: no error, want the audit log to refuse it", q)
		}
	}
	page, _, err := db.AuditLog(ctx, 0, 10)
	if err != nil || len(page) != 1 || page[0].Actor != "owner@shop.test" {
		t.Fatalf("after the refused changes: got %+v, %v; want the one entry as written", page, err)
	}
}

func TestAuditLogAppendOnlySQLite(t *testing.T) { testAuditLogAppendOnly(t, mustOpen(t)) }

func TestAuditLogAppendOnlyPostgres(t *testing.T) {
	pgtest.DSN(t)
	testAuditLogAppendOnly(t, openPostgres(t))
}
