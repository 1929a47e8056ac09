package app_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

// Who may use each route. Roles name the least role a merchant route needs; "public" routes
// need nobody signed in (probes, assets, Banq's webhooks, the customer's pages, sign-in, an
// invitation); "key" routes are the shop's API, authorized by API key scopes, not by roles.
// Every route the app serves must have a row: a route added without one fails the test.
var routeAccess = map[string]string{
	"GET /healthz":                "public",
	"GET /readyz":                 "public",
	"GET /metrics":                "public", // its own bearer token
	"GET /static/*":               "public",
	"* /webhooks/banq":            "public", // HMAC-signed; other methods are told to POST
	"* /webhooks/banq/":           "public",
	"* /webhooks/*":               "public", // 404
	"GET /pay/:token":             "public",
	"GET /pay/:token/events":      "public",
	"GET /pay/:token/qr.svg":      "public",
	"GET /pay/:token/banq-qr.svg": "public",
	"GET /brand.css":              "public",
	"GET /brand/logo":             "public",
	"GET /":                       "public", // a redirect to /orders
	"GET /login":                  "public",
	"POST /login":                 "public",
	"POST /logout":                "public",
	"GET /invite/:token":          "public",
	"POST /invite/:token":         "public",

	"GET /api/openapi.yaml":                    "public",
	"POST /api/v1/orders":                      "key",
	"GET /api/v1/orders":                       "key",
	"GET /api/v1/orders/:id":                   "key",
	"POST /api/v1/orders/:id/cancel":           "key",
	"POST /api/v1/endpoints":                   "key",
	"GET /api/v1/endpoints":                    "key",
	"GET /api/v1/endpoints/:id":                "key",
	"PATCH /api/v1/endpoints/:id":              "key",
	"DELETE /api/v1/endpoints/:id":             "key",
	"POST /api/v1/endpoints/:id/rotate-secret": "key",

	"GET /account":           checkout.RoleViewer,
	"POST /account/password": checkout.RoleViewer,
	"GET /orders":            checkout.RoleViewer,
	"GET /orders.csv":        checkout.RoleViewer,
	"GET /orders/events":     checkout.RoleViewer,
	"GET /orders/:id":        checkout.RoleViewer,
	"GET /orders/:id/events": checkout.RoleViewer,
	"GET /webhook-log":       checkout.RoleViewer,
	"GET /webhook-log/:id":   checkout.RoleViewer,

	"GET /orders/new":         checkout.RoleStaff,
	"POST /orders":            checkout.RoleStaff,
	"POST /orders/:id/retry":  checkout.RoleStaff,
	"POST /orders/:id/cancel": checkout.RoleStaff,

	"POST /webhook-log/:id/reprocess":              checkout.RoleOwner,
	"GET /notifications":                           checkout.RoleOwner,
	"POST /notifications":                          checkout.RoleOwner,
	"GET /notifications/:id":                       checkout.RoleOwner,
	"POST /notifications/:id":                      checkout.RoleOwner,
	"POST /notifications/:id/:action":              checkout.RoleOwner,
	"GET /notifications/deliveries/:id":            checkout.RoleOwner,
	"POST /notifications/deliveries/:id/redeliver": checkout.RoleOwner,
	"GET /account/api-keys":                        checkout.RoleOwner,
	"POST /account/api-keys":                       checkout.RoleOwner,
	"POST /account/api-keys/:id/revoke":            checkout.RoleOwner,
	"GET /team":                                    checkout.RoleOwner,
	"POST /team/invites":                           checkout.RoleOwner,
	"POST /team/users":                             checkout.RoleOwner,
	"POST /team/users/:id/role":                    checkout.RoleOwner,
	"POST /team/users/:id/disable":                 checkout.RoleOwner,
	"POST /team/users/:id/enable":                  checkout.RoleOwner,
	"GET /audit":                                   checkout.RoleOwner,
}

// accessOf returns the table's row for a route, by method or for any method.
func accessOf(method, path string) (string, bool) {
	if a, ok := routeAccess[method+" "+path]; ok {
		return a, true
	}
	a, ok := routeAccess["* "+path]
	return a, ok
}

// mustAddMember adds a user with role and a password of their own, and signs them in.
func mustAddMember(t *testing.T, a *apptest.App, email, role string) *apptest.Merchant {
	t.Helper()
	const password = "a long enough password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.CreateUser(context.Background(), checkout.User{Email: email, PasswordHash: hash, Role: role}); err != nil {
		t.Fatal(err)
	}
	return signIn(t, a, email, password, "/orders")
}

func signIn(t *testing.T, a *apptest.App, email, password, want string) *apptest.Merchant {
	t.Helper()
	m := a.NewMerchant()
	r := m.PostForm(t, "/login", "/login", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusSeeOther || r.Location != want {
		t.Fatalf("sign in as %s: got %d to %q, want 303 to %s: %s", email, r.Status, r.Location, want, r.Body)
	}
	return m
}

// send makes a request as m, with its CSRF token on state-changing ones.
func send(t *testing.T, a *apptest.App, m *apptest.Merchant, method, path, csrf string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", csrf)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := m.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	// Only the status matters; a live stream is left at its headers.
	resp.Body.Close()
	return resp
}

var routeParam = regexp.MustCompile(`:[a-z]+|\*`)

// Every route is in the table, and the server refuses each merchant route to the roles below
// the one the table names, and to nobody else; a session authorizes none of the API's routes.
func TestRouteRoleTable(t *testing.T) {
	// Every optional route on: metrics on the main listener too.
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.MetricsToken = "metrics-token-for-the-test" }})
	signedIn := map[string]*apptest.Merchant{
		checkout.RoleOwner:  a.SignIn(t),
		checkout.RoleStaff:  mustAddMember(t, a, "staff@shop.test", checkout.RoleStaff),
		checkout.RoleViewer: mustAddMember(t, a, "viewer@shop.test", checkout.RoleViewer),
	}
	csrf := map[string]string{}
	for role, m := range signedIn {
		csrf[role] = m.CSRF(t, "/account")
	}
	seen := map[string]bool{}
	for _, r := range a.Echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue // the 404 of a group's prefix, not a route
		}
		access, ok := accessOf(r.Method, r.Path)
		if !ok {
			t.Errorf("%s %s has no row in routeAccess: say who may use it", r.Method, r.Path)
			continue
		}
		if _, ok := routeAccess[r.Method+" "+r.Path]; ok {
			seen[r.Method+" "+r.Path] = true
		} else {
			seen["* "+r.Path] = true
		}
		path := routeParam.ReplaceAllStringFunc(r.Path, func(p string) string {
			if p == ":action" {
				return "enable"
			}
			return "999999"
		})
		switch access {
		case "public":
			continue
		case "key":
			// A signed-in owner without a key gets nothing.
			if resp := send(t, a, signedIn[checkout.RoleOwner], r.Method, path, csrf[checkout.RoleOwner]); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with an owner's session and no key: got %d, want 401", r.Method, r.Path, resp.StatusCode)
			}
			continue
		}
		if resp := send(t, a, a.NewMerchant(), r.Method, path, ""); resp.StatusCode != http.StatusUnauthorized &&
			resp.StatusCode != http.StatusForbidden && resp.Header.Get("Location") != "/login" {
			t.Errorf("%s %s signed out: got %d to %q, want it refused", r.Method, r.Path, resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, role := range checkout.Roles {
			resp := send(t, a, signedIn[role], r.Method, path, csrf[role])
			refused := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized || resp.Header.Get("Location") == "/login"
			if want := !checkout.RoleAtLeast(role, access); refused != want {
				t.Errorf("%s %s as %s: got %d, want refused %v (the table says %s and up)", r.Method, r.Path, role, resp.StatusCode, want, access)
			}
		}
	}
	for row := range routeAccess {
		if !seen[row] {
			t.Errorf("routeAccess has %q, which the app does not serve: remove the row", row)
		}
	}
}

// invitePath makes an invitation as the owner m and returns its link's path.
func invitePath(t *testing.T, m *apptest.Merchant, email, role string) string {
	t.Helper()
	r := m.PostForm(t, "/team", "/team/invites", url.Values{"email": {email}, "role": {role}})
	if r.Status != http.StatusCreated {
		t.Fatalf("invite %s: got %d, want 201: %s", email, r.Status, r.Body)
	}
	link, err := url.Parse(apptest.Text(r.Body, "invite-link"))
	if err != nil || !strings.HasPrefix(link.Path, "/invite/") {
		t.Fatalf("invite link: got %q (%v)", apptest.Text(r.Body, "invite-link"), err)
	}
	return link.Path
}

// An invitation link works once, and not after it expires.
func TestInviteLinkIsOneTimeAndExpires(t *testing.T) {
	clk := newClock()
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) { c.Now = clk.Now }})
	owner := a.SignIn(t)
	path := invitePath(t, owner, "new@shop.test", checkout.RoleStaff)

	guest := a.NewMerchant()
	if r := guest.Get(t, path); r.Status != http.StatusOK || apptest.Text(r.Body, "invite-email") != "new@shop.test" {
		t.Fatalf("open the invitation: got %d, email %q", r.Status, apptest.Text(r.Body, "invite-email"))
	}
	if r := guest.PostForm(t, path, path, url.Values{"password": {"short"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a too short password: got %d, want 422", r.Status)
	}
	const password = "my own long password"
	if r := guest.PostForm(t, path, path, url.Values{"password": {password}}); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("accept: got %d to %q, want 303 to /login: %s", r.Status, r.Location, r.Body)
	}
	staff := signIn(t, a, "new@shop.test", password, "/orders")
	if r := staff.Get(t, "/team"); r.Status != http.StatusForbidden {
		t.Fatalf("the invited staff on the team page: got %d, want 403", r.Status)
	}

	// Used twice: refused, whoever tries.
	other := a.NewMerchant()
	csrf := other.CSRF(t, "/login")
	if r := other.PostForm(t, "", path, url.Values{"password": {"another long password"}, "_csrf": {csrf}}); r.Status != http.StatusGone {
		t.Fatalf("accept a second time: got %d, want 410: %s", r.Status, r.Body)
	}
	if r := other.Get(t, path); r.Status != http.StatusGone || !strings.Contains(r.Body, "used already") {
		t.Fatalf("open a used invitation: got %d: %s", r.Status, r.Body)
	}
	signIn(t, a, "new@shop.test", password, "/orders") // the first password still stands

	// After expiry: refused, opened or posted.
	late := invitePath(t, owner, "late@shop.test", checkout.RoleViewer)
	clk.Add(72*time.Hour + time.Second)
	late2 := a.NewMerchant()
	csrf = late2.CSRF(t, "/login")
	if r := late2.Get(t, late); r.Status != http.StatusGone || !strings.Contains(r.Body, "expired") {
		t.Fatalf("open an expired invitation: got %d: %s", r.Status, r.Body)
	}
	if r := late2.PostForm(t, "", late, url.Values{"password": {"another long password"}, "_csrf": {csrf}}); r.Status != http.StatusGone {
		t.Fatalf("accept an expired invitation: got %d, want 410", r.Status)
	}
	if r := late2.Get(t, "/invite/not-a-token"); r.Status != http.StatusNotFound {
		t.Fatalf("an unknown invitation: got %d, want 404", r.Status)
	}
}

// Someone added with a temporary password can do nothing but change it.
func TestTemporaryPasswordMustBeChanged(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	owner := a.SignIn(t)
	const temp = "temporary password 1"
	r := owner.PostForm(t, "/team", "/team/users", url.Values{"email": {"temp@shop.test"}, "role": {checkout.RoleStaff}, "password": {temp}})
	if r.Status != http.StatusCreated {
		t.Fatalf("add: got %d, want 201: %s", r.Status, r.Body)
	}
	m := signIn(t, a, "temp@shop.test", temp, "/account")
	if r := m.Get(t, "/orders"); r.Status != http.StatusSeeOther || r.Location != "/account" {
		t.Fatalf("orders before the password is changed: got %d to %q, want 303 to /account", r.Status, r.Location)
	}
	if r := m.PostForm(t, "/account", "/orders", url.Values{"amount": {"1.00"}}); r.Status != http.StatusForbidden {
		t.Fatalf("create an order before the password is changed: got %d, want 403", r.Status)
	}
	if r := m.PostForm(t, "/account", "/account/password", url.Values{"current": {temp}, "new": {"my very own password"}}); r.Status != http.StatusOK {
		t.Fatalf("change the password: got %d: %s", r.Status, r.Body)
	}
	if r := m.Get(t, "/orders"); r.Status != http.StatusOK {
		t.Fatalf("orders after the change: got %d, want 200", r.Status)
	}
	signIn(t, a, "temp@shop.test", "my very own password", "/orders")
}

// memberID is the id of the team member with email.
func memberID(t *testing.T, a *apptest.App, email string) string {
	t.Helper()
	u, err := a.DB.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(u.ID, 10)
}

// Disabling someone ends their sessions at once; enabled again, they may sign in. The last
// enabled owner can be neither demoted nor disabled.
func TestDisableEndsSessionsAndAnOwnerStays(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	owner := a.SignIn(t)
	staff := mustAddMember(t, a, "staff@shop.test", checkout.RoleStaff)
	id := memberID(t, a, "staff@shop.test")
	if r := owner.PostForm(t, "/team", "/team/users/"+id+"/disable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable: got %d: %s", r.Status, r.Body)
	}
	if r := staff.Get(t, "/orders"); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("the disabled user's next request: got %d to %q, want 303 to /login", r.Status, r.Location)
	}
	m := a.NewMerchant()
	if r := m.PostForm(t, "/login", "/login", url.Values{"email": {"staff@shop.test"}, "password": {"a long enough password"}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign in while disabled: got %d, want 403", r.Status)
	}
	if r := owner.PostForm(t, "/team", "/team/users/"+id+"/enable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("enable: got %d: %s", r.Status, r.Body)
	}
	signIn(t, a, "staff@shop.test", "a long enough password", "/orders")

	me := memberID(t, a, app.DemoEmail)
	for _, action := range []string{"disable", "role"} {
		r := owner.PostForm(t, "/team", "/team/users/"+me+"/"+action, url.Values{"role": {checkout.RoleStaff}})
		if r.Status != http.StatusConflict || apptest.Text(r.Body, "team-error") == "" {
			t.Fatalf("%s the last owner: got %d, want 409 with the reason: %s", action, r.Status, r.Body)
		}
	}
	if r := owner.Get(t, "/team"); r.Status != http.StatusOK {
		t.Fatalf("the owner after the refusals: got %d", r.Status)
	}
}

// auditRow is one line of the audit page.
type auditRow struct{ actor, action, subject, address string }

var auditRowRE = regexp.MustCompile(`data-testid="audit-row" data-action="([^"]*)" data-subject="([^"]*)" data-actor="([^"]*)"[^>]*>(?:.|\n)*?data-testid="audit-address">([^<]*)<`)

func auditRows(t *testing.T, m *apptest.Merchant, path string) []auditRow {
	t.Helper()
	r := m.Get(t, path)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: got %d, want 200", path, r.Status)
	}
	var rows []auditRow
	for _, s := range auditRowRE.FindAllStringSubmatch(r.Body, -1) {
		rows = append(rows, auditRow{actor: html.UnescapeString(s[3]), action: html.UnescapeString(s[1]),
			subject: html.UnescapeString(s[2]), address: s[4]})
	}
	if len(rows) != apptest.Count(r.Body, "audit-row") {
		t.Fatalf("%s: read %d of %d rows", path, len(rows), apptest.Count(r.Body, "audit-row"))
	}
	return rows
}

// Each action the audit log is for, done through the pages, is found on the audit page: who,
// what, to what, from which address.
func TestAuditLogShowsEachAction(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	wrong := a.NewMerchant()
	if r := wrong.PostForm(t, "/login", "/login", url.Values{"email": {app.DemoEmail}, "password": {"not the password"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d", r.Status)
	}
	owner := a.SignIn(t)
	o := owner.MustCreateOrder(t, "2.50", "Audited", a.PayerBanqs(t)[0].GUID)
	oid := strconv.FormatInt(o.ID, 10)
	if r := owner.PostForm(t, "/orders/"+oid, "/orders/"+oid+"/retry", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("retry: got %d", r.Status)
	}
	if r := owner.PostForm(t, "/orders/"+oid, "/orders/"+oid+"/cancel", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("cancel: got %d: %s", r.Status, r.Body)
	}
	var hook checkout.InboxWebhook
	deadline := time.Now().Add(20 * time.Second)
	for hook.ID == "" && time.Now().Before(deadline) {
		hooks, _, err := a.DB.ListWebhooks(context.Background(), checkout.WebhookFilter{OrderID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) > 0 {
			hook = hooks[0]
		} else {
			time.Sleep(20 * time.Millisecond) // polling for the sandbox's webhook
		}
	}
	if hook.ID == "" {
		t.Fatal("no webhook about the order arrived")
	}
	if r := owner.PostForm(t, "/webhook-log", "/webhook-log/"+url.PathEscape(hook.ID)+"/reprocess", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("reprocess: got %d: %s", r.Status, r.Body)
	}
	invitePath(t, owner, "invited@shop.test", checkout.RoleViewer)
	if r := owner.PostForm(t, "/team", "/team/users", url.Values{"email": {"added@shop.test"}, "role": {checkout.RoleStaff}, "password": {"temporary password 1"}}); r.Status != http.StatusCreated {
		t.Fatalf("add: got %d", r.Status)
	}
	added := memberID(t, a, "added@shop.test")
	for _, step := range []string{"role", "disable", "enable"} {
		if r := owner.PostForm(t, "/team", "/team/users/"+added+"/"+step, url.Values{"role": {checkout.RoleViewer}}); r.Status != http.StatusSeeOther {
			t.Fatalf("%s: got %d: %s", step, r.Status, r.Body)
		}
	}
	owner.CreateAPIKey(t, "till", checkout.ScopeOrdersRead)
	keys, err := a.DB.APIKeys(context.Background()) // newest first
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %v, %v", keys, err)
	}
	kid, tillPrefix := strconv.FormatInt(keys[0].ID, 10), keys[0].Prefix
	if r := owner.PostForm(t, "/account/api-keys", "/account/api-keys/"+kid+"/revoke", url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("revoke: got %d", r.Status)
	}
	eid, _ := addEndpoint(t, owner, "https://shop.example.com/hooks", "order.paid")
	if r := owner.PostForm(t, "/notifications/"+eid, "/notifications/"+eid+"/disable", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable the endpoint: got %d: %s", r.Status, r.Body)
	}

	// Over the API, with a key: the key is who did it; a replay with the same Idempotency-Key
	// did nothing again and is not logged again.
	apiKey := owner.CreateAPIKey(t, "shop", checkout.ScopeEndpointsWrite, checkout.ScopeOrdersWrite)
	keys, err = a.DB.APIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	apiActor := "API key " + keys[0].Prefix + " (shop)"
	// An order made over the API, then asked for again by its reference (answered 200, nothing
	// made) and again with the first request's Idempotency-Key (a replay), then cancelled.
	shop := a.NewAPIClient(t, apiKey)
	orderBody := `{"amount": "4.00", "description": "Audited over the API", "reference": "audit-1"}`
	replay := http.Header{"Idempotency-Key": {"audit-order"}}
	apiOrder := shop.MustCreate(t, orderBody, replay)
	for _, h := range []http.Header{nil, replay} {
		if r := shop.Do(t, apptest.APIRequest{Method: http.MethodPost, Path: "/api/v1/orders", Body: []byte(orderBody), Header: h, Valid: true}); r.Status >= 300 {
			t.Fatalf("the same order again: got %d %s", r.Status, r.Body)
		}
	}
	if r := shop.Do(t, apptest.APIRequest{Method: http.MethodPost, Path: "/api/v1/orders/" + apiOrder.ID + "/cancel", Valid: true}); r.Status != http.StatusOK {
		t.Fatalf("cancel over the API: got %d %s", r.Status, r.Body)
	}
	var apiID string
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/v1/endpoints", strings.NewReader(`{"url": "https://shop.example.com/api-hooks"}`))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "audit-once")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ep struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&ep)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || ep.ID == "" {
			t.Fatalf("create an endpoint over the API: got %d, id %q", resp.StatusCode, ep.ID)
		}
		apiID = ep.ID
	}
	req, _ := http.NewRequest(http.MethodDelete, a.URL+"/api/v1/endpoints/"+apiID, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("delete an endpoint over the API: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}

	rows := auditRows(t, owner, "/audit")
	owns := app.DemoEmail
	count := func(action string) int {
		n := 0
		for _, r := range rows {
			if r.actor == apiActor && r.action == action {
				n++
			}
		}
		return n
	}
	if created := count(checkout.AuditEndpointCreated); created != 1 {
		t.Errorf("endpoint created over the API: %d rows, want 1 (the replay is not logged)", created)
	}
	if ordersCreated := count(checkout.AuditOrderCreated); ordersCreated != 1 {
		t.Errorf("order created over the API: %d rows, want 1 (asking again by reference or key made nothing)", ordersCreated)
	}
	for _, want := range []auditRow{
		{"", checkout.AuditSignInFailed, app.DemoEmail, ""},
		{owns, checkout.AuditSignIn, "", ""},
		{owns, checkout.AuditOrderCreated, "order " + oid, ""},
		{owns, checkout.AuditOrderRetried, "order " + oid, ""},
		{owns, checkout.AuditOrderCancelled, "order " + oid, ""},
		{owns, checkout.AuditWebhookReprocess, "webhook " + hook.ID, ""},
		{owns, checkout.AuditInvited, "invited@shop.test (viewer)", ""},
		{owns, checkout.AuditUserAdded, "added@shop.test (staff)", ""},
		{owns, checkout.AuditRoleChanged, "added@shop.test → viewer", ""},
		{owns, checkout.AuditUserDisabled, "added@shop.test", ""},
		{owns, checkout.AuditUserEnabled, "added@shop.test", ""},
		{owns, checkout.AuditAPIKeyCreated, tillPrefix + " (till)", ""},
		{owns, checkout.AuditAPIKeyRevoked, "key " + kid, ""},
		{owns, checkout.AuditEndpointCreated, "endpoint " + eid + " https://shop.example.com/hooks", ""},
		{owns, checkout.AuditEndpointChanged, "endpoint " + eid + " (disable)", ""},
		{apiActor, checkout.AuditOrderCreated, "order " + apiOrder.ID, ""},
		{apiActor, checkout.AuditOrderCancelled, "order " + apiOrder.ID, ""},
		{apiActor, checkout.AuditEndpointCreated, "endpoint " + apiID + " https://shop.example.com/api-hooks", ""},
		{apiActor, checkout.AuditEndpointChanged, "endpoint " + apiID, ""},
	} {
		found := false
		for _, r := range rows {
			if r.actor == want.actor && r.action == want.action && r.subject == want.subject {
				found = true
				if r.address != "127.0.0.1" {
					t.Errorf("%s %s: from %q, want 127.0.0.1", want.action, want.subject, r.address)
				}
			}
		}
		if !found {
			t.Errorf("the audit page has no %q by %q of %q; it has %+v", want.action, want.actor, want.subject, rows)
		}
	}
	// Newest first: the last action is on top.
	if len(rows) == 0 || rows[0].action != checkout.AuditEndpointChanged || rows[0].actor != apiActor {
		t.Errorf("first row: got %+v, want the endpoint deleted over the API, the newest", rows[0])
	}
}

// The audit page shows 50 entries, newest first, and links to the older ones.
func TestAuditPagePages(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	owner := a.SignIn(t) // the first entry: signed in
	for i := range 60 {
		if err := a.DB.AddAudit(context.Background(), checkout.AuditEntry{Actor: "x@shop.test", Action: checkout.AuditOrderCreated,
			Subject: "order " + strconv.Itoa(i+1), Address: "192.0.2.7"}); err != nil {
			t.Fatal(err)
		}
	}
	first := auditRows(t, owner, "/audit")
	if len(first) != 50 || first[0].subject != "order 60" || first[49].subject != "order 11" {
		t.Fatalf("first page: got %d rows from %+v, want 50 from order 60 to order 11", len(first), first[0])
	}
	r := owner.Get(t, "/audit")
	older, ok := apptest.Attr(r.Body, "audit-older", "href")
	if !ok {
		t.Fatal("no link to older entries")
	}
	second := auditRows(t, owner, html.UnescapeString(older))
	if len(second) != 11 || second[0].subject != "order 10" || second[10].action != checkout.AuditSignIn {
		t.Fatalf("second page: got %+v, want orders 10 to 1, then the sign-in", second)
	}
	if apptest.Count(owner.Get(t, html.UnescapeString(older)).Body, "audit-older") != 0 {
		t.Error("the last page links to older entries")
	}
}

var (
	formTag   = regexp.MustCompile(`<form\b[^>]*>`)
	attrValue = func(name string) *regexp.Regexp { return regexp.MustCompile(`\s` + name + `="([^"]*)"`) }
	methodAt  = attrValue("method")
	actionAt  = attrValue("action")
	formActAt = attrValue("formaction")
	hrefAt    = attrValue("href")
)

// routeOf returns the routeAccess row that serves method and path, the most literal one when
// several patterns match (/orders/new rather than /orders/:id).
func routeOf(method, path string) (row, access string) {
	best := -1
	for r, a := range routeAccess {
		m, pattern, _ := strings.Cut(r, " ")
		if m != method && m != "*" {
			continue
		}
		re := "^"
		last := 0
		for _, at := range routeParam.FindAllStringIndex(pattern, -1) {
			re += regexp.QuoteMeta(pattern[last:at[0]])
			if pattern[at[0]] == '*' {
				re += ".*"
			} else {
				re += "[^/]+"
			}
			last = at[1]
		}
		re += regexp.QuoteMeta(pattern[last:]) + "$"
		if !regexp.MustCompile(re).MatchString(path) {
			continue
		}
		if literal := len(routeParam.ReplaceAllString(pattern, "")); literal > best {
			best, row, access = literal, r, a
		}
	}
	return row, access
}

// offers lists what a page lets its reader do: every form it would send ("POST /orders/7/cancel")
// and every link of this site ("GET /orders/new"), without queries.
func offers(page string) []string {
	var out []string
	for _, tag := range formTag.FindAllString(page, -1) {
		method := "GET"
		if m := methodAt.FindStringSubmatch(tag); m != nil {
			method = strings.ToUpper(m[1])
		}
		if m := actionAt.FindStringSubmatch(tag); m != nil {
			out = append(out, method+" "+html.UnescapeString(m[1]))
		}
	}
	for _, m := range formActAt.FindAllStringSubmatch(page, -1) {
		out = append(out, "POST "+html.UnescapeString(m[1]))
	}
	for _, m := range hrefAt.FindAllStringSubmatch(page, -1) {
		if u := html.UnescapeString(m[1]); strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
			out = append(out, "GET "+u)
		}
	}
	for i, o := range out {
		out[i], _, _ = strings.Cut(o, "?")
	}
	return out
}

// A page offers nobody a button or a link the server would refuse them: a viewer sees no "New
// order", no Cancel or Send again, no Reprocess; staff no Reprocess.
func TestPagesOfferOnlyWhatTheRoleMayDo(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	owner := a.SignIn(t)
	payers := a.PayerBanqs(t)
	waiting := owner.MustCreateOrder(t, "3.20", "Espresso", payers[0].GUID)
	hooks := func() []checkout.InboxWebhook {
		hs, _, err := a.DB.ListWebhooks(context.Background(), checkout.WebhookFilter{OrderID: waiting.ID, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(hooks()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(hooks()) == 0 {
		t.Fatal("no webhook about the order arrived within 10s")
	}
	pages := []string{"/orders", "/orders/" + strconv.FormatInt(waiting.ID, 10), "/webhook-log",
		"/webhook-log/" + url.PathEscape(hooks()[0].ID), "/account"}
	members := map[string]*apptest.Merchant{
		checkout.RoleOwner:  owner,
		checkout.RoleStaff:  mustAddMember(t, a, "staff@shop.test", checkout.RoleStaff),
		checkout.RoleViewer: mustAddMember(t, a, "viewer@shop.test", checkout.RoleViewer),
	}
	for _, role := range checkout.Roles {
		offered := map[string]bool{}
		for _, page := range pages {
			r := members[role].Get(t, page)
			if r.Status != http.StatusOK {
				t.Fatalf("%s as %s: got %d", page, role, r.Status)
			}
			for _, o := range offers(r.Body) {
				method, path, _ := strings.Cut(o, " ")
				row, access := routeOf(method, path)
				switch {
				case row == "":
					t.Errorf("%s as %s offers %s, which no route serves", page, role, o)
				case access != "public" && access != "key" && !checkout.RoleAtLeast(role, access):
					t.Errorf("%s as %s offers %s, which the server refuses below %s", page, role, o, access)
				}
				offered[row] = true
			}
		}
		// The test sees what it should: the owner is offered every action of these pages.
		if role == checkout.RoleOwner {
			for _, row := range []string{"GET /orders/new", "POST /orders/:id/cancel", "POST /webhook-log/:id/reprocess"} {
				if !offered[row] {
					t.Errorf("the owner is not offered %s on %v", row, pages)
				}
			}
		}
	}
}
