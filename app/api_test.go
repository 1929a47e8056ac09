package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/handlers"
)

const ordersPath = "/api/v1/orders"

func apiPost(path, body string) apptest.APIRequest {
	r := apptest.APIRequest{Method: http.MethodPost, Path: path, Valid: true}
	if body != "" {
		r.Body = []byte(body)
	}
	return r
}

func apiGet(path string) apptest.APIRequest {
	return apptest.APIRequest{Method: http.MethodGet, Path: path, Valid: true}
}

func TestAPICreateReadListCancel(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	c := a.NewAPIClient(t, a.SignIn(t).CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite))

	// An order paid by link: Banq's get-paid-link answers the link, kept on the order.
	r := c.Do(t, apiPost(ordersPath, `{"amount": "12.50", "description": "Two coffees", "reference": "cart-1",
		"metadata": {"cart": "1", "channel": "web"}, "expires_in_minutes": 20,
		"return_url": "https://shop.example/thanks", "cancel_url": "https://shop.example/cart"}`))
	if r.Status != http.StatusCreated {
		t.Fatalf("create: got %d %s, want 201", r.Status, r.Body)
	}
	var o apptest.APIOrder
	r.Decode(t, &o)
	if r.Header.Get("Location") != ordersPath+"/"+o.ID {
		t.Fatalf("Location %q, want %s/%s", r.Header.Get("Location"), ordersPath, o.ID)
	}
	if o.State != "waiting" || o.Amount != "12.50" || o.PayerBanq != nil || o.PaymentLink == nil ||
		!strings.HasPrefix(*o.PaymentLink, a.SandboxURL+"/sandbox/pay/") || o.Metadata["channel"] != "web" ||
		!strings.HasPrefix(o.PayURL, a.URL+"/pay/") || *o.Reference != "cart-1" {
		t.Fatalf("got %+v, want a waiting link order with its link, metadata and pay_url", o)
	}

	// An order for a payer the shop knows: a get-paid-direct request to that banq.
	payer := a.PayerBanqs(t)[0].GUID
	direct := c.MustCreate(t, `{"amount": "3", "description": "Tea", "payer_banq": "`+payer+`"}`, nil)
	if direct.PayerBanq == nil || *direct.PayerBanq != payer || direct.PaymentLink != nil || direct.State != "waiting" {
		t.Fatalf("got %+v, want a waiting direct order to %s", direct, payer)
	}

	var got apptest.APIOrder
	c.Do(t, apiGet(ordersPath+"/"+o.ID)).Decode(t, &got)
	if got.ID != o.ID || got.Description != "Two coffees" || got.ReturnURL == nil || *got.ReturnURL != "https://shop.example/thanks" {
		t.Fatalf("read back %+v, want order %s", got, o.ID)
	}

	// The same reference and body: the same order (200); another body: 409.
	again := c.Do(t, apiPost(ordersPath, `{"description": "Two coffees", "amount": "12.50", "reference": "cart-1",
		"metadata": {"channel": "web", "cart": "1"}, "expires_in_minutes": 20,
		"return_url": "https://shop.example/thanks", "cancel_url": "https://shop.example/cart"}`))
	again.Decode(t, &got)
	if again.Status != http.StatusOK || got.ID != o.ID {
		t.Fatalf("the same reference and body again: got %d %s, want 200 with order %s", again.Status, again.Body, o.ID)
	}

	// Newest first, in pages, filtered.
	for i := range 3 {
		c.MustCreate(t, fmt.Sprintf(`{"amount": "1.0%d", "description": "Page %d"}`, i, i), nil)
	}
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		path := ordersPath + "?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var list struct {
			Data       []apptest.APIOrder `json:"data"`
			NextCursor *string            `json:"next_cursor"`
		}
		c.Do(t, apiGet(path)).Decode(t, &list)
		for _, o := range list.Data {
			ids = append(ids, o.ID)
		}
		if list.NextCursor == nil {
			break
		}
		cursor = *list.NextCursor
		if page > 5 {
			t.Fatal("the pages do not end")
		}
	}
	if len(ids) != 5 || !slices.IsSortedFunc(ids, func(x, y string) int { return atoi(t, y) - atoi(t, x) }) {
		t.Fatalf("paged ids %v, want 5 orders newest first", ids)
	}
	var list struct {
		Data []apptest.APIOrder `json:"data"`
	}
	c.Do(t, apiGet(ordersPath+"?reference=cart-1&state=waiting&created_after=2020-01-01T00:00:00Z")).Decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != o.ID {
		t.Fatalf("filtered by reference: got %+v, want order %s", list.Data, o.ID)
	}
	c.Do(t, apiGet(ordersPath+"?created_before=2020-01-01T00:00:00Z")).Decode(t, &list)
	if len(list.Data) != 0 {
		t.Fatalf("orders created before 2020: got %d, want none", len(list.Data))
	}

	var canceled apptest.APIOrder
	cr := c.Do(t, apiPost(ordersPath+"/"+o.ID+"/cancel", ""))
	cr.Decode(t, &canceled)
	if cr.Status != http.StatusOK || canceled.State != "canceled" {
		t.Fatalf("cancel: got %d %s, want 200 canceled", cr.Status, cr.Body)
	}
	if cr := c.Do(t, apiPost(ordersPath+"/"+o.ID+"/cancel", "")); cr.Status != http.StatusConflict {
		t.Fatalf("cancel again: got %d %s, want 409", cr.Status, cr.Body)
	}
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("order id %q is not a number", s)
	}
	return n
}

// TestAPIErrors covers each class of refusal: every answer is a problem that follows the document.
func TestAPIErrors(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	m := a.SignIn(t)
	write := m.CreateAPIKey(t, "writer", checkout.ScopeOrdersWrite)
	read := m.CreateAPIKey(t, "reader", checkout.ScopeOrdersRead)
	both := m.CreateAPIKey(t, "both", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)
	revoked := m.CreateAPIKey(t, "revoked", checkout.ScopeOrdersRead)
	revokeKey(t, m, revoked)
	existing := a.NewAPIClient(t, both).MustCreate(t, `{"amount": "5", "description": "Taken", "reference": "R-1"}`, nil)
	a.NewAPIClient(t, both).MustCreate(t, `{"amount": "5", "description": "First", "reference": "R-2"}`,
		http.Header{"Idempotency-Key": {"idem-1"}})

	unknownKey := []byte(both)
	unknownKey[len(unknownKey)-1] ^= 1 // same prefix, another secret
	wrongCase := strings.ToUpper(both[:1]) + both[1:]
	big := `{"amount": "1", "description": "` + strings.Repeat("x", 20<<10) + `"}`
	body := func(s string) apptest.APIRequest {
		return apptest.APIRequest{Method: http.MethodPost, Path: ordersPath, Body: []byte(s)}
	}
	withAuth := func(r apptest.APIRequest, auth string) apptest.APIRequest {
		r.Header = http.Header{"Authorization": {auth}}
		return r
	}
	withHeader := func(r apptest.APIRequest, k, v string) apptest.APIRequest {
		r.Header = http.Header{k: {v}}
		return r
	}
	for _, tc := range []struct {
		name       string
		key        string
		req        apptest.APIRequest
		wantStatus int
		wantType   string
		wantFields []string
	}{
		{"no key", "", apiGet(ordersPath), 401, "about:blank", nil},
		{"not bearer", "", withAuth(apiGet(ordersPath), "Basic "+both), 401, "about:blank", nil},
		{"bearer in lower case", "", withAuth(apiPost(ordersPath, `{"amount": "1", "description": "x"}`), "bearer "+read), 403, "about:blank", nil},
		{"not a key", "", withAuth(apiGet(ordersPath), "Bearer nope"), 401, "about:blank", nil},
		{"unknown key", "", withAuth(apiGet(ordersPath), "Bearer "+string(unknownKey)), 401, "about:blank", nil},
		{"key in another case", "", withAuth(apiGet(ordersPath), "Bearer "+wrongCase), 401, "about:blank", nil},
		{"revoked key", revoked, apiGet(ordersPath), 401, "about:blank", nil},
		{"read key creates", read, apiPost(ordersPath, `{"amount": "1", "description": "x"}`), 403, "about:blank", nil},
		{"read key cancels", read, apiPost(ordersPath+"/"+existing.ID+"/cancel", ""), 403, "about:blank", nil},
		{"write key lists", write, apiGet(ordersPath), 403, "about:blank", nil},
		{"unknown fields", both, body(`{"amount": "1", "description": "x", "colour": "red", "size": 2}`), 400,
			"urn:checkout:problem:unknown-fields", []string{"colour", "size"}},
		{"not JSON", both, body(`amount=1`), 400, "urn:checkout:problem:malformed-body", nil},
		{"a JSON array", both, body(`[1]`), 400, "urn:checkout:problem:malformed-body", nil},
		{"amount as a number", both, body(`{"amount": 12.5, "description": "x"}`), 400,
			"urn:checkout:problem:malformed-body", []string{"amount"}},
		{"metadata not strings", both, body(`{"amount": "1", "description": "x", "metadata": {"n": 1}}`), 400,
			"urn:checkout:problem:malformed-body", []string{"metadata"}},
		{"form content type", both, apptest.APIRequest{Method: http.MethodPost, Path: ordersPath,
			Body: []byte(`{"amount": "1", "description": "x"}`), ContentType: "text/plain"}, 415, "about:blank", nil},
		{"no content type", both, apptest.APIRequest{Method: http.MethodPost, Path: ordersPath,
			Body: []byte(`{"amount": "1", "description": "x"}`), ContentType: "application/x-www-form-urlencoded"}, 415, "about:blank", nil},
		{"body over the limit", both, body(big), 413, "about:blank", nil},
		{"wrong values", both, body(`{"amount": "1.234", "description": " ", "expires_in_minutes": 0}`), 422,
			"urn:checkout:problem:validation", []string{"amount", "description", "expires_in_minutes"}},
		{"return URL elsewhere over http", both, body(`{"amount": "1", "description": "x", "return_url": "http://shop.example/ok",
			"cancel_url": "javascript:alert(1)"}`), 422, "urn:checkout:problem:validation", []string{"cancel_url", "return_url"}},
		{"cancel URL without return URL", both, body(`{"amount": "1", "description": "x", "cancel_url": "https://shop.example/no"}`), 422,
			"urn:checkout:problem:validation", []string{"return_url"}},
		{"too much metadata", both, body(`{"amount": "1", "description": "x", "metadata": {` + manyKeys(21) + `}}`), 422,
			"urn:checkout:problem:validation", []string{"metadata"}},
		{"payer name without payer", both, body(`{"amount": "1", "description": "x", "payer_name": "Ada"}`), 422,
			"urn:checkout:problem:validation", []string{"payer_name"}},
		{"reference reused", both, apiPost(ordersPath, `{"amount": "6", "description": "Taken", "reference": "R-1"}`), 409,
			"urn:checkout:problem:reference-conflict", nil},
		{"idempotency key reused", both, withHeader(apiPost(ordersPath, `{"amount": "6", "description": "First", "reference": "R-3"}`),
			"Idempotency-Key", "idem-1"), 422, "urn:checkout:problem:idempotency-key-reused", nil},
		{"idempotency key too long", both, withHeader(body(`{"amount": "6", "description": "x"}`), "Idempotency-Key",
			strings.Repeat("k", 256)), 400, "urn:checkout:problem:malformed-body", []string{"Idempotency-Key"}},
		{"no such order", both, apiGet(ordersPath + "/999999"), 404, "about:blank", nil},
		{"not an order id", both, apptest.APIRequest{Method: http.MethodGet, Path: ordersPath + "/abc"}, 404, "about:blank", nil},
		{"cancel no such order", both, apiPost(ordersPath+"/999999/cancel", ""), 404, "about:blank", nil},
		{"unknown state", both, apptest.APIRequest{Method: http.MethodGet, Path: ordersPath + "?state=lost"}, 400,
			"urn:checkout:problem:validation", []string{"state"}},
		{"bad list parameters", both, apptest.APIRequest{Method: http.MethodGet,
			Path: ordersPath + "?limit=1000&cursor=x&created_after=yesterday&colour=red"}, 400,
			"urn:checkout:problem:validation", []string{"colour", "created_after", "cursor", "limit"}},
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
			if tc.wantStatus == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("a 401 without WWW-Authenticate")
			}
		})
	}
}

func manyKeys(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"k%d": "v"`, i))
	}
	return strings.Join(parts, ", ")
}

func revokeKey(t *testing.T, m *apptest.Merchant, key string) {
	t.Helper()
	page := m.Get(t, "/account/api-keys")
	doc := page.Body
	prefix := key[:11]
	i := strings.Index(doc, `data-key-prefix="`+prefix+`"`)
	j := strings.Index(doc[i:], `/revoke"`)
	if i < 0 || j < 0 {
		t.Fatalf("no revoke form for %s on the keys page", prefix)
	}
	action := doc[i : i+j]
	action = action[strings.LastIndex(action, `"`)+1:] + "/revoke"
	if r := m.PostForm(t, "/account/api-keys", action, url.Values{}); r.Status != http.StatusOK ||
		apptest.Count(r.Body, "key-revoked") != 1 {
		t.Fatalf("revoke %s: got %d, want 200 with the key marked revoked: %s", prefix, r.Status, r.Body)
	}
}

// TestAPIKeysAreShownOnceAndNeverLogged: the page shows a key once, lists it by its prefix
// with when it was last used, and no log line ever holds it, whether it opened the door or not.
func TestAPIKeysAreShownOnceAndNeverLogged(t *testing.T) {
	logs := &syncBuffer{}
	a := apptest.Start(t, apptest.Options{Log: logs})
	m := a.SignIn(t)
	key := m.CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)
	c := a.NewAPIClient(t, key)
	c.MustCreate(t, `{"amount": "1", "description": "Logged?"}`, nil)
	bad := a.NewAPIClient(t, key[:len(key)-1]+"x")
	if r := bad.Do(t, apiGet(ordersPath)); r.Status != http.StatusUnauthorized {
		t.Fatalf("a wrong key: got %d, want 401", r.Status)
	}
	page := m.Get(t, "/account/api-keys").Body
	if strings.Contains(page, key[12:]) {
		t.Fatal("the keys page shows the key again")
	}
	if apptest.Count(page, "key-row") != 1 || apptest.Count(page, "key-last-used") != 1 || !strings.Contains(page, key[:11]) {
		t.Fatalf("the keys page does not list the key by its prefix with its last use: %s", page)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), key[12:]) || strings.Contains(logs.String(), key[12:len(key)-1]) {
		t.Fatal("the logs hold the API key")
	}
	if !strings.Contains(logs.String(), "/api/v1/orders") {
		t.Fatal("the logs hold no API request at all: the check above proves nothing")
	}
}

func TestAPIRateLimitPerKey(t *testing.T) {
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.APIRate = handlers.Rate{PerSecond: 0.01, Burst: 3}
	}})
	m := a.SignIn(t)
	one := a.NewAPIClient(t, m.CreateAPIKey(t, "one", checkout.ScopeOrdersRead))
	for i := range 3 {
		if r := one.Do(t, apiGet(ordersPath)); r.Status != http.StatusOK {
			t.Fatalf("request %d: got %d, want 200", i+1, r.Status)
		}
	}
	r := one.Do(t, apiGet(ordersPath))
	var p apptest.Problem
	r.Decode(t, &p)
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || err != nil || secs < 1 ||
		p.Type != "urn:checkout:problem:rate-limited" {
		t.Fatalf("the 4th request: got %d, Retry-After %q, %+v; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"), p)
	}
	// Another key has a bucket of its own.
	other := a.NewAPIClient(t, m.CreateAPIKey(t, "other", checkout.ScopeOrdersRead))
	if r := other.Do(t, apiGet(ordersPath)); r.Status != http.StatusOK {
		t.Fatalf("another key: got %d, want 200", r.Status)
	}
}

// TestAPIIdempotencyKeySurvivesRestart: the answer to an Idempotency-Key is in the database,
// so a retry after the checkout restarted gets it again, and creates nothing.
func TestAPIIdempotencyKeySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	a := apptest.Start(t, apptest.Options{Dir: dir})
	key := a.SignIn(t).CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)
	req := apiPost(ordersPath, `{"amount": "9.99", "description": "Once only"}`)
	req.Header = http.Header{"Idempotency-Key": {"3f1c2a7e-order-77"}}
	first := a.NewAPIClient(t, key).Do(t, req)
	if first.Status != http.StatusCreated {
		t.Fatalf("first: got %d %s, want 201", first.Status, first.Body)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	b := apptest.Start(t, apptest.Options{Dir: dir})
	c := b.NewAPIClient(t, key)
	again := c.Do(t, req)
	if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after a restart: got %d %s, want the first answer again: 201 %s", again.Status, again.Body, first.Body)
	}
	orders, _, err := b.DB.ListOrders(context.Background(), checkout.OrderFilter{})
	if err != nil || len(orders) != 1 {
		t.Fatalf("got %d orders (%v), want 1", len(orders), err)
	}
	other := req
	other.Body = []byte(`{"amount": "19.99", "description": "Once only"}`)
	if r := c.Do(t, other); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("the same key with another body: got %d %s, want 422", r.Status, r.Body)
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	resp, err := http.Get(a.URL + "/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(bytes.Buffer)
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(buf.String(), "openapi: 3.1") {
		t.Fatalf("got %d %.40q, want the document", resp.StatusCode, buf.String())
	}
	// Every API route is in the document, and every operation of the document is a route.
	router := apptest.OpenAPIRouter(t, a.URL)
	routes := map[string]bool{}
	for _, rt := range a.Echo.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == "echo_route_not_found" {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":id", "1")
		routes[rt.Method+" "+path] = true
		req, _ := http.NewRequest(rt.Method, a.URL+path, nil)
		if _, _, err := router.FindRoute(req); err != nil {
			t.Errorf("the route %s %s is not in api/openapi.yaml: %v", rt.Method, rt.Path, err)
		}
	}
	doc := apptest.OpenAPIDoc(t)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if key := method + " " + strings.ReplaceAll(path, "{id}", "1"); !routes[key] {
				t.Errorf("api/openapi.yaml has %s %s, which the app does not serve", method, path)
			}
		}
	}
}

// TestAPIConcurrentRetriesCreateOneOrder: a shop retrying at once (the same Idempotency-Key, or
// the same reference) gets one order, never two.
func TestAPIConcurrentRetriesCreateOneOrder(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	key := a.SignIn(t).CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite)
	send := func(body, idem string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, a.URL+ordersPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		b := new(bytes.Buffer)
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	for _, tc := range []struct {
		name, body, idem string
		allowed          map[int]bool
	}{
		{"same Idempotency-Key", `{"amount": "2.50", "description": "Muffin"}`, "k-concurrent", map[int]bool{201: true, 409: true}},
		{"same reference", `{"amount": "3.50", "description": "Scone", "reference": "cart-race"}`, "", map[int]bool{201: true, 200: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, _ := a.DB.ListOrders(context.Background(), checkout.OrderFilter{Limit: 500})
			var wg sync.WaitGroup
			start := make(chan struct{})
			statuses := make([]int, 8)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					statuses[i], _ = send(tc.body, tc.idem)
				}()
			}
			close(start)
			wg.Wait()
			after, _, _ := a.DB.ListOrders(context.Background(), checkout.OrderFilter{Limit: 500})
			if len(after)-len(before) != 1 {
				t.Fatalf("8 requests at once made %d orders, want 1 (statuses %v)", len(after)-len(before), statuses)
			}
			created := 0
			for _, s := range statuses {
				if !tc.allowed[s] {
					t.Fatalf("statuses %v, want only %v", statuses, tc.allowed)
				}
				if s == http.StatusCreated && tc.idem == "" {
					created++
				}
			}
			if tc.idem == "" && created != 1 {
				t.Fatalf("statuses %v: want one 201 and the rest 200", statuses)
			}
		})
	}
}
