package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// Roles, the last enabled owner, disabling (which ends sessions), one-time invitations and the
// append-only audit log.
func testTeam(t *testing.T, open Opener) {
	db := open(t)
	ctx := context.Background()
	owner, err := db.CreateUser(ctx, checkout.User{Email: "owner@shop.test", PasswordHash: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if owner.Role != checkout.RoleOwner {
		t.Fatalf("a user added without a role: got %q, want owner", owner.Role)
	}
	staff, err := db.CreateUser(ctx, checkout.User{Email: "staff@shop.test", PasswordHash: []byte("x"), Role: checkout.RoleStaff, MustChangePassword: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := db.User(ctx, staff.ID); got.Role != checkout.RoleStaff || !got.MustChangePassword {
		t.Fatalf("staff as stored: got role %q, must change %v", got.Role, got.MustChangePassword)
	}
	if _, err := db.CreateUser(ctx, checkout.User{Email: "x@shop.test", Role: "admin"}); checkout.ErrorCode(err) != checkout.EInvalid {
		t.Fatalf("unknown role: got %v, want EInvalid", err)
	}

	// The only owner can be neither demoted nor disabled.
	if _, err := db.SetRole(ctx, owner.ID, checkout.RoleViewer); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("demote the last owner: got %v, want EConflict", err)
	}
	if _, err := db.SetDisabled(ctx, owner.ID, true); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("disable the last owner: got %v, want EConflict", err)
	}
	// With a second owner, one may go; then the other is the last again.
	if _, err := db.SetRole(ctx, staff.ID, checkout.RoleOwner); err != nil {
		t.Fatal(err)
	}
	now := db.Now()
	if err := db.CreateSession(ctx, checkout.Session{ID: "s-owner", UserID: owner.ID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := db.SetDisabled(ctx, owner.ID, true)
	if err != nil || u.DisabledAt.IsZero() {
		t.Fatalf("disable an owner with another left: got %+v, %v", u, err)
	}
	if _, err := db.Session(ctx, "s-owner"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("session of a disabled user: got %v, want ENotFound", err)
	}
	if _, err := db.SetRole(ctx, staff.ID, checkout.RoleStaff); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("demote the last enabled owner: got %v, want EConflict", err)
	}
	if u, err := db.SetDisabled(ctx, owner.ID, false); err != nil || !u.DisabledAt.IsZero() {
		t.Fatalf("enable again: got %+v, %v", u, err)
	}
	if got, _ := db.User(ctx, owner.ID); !got.DisabledAt.IsZero() {
		t.Fatalf("enabled user as stored: disabled at %v", got.DisabledAt)
	}

	// Two owners demoting each other at once: one must fail.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []int64{owner.ID, staff.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = db.SetRole(ctx, id, checkout.RoleViewer)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two owners demoted at once: got %v and %v, want exactly one EConflict", errs[0], errs[1])
	}

	testInvites(t, db)
	testAuditLog(t, db)
}

type teamDB interface {
	CreateInvite(ctx context.Context, in checkout.Invite) (checkout.Invite, error)
	Invite(ctx context.Context, tokenHash string, now time.Time) (checkout.Invite, error)
	AcceptInvite(ctx context.Context, tokenHash string, now time.Time, passwordHash []byte) (checkout.User, error)
	PendingInvites(ctx context.Context, now time.Time) ([]checkout.Invite, error)
}

func testInvites(t *testing.T, db teamDB) {
	ctx := context.Background()
	now := time.Now()
	if _, err := db.CreateInvite(ctx, checkout.Invite{TokenHash: "h0", Email: "OWNER@shop.test", Role: checkout.RoleStaff, ExpiresAt: now.Add(time.Hour)}); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("invite someone on the team: got %v, want EConflict", err)
	}
	if _, err := db.CreateInvite(ctx, checkout.Invite{TokenHash: "h1", Email: "new@shop.test", Role: checkout.RoleViewer, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateInvite(ctx, checkout.Invite{TokenHash: "h2", Email: "late@shop.test", Role: checkout.RoleStaff, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if p, err := db.PendingInvites(ctx, now); err != nil || len(p) != 2 {
		t.Fatalf("pending invites: got %d, %v; want 2", len(p), err)
	}
	if _, err := db.Invite(ctx, "nope", now); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("unknown invite: got %v, want ENotFound", err)
	}
	u, err := db.AcceptInvite(ctx, "h1", now, []byte("pw"))
	if err != nil || u.Email != "new@shop.test" || u.Role != checkout.RoleViewer {
		t.Fatalf("accept: got %+v, %v", u, err)
	}
	if _, err := db.AcceptInvite(ctx, "h1", now, []byte("pw2")); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("accept twice: got %v, want EConflict", err)
	}
	if _, err := db.Invite(ctx, "h1", now); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("read a used invite: got %v, want EConflict", err)
	}
	later := now.Add(time.Minute)
	if _, err := db.AcceptInvite(ctx, "h2", later, []byte("pw")); checkout.ErrorCode(err) != checkout.EConflict {
		t.Fatalf("accept at expiry: got %v, want EConflict", err)
	}
	if p, _ := db.PendingInvites(ctx, later); len(p) != 0 {
		t.Fatalf("pending after use and expiry: got %d, want 0", len(p))
	}
}

type auditDB interface {
	AddAudit(ctx context.Context, e checkout.AuditEntry) error
	AuditLog(ctx context.Context, before int64, limit int) ([]checkout.AuditEntry, bool, error)
}

func testAuditLog(t *testing.T, db auditDB) {
	ctx := context.Background()
	for _, s := range []string{"order 1", "order 2", "order 3"} {
		if err := db.AddAudit(ctx, checkout.AuditEntry{Actor: "owner@shop.test", Action: checkout.AuditOrderCreated, Subject: s, Address: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	page, more, err := db.AuditLog(ctx, 0, 2)
	if err != nil || len(page) != 2 || !more || page[0].Subject != "order 3" || page[1].Subject != "order 2" {
		t.Fatalf("first page: got %+v, more %v, %v; want orders 3 and 2, more", page, more, err)
	}
	if page[0].Address != "192.0.2.1" || page[0].At.IsZero() {
		t.Fatalf("entry: got %+v", page[0])
	}
	page, more, err = db.AuditLog(ctx, page[1].ID, 2)
	if err != nil || len(page) != 1 || more || page[0].Subject != "order 1" {
		t.Fatalf("second page: got %+v, more %v, %v; want order 1, no more", page, more, err)
	}
}
