package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

const endpointsPath = "/api/v1/endpoints"

// apiEndpoint is an endpoint as the API answers it.
type apiEndpoint struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	EventTypes              []string   `json:"event_types"`
	Enabled                 bool       `json:"enabled"`
	DisabledReason          *string    `json:"disabled_reason"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	Secret                  string     `json:"secret"`
}

func apiPatch(path, body string) apptest.APIRequest {
	return apptest.APIRequest{Method: http.MethodPatch, Path: path, Body: []byte(body), Valid: true}
}

func apiDelete(path string) apptest.APIRequest {
	return apptest.APIRequest{Method: http.MethodDelete, Path: path, Valid: true}
}

func withIdempotencyKey(r apptest.APIRequest, key string) apptest.APIRequest {
	r.Header = http.Header{"Idempotency-Key": {key}}
	return r
}

// TestAPIEndpointsLifecycle: a key with endpoints:write creates, lists, reads, changes, rotates
// and deletes an endpoint; the secret is in the create and rotate answers only, never in
// another answer or a log line, and what the API answers is what the checkout keeps.
func TestAPIEndpointsLifecycle(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := apptest.Start(t, apptest.Options{Log: logs})
	c := a.NewAPIClient(t, a.SignIn(t).CreateAPIKey(t, "hooks", checkout.ScopeEndpointsWrite))
	ctx := context.Background()

	create := withIdempotencyKey(apiPost(endpointsPath, `{"url": "https://shop.example/checkout-events",
		"description": "the web shop", "event_types": ["order.paid", "order.canceled"]}`), "ep-create-1")
	r := c.Do(t, create)
	var e apiEndpoint
	r.Decode(t, &e)
	if r.Status != http.StatusCreated || !strings.HasPrefix(e.Secret, "whsec_") || r.Header.Get("Location") != endpointsPath+"/"+e.ID ||
		e.URL != "https://shop.example/checkout-events" || !slices.Equal(e.EventTypes, []string{"order.paid", "order.canceled"}) || !e.Enabled {
		t.Fatalf("create: got %d %s (Location %q), want 201 with the endpoint, its secret and its Location", r.Status, r.Body, r.Header.Get("Location"))
	}
	id := int64(atoi(t, e.ID))
	if kept, err := a.Notify.Endpoint(ctx, id); err != nil || kept.Secret != e.Secret || kept.Description != "the web shop" {
		t.Fatalf("the checkout keeps %+v (%v), want the endpoint answered with secret %s", kept, err, e.Secret)
	}
	// A retry under the same Idempotency-Key: the same answer, no second endpoint.
	again := c.Do(t, create)
	if again.Status != http.StatusCreated || string(again.Body) != string(r.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create retried: got %d %s, want the first answer again", again.Status, again.Body)
	}
	secrets := []string{e.Secret}

	noSecret := func(what string, r apptest.APIResponse) {
		t.Helper()
		if strings.Contains(string(r.Body), "whsec_") || strings.Contains(string(r.Body), `"secret"`) {
			t.Fatalf("%s answers a secret: %s", what, r.Body)
		}
	}
	var list struct {
		Data []apiEndpoint `json:"data"`
	}
	lr := c.Do(t, apiGet(endpointsPath))
	lr.Decode(t, &list)
	noSecret("the list", lr)
	if len(list.Data) != 1 || list.Data[0].ID != e.ID {
		t.Fatalf("list: got %s, want the one endpoint %s", lr.Body, e.ID)
	}
	gr := c.Do(t, apiGet(endpointsPath+"/"+e.ID))
	noSecret("a read", gr)
	if gr.Status != http.StatusOK {
		t.Fatalf("get: got %d %s, want 200", gr.Status, gr.Body)
	}

	// An update changes the fields sent, and only those.
	ur := c.Do(t, apiPatch(endpointsPath+"/"+e.ID, `{"url": "https://shop.example/v2/events", "event_types": [], "enabled": false}`))
	var up apiEndpoint
	ur.Decode(t, &up)
	noSecret("an update", ur)
	if ur.Status != http.StatusOK || up.URL != "https://shop.example/v2/events" || up.Description != "the web shop" ||
		len(up.EventTypes) != 0 || up.Enabled || up.DisabledReason != nil {
		t.Fatalf("update: got %d %s, want the new URL, every type, the old description, disabled", ur.Status, ur.Body)
	}
	ur = c.Do(t, apiPatch(endpointsPath+"/"+e.ID, `{"enabled": true, "description": "shop v2"}`))
	ur.Decode(t, &up)
	if kept, _ := a.Notify.Endpoint(ctx, id); !up.Enabled || !kept.Enabled || kept.Description != "shop v2" || kept.URL != up.URL || len(kept.Types) != 0 {
		t.Fatalf("enabled again: answered %s, the checkout keeps %+v", ur.Body, kept)
	}

	// A rotation answers the new secret once; the old one signs beside it for a day. A retry
	// under the same Idempotency-Key gets the same secret, not a third one.
	rotate := withIdempotencyKey(apiPost(endpointsPath+"/"+e.ID+"/rotate-secret", ""), "ep-rotate-1")
	rr := c.Do(t, rotate)
	var rot apiEndpoint
	rr.Decode(t, &rot)
	if rr.Status != http.StatusOK || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == e.Secret || rot.PreviousSecretExpiresAt == nil ||
		time.Until(*rot.PreviousSecretExpiresAt) < 23*time.Hour {
		t.Fatalf("rotate: got %d %s, want 200 with a new secret and the old one kept for a day", rr.Status, rr.Body)
	}
	if again := c.Do(t, rotate); again.Status != http.StatusOK || string(again.Body) != string(rr.Body) {
		t.Fatalf("rotate retried: got %d %s, want the first answer again", again.Status, again.Body)
	}
	kept, err := a.Notify.Endpoint(ctx, id)
	if err != nil || kept.Secret != rot.Secret || kept.PreviousSecret != e.Secret {
		t.Fatalf("after the rotation the checkout keeps %+v (%v), want secret %s beside the old %s", kept, err, rot.Secret, e.Secret)
	}
	secrets = append(secrets, rot.Secret)
	noSecret("a read after the rotation", c.Do(t, apiGet(endpointsPath+"/"+e.ID)))

	if dr := c.Do(t, apiDelete(endpointsPath+"/"+e.ID)); dr.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d %s, want 204", dr.Status, dr.Body)
	}
	if gr := c.Do(t, apiGet(endpointsPath+"/"+e.ID)); gr.Status != http.StatusNotFound {
		t.Fatalf("read after delete: got %d %s, want 404", gr.Status, gr.Body)
	}
	if _, err := a.Notify.Endpoint(ctx, id); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("after delete the checkout still has the endpoint (%v)", err)
	}

	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, endpointsPath) {
		t.Fatal("the logs hold no endpoint request at all: the check below proves nothing")
	}
	for _, s := range secrets {
		if strings.Contains(out, strings.TrimPrefix(s, "whsec_")) {
			t.Fatalf("the logs hold the secret %s", s)
		}
	}
}

// TestAPIEndpointErrors: each refusal of the endpoint routes is a problem that follows the
// document: scope, validation naming every wrong field, unknown fields, unknown endpoints.
func TestAPIEndpointErrors(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	// The keys page offers the scope, unticked: a key that can read secrets is asked for on purpose.
	page := m.Get(t, "/account/api-keys").Body
	if v, _ := apptest.Attr(page, "scope-endpoints-write", "value"); v != checkout.ScopeEndpointsWrite {
		t.Fatalf("the keys page offers scope %q, want %s", v, checkout.ScopeEndpointsWrite)
	}
	if _, ticked := apptest.Attr(page, "scope-endpoints-write", "checked"); ticked {
		t.Fatal("the keys page ticks endpoints:write for every new key")
	}
	orders := m.CreateAPIKey(t, "orders", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)
	hooks := m.CreateAPIKey(t, "hooks", checkout.ScopeEndpointsWrite)
	existing, err := a.Notify.Create(context.Background(), notify.Input{URL: "https://shop.example/hook", Description: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	one := endpointsPath + "/" + strconv.FormatInt(existing.ID, 10)
	body := func(method, path, s string) apptest.APIRequest {
		return apptest.APIRequest{Method: method, Path: path, Body: []byte(s)}
	}
	for _, tc := range []struct {
		name       string
		key        string
		req        apptest.APIRequest
		wantStatus int
		wantType   string
		wantFields []string
	}{
		{"no key", "", apiGet(endpointsPath), 401, "about:blank", nil},
		{"orders key lists", orders, apiGet(endpointsPath), 403, "about:blank", nil},
		{"orders key creates", orders, apiPost(endpointsPath, `{"url": "https://shop.example/x"}`), 403, "about:blank", nil},
		{"orders key reads", orders, apiGet(one), 403, "about:blank", nil},
		{"orders key updates", orders, apiPatch(one, `{"enabled": false}`), 403, "about:blank", nil},
		{"orders key deletes", orders, apiDelete(one), 403, "about:blank", nil},
		{"orders key rotates", orders, apiPost(one+"/rotate-secret", ""), 403, "about:blank", nil},
		{"endpoints key lists orders", hooks, apiGet(ordersPath), 403, "about:blank", nil},
		{"private address", hooks, apiPost(endpointsPath, `{"url": "https://10.1.2.3/hook"}`), 422,
			"urn:checkout:problem:validation", []string{"url"}},
		{"cloud metadata address", hooks, apiPost(endpointsPath, `{"url": "https://169.254.169.254/latest"}`), 422,
			"urn:checkout:problem:validation", []string{"url"}},
		{"every field wrong", hooks, body(http.MethodPost, endpointsPath, `{"url": "http://shop.example/hook",
			"description": "`+strings.Repeat("d", 201)+`", "event_types": ["order.shipped"]}`), 422,
			"urn:checkout:problem:validation", []string{"description", "event_types", "url"}},
		{"no url", hooks, body(http.MethodPost, endpointsPath, `{"description": "nowhere"}`), 422, "urn:checkout:problem:validation", []string{"url"}},
		{"update to a private address", hooks, apiPatch(one, `{"url": "https://192.168.1.10/hook", "enabled": false}`), 422,
			"urn:checkout:problem:validation", []string{"url"}},
		{"unknown fields", hooks, body(http.MethodPost, endpointsPath, `{"url": "https://shop.example/x", "secret": "whsec_mine", "events": []}`), 400,
			"urn:checkout:problem:unknown-fields", []string{"events", "secret"}},
		{"enabled on create", hooks, body(http.MethodPost, endpointsPath, `{"url": "https://shop.example/x", "enabled": false}`), 400,
			"urn:checkout:problem:unknown-fields", []string{"enabled"}},
		{"enabled as a string", hooks, body(http.MethodPatch, one, `{"enabled": "no"}`), 400,
			"urn:checkout:problem:malformed-body", []string{"enabled"}},
		{"event types as a string", hooks, body(http.MethodPost, endpointsPath, `{"url": "https://shop.example/x", "event_types": "order.paid"}`), 400,
			"urn:checkout:problem:malformed-body", []string{"event_types"}},
		{"not JSON", hooks, body(http.MethodPost, endpointsPath, `url=x`), 400, "urn:checkout:problem:malformed-body", nil},
		{"form content type", hooks, apptest.APIRequest{Method: http.MethodPost, Path: endpointsPath,
			Body: []byte(`{"url": "https://shop.example/x"}`), ContentType: "application/x-www-form-urlencoded"}, 415, "about:blank", nil},
		{"body over the limit", hooks, body(http.MethodPost, endpointsPath, `{"url": "https://shop.example/x", "description": "`+strings.Repeat("x", 20<<10)+`"}`),
			413, "about:blank", nil},
		{"no such endpoint", hooks, apiGet(endpointsPath + "/999999"), 404, "about:blank", nil},
		{"not an endpoint id", hooks, apptest.APIRequest{Method: http.MethodGet, Path: endpointsPath + "/abc"}, 404, "about:blank", nil},
		{"update no such endpoint", hooks, apiPatch(endpointsPath+"/999999", `{"enabled": false}`), 404, "about:blank", nil},
		{"delete no such endpoint", hooks, apiDelete(endpointsPath + "/999999"), 404, "about:blank", nil},
		{"rotate no such endpoint", hooks, apiPost(endpointsPath+"/999999/rotate-secret", ""), 404, "about:blank", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.NewAPIClient(t, tc.key).Do(t, tc.req)
			if r.Status != tc.wantStatus {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tc.wantStatus)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
			var p apptest.Problem
			r.Decode(t, &p)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if p.Type != tc.wantType || p.Status != tc.wantStatus || p.Title == "" || p.Detail == "" || !slices.Equal(fields, tc.wantFields) {
				t.Fatalf("got %+v, want type %s, status %d, a title and detail, fields %v", p, tc.wantType, tc.wantStatus, tc.wantFields)
			}
			if tc.wantStatus == 404 && !strings.Contains(p.Detail, "endpoint") && tc.req.Path != ordersPath {
				t.Fatalf("a 404 saying %q, want it to name the endpoint", p.Detail)
			}
		})
	}
	// Refused changes left the endpoint as it was.
	kept, err := a.Notify.Endpoint(context.Background(), existing.ID)
	if err != nil || kept.URL != "https://shop.example/hook" || !kept.Enabled || kept.Secret != existing.Secret {
		t.Fatalf("after the refusals the endpoint is %+v (%v), want it unchanged", kept, err)
	}
}

// TestDocsEndpointsWalkthrough runs the curl blocks of docs/api.md's "Notification endpoints"
// against the app: add an endpoint, pause it, rotate its secret.
func TestDocsEndpointsWalkthrough(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the walkthrough needs curl: install it (apt-get install curl)")
	}
	blocks := docBlocks(t, "Notification endpoints")
	if len(blocks) != 3 {
		t.Fatalf("docs/api.md's endpoints section has %d sh blocks, want 3 (add, pause, rotate): update this test with it", len(blocks))
	}
	a := apptest.Start(t, apptest.Options{})
	env := append(os.Environ(), "CHECKOUT="+a.URL, "KEY="+a.SignIn(t).CreateAPIKey(t, "setup", checkout.ScopeEndpointsWrite))
	run := func(block string) apiEndpoint {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the walkthrough's\n%s\nfailed: %v: %s", block, err, out)
		}
		var e apiEndpoint
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("the walkthrough's\n%s\nanswered %s: %v", block, out, err)
		}
		return e
	}
	e := run(blocks[0])
	if e.ID == "" || !strings.HasPrefix(e.Secret, "whsec_") || len(e.EventTypes) != 3 {
		t.Fatalf("add: got %+v, want an endpoint with its secret and three event types", e)
	}
	env = append(env, "ENDPOINT_ID="+e.ID)
	if paused := run(blocks[1]); paused.Enabled || paused.Secret != "" {
		t.Fatalf("pause: got %+v, want it disabled and no secret", paused)
	}
	rot := run(blocks[2])
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == e.Secret || rot.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate: got %+v, want a new secret beside the old one", rot)
	}
	if again := run(blocks[2]); again.Secret != rot.Secret {
		t.Fatalf("the rotation retried with its Idempotency-Key made another secret")
	}
}
