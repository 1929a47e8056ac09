package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// `checkout user add` adds an owner unless -role says otherwise, and refuses an unknown role.
func TestUserAddRole(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "checkout.db")
	getenv := env(map[string]string{"CHECKOUT_DB": db})
	for _, tc := range []struct {
		args []string
		want string // the role, or "" when the command must fail
	}{
		{[]string{"user", "add", "owner@shop.test"}, checkout.RoleOwner},
		{[]string{"user", "add", "-role", "staff", "staff@shop.test"}, checkout.RoleStaff},
		{[]string{"user", "add", "-role=viewer", "viewer@shop.test"}, checkout.RoleViewer},
		{[]string{"user", "add", "-role", "admin", "admin@shop.test"}, ""},
	} {
		var out bytes.Buffer
		err := run(ctx, tc.args, getenv, strings.NewReader("a long enough password\n"), &out, io.Discard)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%v: no error, want the role refused", tc.args)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.UserByEmail(ctx, tc.args[len(tc.args)-1])
		st.Close()
		if err != nil || u.Role != tc.want {
			t.Errorf("%v: got role %q (%v), want %q", tc.args, u.Role, err, tc.want)
		}
	}
}
