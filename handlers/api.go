package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/api"
	"github.com/banq-checkout/checkout/checkout"
)

// The shop's API: JSON under /api/v1, described by api/openapi.yaml. Keys, scopes and the rate
// limit are middleware listed in Routes; errors are RFC 9457 problems (apiProblem).

// Limits of the API's requests.
const (
	apiBodyLimit      = 16 << 10
	maxReference      = 100
	maxMetadata       = 20
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxURL            = 2000
	maxIdempotencyKey = 255
	// idempotencyKeep is how long an Idempotency-Key's answer is kept: Stripe's 24 hours, and a
	// day more so that a retry at the edge still finds it.
	idempotencyKeep = 48 * time.Hour
	// idempotencyStale is when an unanswered claim of a key is taken to have died with its
	// process: a create waits for Banq at most CreateTimeout (15s).
	idempotencyStale = time.Minute
)

const apiKeyCtx = "api_key"

// Problem types beyond the status's own meaning (about:blank).
const (
	problemValidation    = "urn:checkout:problem:validation"
	problemUnknownFields = "urn:checkout:problem:unknown-fields"
	problemMalformed     = "urn:checkout:problem:malformed-body"
	problemReference     = "urn:checkout:problem:reference-conflict"
	problemIdempotency   = "urn:checkout:problem:idempotency-key-reused"
	problemInProgress    = "urn:checkout:problem:idempotency-key-in-progress"
	problemRateLimited   = "urn:checkout:problem:rate-limited"
)

// apiProblem is an RFC 9457 problem; returned as an error, the error handler writes it.
type apiProblem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Errors []fieldProblem `json:"errors,omitempty"`
}

type fieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p *apiProblem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

func newProblem(status int, typ, detail string, fields ...fieldProblem) *apiProblem {
	if typ == "" {
		typ = "about:blank"
	}
	return &apiProblem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
}

// problemFor turns any error of an API route into the problem that answers it.
func problemFor(err error) *apiProblem {
	var p *apiProblem
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("The body is over %d bytes.", apiBodyLimit))
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if he.Code == http.StatusTooManyRequests {
			return newProblem(he.Code, problemRateLimited, msg)
		}
		return newProblem(he.Code, "", msg)
	}
	msg := checkout.ErrorMessage(err)
	var ce *checkout.Error
	errors.As(err, &ce)
	switch checkout.ErrorCode(err) {
	case checkout.ENotFound:
		return newProblem(http.StatusNotFound, "", "There is no such order.")
	case checkout.EInvalid:
		p := newProblem(http.StatusUnprocessableEntity, problemValidation, msg)
		for _, f := range sortedKeys(ce.Fields) {
			p.Errors = append(p.Errors, fieldProblem{Field: apiField(f), Detail: ce.Fields[f]})
		}
		return p
	case checkout.EConflict:
		return newProblem(http.StatusConflict, "", msg)
	case checkout.EUnavailable:
		return newProblem(http.StatusServiceUnavailable, "", msg)
	case checkout.EUnauthorized:
		return newProblem(http.StatusUnauthorized, "", msg)
	}
	return newProblem(http.StatusInternalServerError, "", msg)
}

// apiField names the checkout's form fields as the API's body does.
func apiField(f string) string {
	switch f {
	case "types":
		return "event_types"
	case "customer":
		return "payer_banq"
	case "expires":
		return "expires_in_minutes"
	}
	return f
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeProblem writes p as application/problem+json.
func writeProblem(c echo.Context, p *apiProblem) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="checkout API"`)
	}
	return c.Blob(p.Status, "application/problem+json", body)
}

// apiKeyAuth checks the bearer key: missing, unknown or revoked is 401; a key over its rate is
// 429 with Retry-After; a key without scope is 403. The key itself is never logged or kept.
func (h *Handlers) apiKeyAuth(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, secret, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") { // schemes are case-insensitive (RFC 9110)
				return newProblem(http.StatusUnauthorized, "", "Send an API key as Authorization: Bearer <key>.")
			}
			prefix, ok := checkout.APIKeyPrefix(strings.TrimSpace(secret))
			if !ok {
				return newProblem(http.StatusUnauthorized, "", "That is not an API key of this checkout.")
			}
			k, err := h.store.APIKeyByPrefix(ctx, prefix)
			switch {
			case checkout.ErrorCode(err) == checkout.ENotFound || (err == nil && !k.Matches(strings.TrimSpace(secret))):
				return newProblem(http.StatusUnauthorized, "", "That is not an API key of this checkout.")
			case err != nil:
				return err
			case k.Revoked():
				return newProblem(http.StatusUnauthorized, "", "This API key was revoked.")
			}
			now := h.cfg.Now()
			if wait := h.apiRate.take(strconv.FormatInt(k.ID, 10), now); wait > 0 {
				return tooMany(c, wait, "This API key sent too many requests; retry after the time in Retry-After.")
			}
			if !k.Can(scope) {
				return newProblem(http.StatusForbidden, "", "This API key lacks the scope "+scope+".")
			}
			// Last used is shown to the minute: writing it on every request would cost a write each.
			if now.Sub(k.LastUsedAt) >= time.Minute {
				if err := h.store.TouchAPIKey(context.WithoutCancel(ctx), k.ID, now); err != nil {
					h.log.WarnContext(ctx, "record API key use", "key", k.Prefix, "err", err)
				}
			}
			c.Set(apiKeyCtx, k)
			return next(c)
		}
	}
}

func (h *Handlers) openAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/yaml", api.OpenAPI)
}

// apiNewOrder is the body of POST /api/v1/orders.
type apiNewOrder struct {
	Amount           string            `json:"amount"`
	Description      string            `json:"description"`
	Reference        string            `json:"reference,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	ExpiresInMinutes *int              `json:"expires_in_minutes,omitempty"`
	ReturnURL        string            `json:"return_url,omitempty"`
	CancelURL        string            `json:"cancel_url,omitempty"`
	PayerBanq        string            `json:"payer_banq,omitempty"`
	PayerName        string            `json:"payer_name,omitempty"`
}

var apiNewOrderFields = []string{"amount", "description", "reference", "metadata", "expires_in_minutes",
	"return_url", "cancel_url", "payer_banq", "payer_name"}

// readJSON reads a JSON object body into v: 415 unless it is application/json, 413 over the
// limit, 400 when it is not JSON, has fields other than known (all named), or a field of the
// wrong type (named).
func readJSON(c echo.Context, v any, known []string) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return newProblem(http.StatusUnsupportedMediaType, "", "Send the body as application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, apiBodyLimit))
	if err != nil {
		return err
	}
	return decodeObject(body, v, known)
}

// decodeObject decodes a JSON object into v, refusing unknown fields and wrong types by name.
func decodeObject(body []byte, v any, known []string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return newProblem(http.StatusBadRequest, problemMalformed, "The body must be one JSON object.")
	}
	var unknown []fieldProblem
	for _, name := range sortedKeys(fields) {
		if !slices.Contains(known, name) {
			if name == "" {
				name = `""` // a field must be named to be found
			}
			unknown = append(unknown, fieldProblem{Field: name, Detail: "This field is unknown; the fields are " + strings.Join(known, ", ") + "."})
		}
	}
	if len(unknown) > 0 {
		return newProblem(http.StatusBadRequest, problemUnknownFields, "The body has fields this API does not know.", unknown...)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field := strings.SplitN(te.Field, ".", 2)[0]
			return newProblem(http.StatusBadRequest, problemMalformed, "A field has the wrong type.",
				fieldProblem{Field: field, Detail: "This field must be " + jsonKind(te.Type.Kind().String()) + "."})
		}
		return newProblem(http.StatusBadRequest, problemMalformed, "The body must be one JSON object.")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object of strings"
	case "int", "int64", "ptr":
		return "a whole number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array of strings"
	}
	return "of another type"
}

// parse validates a create body against the checkout's rules; publicURL and sandbox decide
// which return URLs are allowed. It returns an EInvalid *checkout.Error naming each wrong field.
func (b apiNewOrder) parse(publicURL string, sandbox bool, defTTL time.Duration) (checkout.NewOrder, error) {
	form := checkout.OrderForm{Amount: b.Amount, Description: b.Description, ByLink: b.PayerBanq == "",
		CustomerBanq: b.PayerBanq, CustomerName: b.PayerName}
	if b.ExpiresInMinutes != nil {
		form.ExpiresIn = strconv.Itoa(*b.ExpiresInMinutes)
	}
	n, err := checkout.ParseNewOrder(form, defTTL)
	fields := map[string]string{}
	var ce *checkout.Error
	if errors.As(err, &ce) {
		for f, m := range ce.Fields {
			fields[apiField(f)] = m
		}
	} else if err != nil {
		return n, err
	}
	if b.PayerBanq == "" && b.PayerName != "" {
		fields["payer_name"] = "A payer name goes with payer_banq; an order paid by link names no payer."
	}
	n.Reference = strings.TrimSpace(b.Reference)
	switch {
	case n.Reference != b.Reference:
		fields["reference"] = "The reference must not begin or end with spaces."
	case len([]rune(n.Reference)) > maxReference || !utf8.ValidString(n.Reference):
		fields["reference"] = fmt.Sprintf("Keep the reference to %d characters of text.", maxReference)
	}
	if len(b.Metadata) > maxMetadata {
		fields["metadata"] = fmt.Sprintf("Keep metadata to %d keys.", maxMetadata)
	}
	for k, v := range b.Metadata {
		if k == "" || len([]rune(k)) > maxMetadataKey || len([]rune(v)) > maxMetadataValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			fields["metadata"] = fmt.Sprintf("Metadata keys are 1 to %d characters, values up to %d.", maxMetadataKey, maxMetadataValue)
			break
		}
	}
	if len(b.Metadata) > 0 {
		n.Metadata = b.Metadata
	}
	for _, u := range []struct {
		field, raw string
		dst        *string
	}{{"return_url", b.ReturnURL, &n.ReturnURL}, {"cancel_url", b.CancelURL, &n.CancelURL}} {
		if u.raw == "" {
			continue
		}
		if msg := checkReturnURL(u.raw, publicURL, sandbox); msg != "" {
			fields[u.field] = msg
			continue
		}
		*u.dst = u.raw
	}
	if n.CancelURL != "" && n.ReturnURL == "" && fields["return_url"] == "" {
		fields["return_url"] = "Give a return_url with a cancel_url: the customer goes there once the order is paid."
	}
	if len(fields) > 0 {
		return n, &checkout.Error{Code: checkout.EInvalid, Message: "Some fields are not valid.", Fields: fields}
	}
	// Canonical: the same order however its JSON was spelt (key order, spaces, escapes).
	canon, _ := json.Marshal(b)
	sum := sha256.Sum256(canon)
	n.RequestHash = hex.EncodeToString(sum[:])
	return n, nil
}

// checkReturnURL says what is wrong with a URL the customer is sent back to, or "" if it is
// fine: https anywhere, or the checkout's own origin; in sandbox mode also loopback addresses,
// for a shop under development on the same machine.
func checkReturnURL(raw, publicURL string, sandbox bool) string {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxURL:
		return fmt.Sprintf("Keep the URL to %d characters.", maxURL)
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "Give an absolute URL, like https://shop.example/thanks."
	case u.User != nil:
		return "The URL must not hold a user name or password."
	case u.Scheme == "https":
		return ""
	}
	if own, err := url.Parse(publicURL); err == nil && strings.EqualFold(own.Scheme, u.Scheme) && strings.EqualFold(own.Host, u.Host) {
		return ""
	}
	if sandbox && u.Scheme == "http" && isLoopback(u.Hostname()) {
		return ""
	}
	if sandbox {
		return "Use an https URL, one on this checkout, or (in sandbox mode) one on localhost."
	}
	return "Use an https URL, or one on this checkout."
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiOrder is o as the API answers it.
func (h *Handlers) apiOrder(o checkout.Order) api.Order {
	return api.NewOrder(o, h.cfg.PublicURL, h.cfg.Locale.Shop().Currency())
}

// apiCreateOrder is POST /api/v1/orders.
func (h *Handlers) apiCreateOrder(c echo.Context) error {
	var b apiNewOrder
	if err := readJSON(c, &b, apiNewOrderFields); err != nil {
		return err
	}
	n, err := b.parse(h.cfg.PublicURL, h.cfg.Sandbox, h.cfg.OrderTTL)
	if err != nil {
		return err
	}
	err = h.answerOnce(c, n.RequestHash, func(ctx context.Context) (int, []byte, error) {
		return h.createAPIOrder(ctx, n)
	}, writeOrderAnswer)
	// Only a new order is in the audit log: a replay, or an answer by its reference, made none.
	res := c.Response()
	if err == nil && res.Status == http.StatusCreated && res.Header().Get("Idempotent-Replayed") == "" {
		loc := res.Header().Get(echo.HeaderLocation)
		h.audit(c, checkout.AuditOrderCreated, "order "+loc[strings.LastIndex(loc, "/")+1:])
	}
	return err
}

// answerOnce answers a request that makes something, under the Idempotency-Key it may carry, as
// Stripe's keys work: without a key, do runs and write sends its answer. With one, the first
// request's answer is kept (in the database: a restart keeps it) and given again to a retry
// with the same body (hash); a retry with another body is 422, one while the first is still
// being answered is 409. An error of do is not kept: the key may be used again.
func (h *Handlers) answerOnce(c echo.Context, hash string, do func(context.Context) (int, []byte, error), write func(echo.Context, int, []byte) error) error {
	ctx := c.Request().Context()
	idem := c.Request().Header.Get("Idempotency-Key")
	if len(idem) > maxIdempotencyKey || (idem == "" && c.Request().Header.Values("Idempotency-Key") != nil) {
		return newProblem(http.StatusBadRequest, problemMalformed, fmt.Sprintf("An Idempotency-Key is 1 to %d characters.", maxIdempotencyKey),
			fieldProblem{Field: "Idempotency-Key", Detail: "Send a unique string such as a UUID."})
	}
	if idem == "" {
		status, body, err := do(ctx)
		if err != nil {
			return err
		}
		return write(c, status, body)
	}
	now := h.cfg.Now()
	kept, claimed, err := h.store.ClaimIdempotencyKey(ctx, idem, hash, now.Add(-idempotencyStale), now.Add(-idempotencyKeep))
	switch {
	case err != nil:
		return err
	case !claimed && kept.RequestHash != hash:
		return newProblem(http.StatusUnprocessableEntity, problemIdempotency,
			"This Idempotency-Key was used with another body; use a new key for a new request.")
	case !claimed && kept.Status == 0:
		return newProblem(http.StatusConflict, problemInProgress,
			"A request with this Idempotency-Key is still being answered; retry in a moment.")
	case !claimed:
		c.Response().Header().Set("Idempotent-Replayed", "true")
		return write(c, kept.Status, kept.Body)
	}
	// What is done is recorded even when the shop hangs up: its retry must get this answer.
	keep := context.WithoutCancel(ctx)
	status, body, err := do(ctx)
	if err != nil {
		if rerr := h.store.ReleaseIdempotencyKey(keep, idem); rerr != nil {
			h.log.ErrorContext(ctx, "release idempotency key", "err", rerr)
		}
		return err
	}
	if err := h.store.AnswerIdempotencyKey(keep, idem, status, body); err != nil {
		return err
	}
	return write(c, status, body)
}

func writeOrderAnswer(c echo.Context, status int, body []byte) error {
	if status == http.StatusConflict {
		return c.Blob(status, "application/problem+json", body)
	}
	var o struct {
		ID string `json:"id"`
	}
	if status == http.StatusCreated && json.Unmarshal(body, &o) == nil {
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/orders/"+o.ID)
	}
	return c.JSONBlob(status, body)
}

// createAPIOrder creates n, or finds the order its reference names, and returns the answer's
// status and body: 201 with a new order, 200 with the one of the same reference and body, 409
// when that reference was used for another order. Once stored, an order is answered 201 even
// if Banq did not take it yet (state creating: it is sent again) or refused it (rejected).
func (h *Handlers) createAPIOrder(ctx context.Context, n checkout.NewOrder) (int, []byte, error) {
	answerExisting := func() (int, []byte, error) {
		o, err := h.store.OrderByReference(ctx, n.Reference)
		if err != nil {
			return 0, nil, err
		}
		if o.RequestHash != n.RequestHash {
			body, err := json.Marshal(newProblem(http.StatusConflict, problemReference,
				"An order with this reference exists with other details (order "+o.Number()+")."))
			return http.StatusConflict, body, err
		}
		body, err := json.Marshal(h.apiOrder(o))
		return http.StatusOK, body, err
	}
	if n.Reference != "" {
		if status, body, err := answerExisting(); checkout.ErrorCode(err) != checkout.ENotFound {
			return status, body, err
		}
	}
	o, err := h.checkout.CreateOrder(ctx, n)
	switch {
	case o.ID != 0:
	case n.Reference != "" && checkout.ErrorCode(err) == checkout.EConflict:
		return answerExisting() // another request with this reference got there first
	case err != nil:
		return 0, nil, err
	}
	body, err := json.Marshal(h.apiOrder(o))
	return http.StatusCreated, body, err
}

func (h *Handlers) apiOrderByID(c echo.Context) (checkout.Order, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return checkout.Order{}, newProblem(http.StatusNotFound, "", "There is no such order.")
	}
	return h.store.Order(c.Request().Context(), id)
}

// apiGetOrder is GET /api/v1/orders/{id}.
func (h *Handlers) apiGetOrder(c echo.Context) error {
	o, err := h.apiOrderByID(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.apiOrder(o))
}

// apiCancelOrder is POST /api/v1/orders/{id}/cancel.
func (h *Handlers) apiCancelOrder(c echo.Context) error {
	o, err := h.apiOrderByID(c)
	if err != nil {
		return err
	}
	k := c.Get(apiKeyCtx).(checkout.APIKey)
	o, err = h.checkout.CancelOrder(c.Request().Context(), o.ID, "the shop (API key "+k.Name+")")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.apiOrder(o))
}

var apiListParams = []string{"reference", "state", "created_after", "created_before", "limit", "cursor"}

// apiListOrders is GET /api/v1/orders.
func (h *Handlers) apiListOrders(c echo.Context) error {
	q := c.QueryParams()
	var bad []fieldProblem
	for _, name := range sortedKeys(q) {
		if !slices.Contains(apiListParams, name) {
			bad = append(bad, fieldProblem{Field: name, Detail: "This parameter is unknown; they are " + strings.Join(apiListParams, ", ") + "."})
		}
	}
	f := checkout.OrderFilter{Limit: 20, Reference: q.Get("reference"), State: checkout.State(q.Get("state"))}
	if f.State != "" && !f.State.Valid() {
		bad = append(bad, fieldProblem{Field: "state", Detail: "Unknown state."})
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &f.From}, {"created_before", &f.To}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad = append(bad, fieldProblem{Field: t.name, Detail: "Give a time as RFC 3339, like 2026-12-01T09:30:00Z."})
			}
			*t.dst = at
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			bad = append(bad, fieldProblem{Field: "limit", Detail: "Give a limit from 1 to 100."})
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, fieldProblem{Field: "cursor", Detail: "Pass the next_cursor of the previous page as it came."})
		}
		f.Before = n
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, func(a, b fieldProblem) int { return strings.Compare(a.Field, b.Field) })
		return newProblem(http.StatusBadRequest, problemValidation, "Some query parameters are not valid.", bad...)
	}
	orders, more, err := h.store.ListOrders(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Data       []api.Order `json:"data"`
		NextCursor *string     `json:"next_cursor"`
	}{Data: []api.Order{}}
	for _, o := range orders {
		out.Data = append(out.Data, h.apiOrder(o))
	}
	if more {
		next := itoa(orders[len(orders)-1].ID)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}
