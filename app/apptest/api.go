package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/banq-checkout/checkout/api"
)

// CreateAPIKey makes an API key on Account → API keys and returns it as the page shows it once.
func (m *Merchant) CreateAPIKey(tb testing.TB, name string, scopes ...string) string {
	tb.Helper()
	r := m.PostForm(tb, "/account/api-keys", "/account/api-keys", url.Values{"name": {name}, "scopes": scopes})
	key := strings.TrimSpace(Text(r.Body, "new-key"))
	if r.Status != http.StatusCreated || key == "" {
		tb.Fatalf("create API key: got %d and key %q, want 201 with the key: %s", r.Status, key, r.Body)
	}
	return key
}

// APIClient calls the shop API with a key and checks each request it is told is valid, and
// every answer, against api/openapi.yaml.
type APIClient struct {
	URL    string
	Key    string
	Client *http.Client
	router routers.Router
}

// NewAPIClient returns a client of the app's API with key.
func (a *App) NewAPIClient(tb testing.TB, key string) *APIClient {
	tb.Helper()
	return &APIClient{URL: a.URL, Key: key, Client: &http.Client{Timeout: 30 * time.Second}, router: OpenAPIRouter(tb, a.URL)}
}

// OpenAPIDoc loads and validates api/openapi.yaml.
func OpenAPIDoc(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		tb.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("api/openapi.yaml is not a valid document: %v", err)
	}
	return doc
}

// OpenAPIRouter routes requests to base by api/openapi.yaml.
func OpenAPIRouter(tb testing.TB, base string) routers.Router {
	tb.Helper()
	doc := OpenAPIDoc(tb)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return router
}

// APIResponse is an answer of the API.
type APIResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v.
func (r APIResponse) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem is an RFC 9457 answer.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// APIRequest is a request to send; Valid says the document must accept it (requests made to
// test refusals are not checked, but their answers are).
type APIRequest struct {
	Method, Path string
	Body         []byte
	ContentType  string // application/json when Body is set and this is empty
	Header       http.Header
	Valid        bool
}

// Do sends req and checks it (when Valid) and its answer against the document.
func (c *APIClient) Do(tb testing.TB, req APIRequest) APIResponse {
	tb.Helper()
	ctx := context.Background()
	newReq := func() *http.Request {
		var body io.Reader
		if req.Body != nil {
			body = bytes.NewReader(req.Body)
		}
		r, err := http.NewRequestWithContext(ctx, req.Method, c.URL+req.Path, body)
		if err != nil {
			tb.Fatal(err)
		}
		for k, vs := range req.Header {
			r.Header[k] = vs
		}
		if req.Body != nil && r.Header.Get("Content-Type") == "" {
			ct := req.ContentType
			if ct == "" {
				ct = "application/json"
			}
			r.Header.Set("Content-Type", ct)
		}
		if c.Key != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+c.Key)
		}
		return r
	}
	check := newReq()
	route, params, err := c.router.FindRoute(check)
	if err != nil {
		tb.Fatalf("%s %s is not in api/openapi.yaml: %v", req.Method, req.Path, err)
	}
	input := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if req.Valid {
		if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
			tb.Fatalf("%s %s: the request does not follow api/openapi.yaml: %v", req.Method, req.Path, err)
		}
	}
	resp, err := c.Client.Do(newReq())
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: input, Status: resp.StatusCode,
		Header: resp.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Fatalf("%s %s answered %d %s, which does not follow api/openapi.yaml: %v", req.Method, req.Path, resp.StatusCode, body, err)
	}
	return APIResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// APIOrder is an order as the API answers it.
type APIOrder struct {
	ID          string            `json:"id"`
	Reference   *string           `json:"reference"`
	State       string            `json:"state"`
	Amount      string            `json:"amount"`
	Currency    string            `json:"currency"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
	PayerBanq   *string           `json:"payer_banq"`
	PayURL      string            `json:"pay_url"`
	PaymentLink *string           `json:"payment_link"`
	ReturnURL   *string           `json:"return_url"`
	CancelURL   *string           `json:"cancel_url"`
	Error       *string           `json:"error"`
}

// MustCreate creates an order from body (JSON) and returns it.
func (c *APIClient) MustCreate(tb testing.TB, body string, header http.Header) APIOrder {
	tb.Helper()
	r := c.Do(tb, APIRequest{Method: http.MethodPost, Path: "/api/v1/orders", Body: []byte(body), Header: header, Valid: true})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create order: got %d %s, want 201", r.Status, r.Body)
	}
	var o APIOrder
	r.Decode(tb, &o)
	return o
}
