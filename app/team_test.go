package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
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

	"GET /api/openapi.yaml":          "public",
	"POST /api/v1/orders":            "key",
	"GET /api/v1/orders":             "key",
	"GET /api/v1/orders/:id":         "key",
	"POST /api/v1/orders/:id/cancel": "key",

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
