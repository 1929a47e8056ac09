package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app/apptest"
)

// TestKeySubcommand: `checkout key create` prints a key, once, that opens the API with the
// scopes it was given and no others; `checkout key list` shows it by its prefix only.
func TestKeySubcommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := env(map[string]string{"CHECKOUT_DB": filepath.Join(dir, "checkout.db")})
	create := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"key", "create"}, args...), getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("checkout key create %v: %v", args, err)
		}
		m := regexp.MustCompile(`(?m)^key (ck_\S+)$`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("checkout key create printed no key line: %q", out.String())
		}
		return m[1]
	}
	both := create("web shop")
	reader := create("reports", "-scopes", "orders:read")
	hooks := create("hooks", "-scopes", "endpoints:write")

	for _, bad := range [][]string{{"key", "create"}, {"key", "create", "x", "-scopes", "orders:delete"},
		{"key", "create", " ", "-scopes", "orders:read"}, {"key", "revoke"}} {
		if err := run(context.Background(), bad, getenv, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("checkout %s: got nil, want an error", strings.Join(bad, " "))
		}
	}

	var list bytes.Buffer
	if err := run(context.Background(), []string{"key", "list"}, getenv, nil, &list, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{both, reader, hooks} {
		if !strings.Contains(list.String(), k[:11]) || strings.Contains(list.String(), k[12:]) {
			t.Errorf("key list %q: want the prefix %s and never the key", list.String(), k[:11])
		}
	}
	if n := strings.Count(list.String(), "\n"); n != 3 {
		t.Errorf("key list has %d lines, want 3: %q", n, list.String())
	}

	a := apptest.Start(t, apptest.Options{Dir: dir})
	for _, tc := range []struct {
		name, key, method, path string
		want                    int
	}{
		{"both lists orders", both, http.MethodGet, "/api/v1/orders", 200},
		{"both creates orders", both, http.MethodPost, "/api/v1/orders", 201},
		{"both may not keep endpoints", both, http.MethodGet, "/api/v1/endpoints", 403},
		{"reader lists orders", reader, http.MethodGet, "/api/v1/orders", 200},
		{"reader may not create", reader, http.MethodPost, "/api/v1/orders", 403},
		{"hooks lists endpoints", hooks, http.MethodGet, "/api/v1/endpoints", 200},
		{"hooks may not read orders", hooks, http.MethodGet, "/api/v1/orders", 403},
	} {
		r := apptest.APIRequest{Method: tc.method, Path: tc.path}
		if tc.method == http.MethodPost {
			r.Body = []byte(`{"amount": "1", "description": "From the command line's key"}`)
		}
		if got := a.NewAPIClient(t, tc.key).Do(t, r); got.Status != tc.want {
			t.Errorf("%s: got %d %s, want %d", tc.name, got.Status, got.Body, tc.want)
		}
	}
}
