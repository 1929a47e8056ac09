package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
)

// Limits of the create body, as Banq states them to us.
const (
	maxCommentRunes   = 500
	maxOrderCodeRunes = 100
	maxRetryCount     = 10
	defaultPageSize   = 20
	maxPageSize       = 100
)

// response is an API answer, kept whole so that an idempotent replay is byte for byte the same.
type response struct {
	status   int
	location string
	body     []byte
}

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are marshalled here
		panic(fmt.Sprintf("sandbox: marshal %T: %v", v, err))
	}
	return response{status: status, body: append(b, '\n')}
}

func errorResponse(status int, msg string) response {
	return jsonResponse(status, banq.ErrorBody{Message: msg})
}

func invalidResponse(errs map[string][]string) response {
	return jsonResponse(http.StatusUnprocessableEntity, banq.ErrorBody{Message: "The request is invalid.", Errors: errs})
}

func (resp response) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if resp.location != "" {
		w.Header().Set("Location", resp.location)
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonResponse(status, v).write(w) }

func writeError(w http.ResponseWriter, status int, msg string) { errorResponse(status, msg).write(w) }

// apiFaults applies the latency fault to every API call and, when errors is set, the error-rate
// fault: a share of calls is answered 500 or 503 without doing anything.
func (s *Sandbox) apiFaults(errors bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := s.Faults().APILatency; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if errors && s.roll(func(f Faults) float64 { return f.APIErrorRate }) {
			if s.pick(2) == 0 {
				writeError(w, http.StatusInternalServerError, "Internal server error (sandbox fault apiErrorRate).")
				return
			}
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "Service unavailable (sandbox fault apiErrorRate).")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authenticated answers 401 unless the request carries a live bearer token.
func (s *Sandbox) authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="banq-sandbox"`)
			writeError(w, http.StatusUnauthorized, "Authorization: Bearer <token> is required.")
			return
		}
		if !s.tokens.valid(token, s.now()) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="banq-sandbox", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "The access token is invalid or expired.")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// tooLarge reports whether err comes from reading past the body limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

// handleToken is POST /oauth/token: the password grant, as JSON or as a form.
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	tokenError := func(status int, code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, banq.TokenError{Error: code, ErrorDescription: desc})
	}
	if s.roll(func(f Faults) float64 { return f.TokenErrorRate }) {
		w.Header().Set("Retry-After", "1")
		tokenError(http.StatusServiceUnavailable, "temporarily_unavailable", "The token service is unavailable (sandbox fault tokenErrorRate).")
		return
	}
	var req banq.TokenRequest
	switch mediaType(r) {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			if tooLarge(err) {
				tokenError(http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
				return
			}
			tokenError(http.StatusBadRequest, "invalid_request", "The form could not be read.")
			return
		}
		req = banq.TokenRequest{
			ClientID: r.PostFormValue("client_id"), Username: r.PostFormValue("username"),
			Password: r.PostFormValue("password"), Audience: r.PostFormValue("audience"),
			GrantType: r.PostFormValue("grant_type"),
		}
	default:
		if err := decodeJSON(r, &req); err != nil {
			if tooLarge(err) {
				tokenError(http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
				return
			}
			tokenError(http.StatusBadRequest, "invalid_request", "The body must be a JSON token request: "+err.Error())
			return
		}
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"client_id", req.ClientID}, {"username", req.Username}, {"password", req.Password}, {"grant_type", req.GrantType},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		tokenError(http.StatusBadRequest, "invalid_request", "Missing required parameter: "+strings.Join(missing, ", ")+".")
		return
	}
	if req.GrantType != "password" {
		tokenError(http.StatusUnauthorized, "invalid_grant", "Only the password grant is supported.")
		return
	}
	if req.Audience != "" && strings.TrimRight(req.Audience, "/") != strings.TrimRight(banq.DefaultAudience, "/") {
		tokenError(http.StatusForbidden, "access_denied", "Service not found: "+req.Audience)
		return
	}
	// Every comparison runs, so timing does not tell which field was wrong.
	ok := subtle.ConstantTimeCompare([]byte(req.ClientID), []byte(s.cfg.ClientID)) &
		subtle.ConstantTimeCompare([]byte(req.Username), []byte(s.cfg.Username)) &
		subtle.ConstantTimeCompare([]byte(req.Password), []byte(s.cfg.Password))
	if ok != 1 {
		s.log.Info("sandbox token refused", "client_id", req.ClientID, "username", req.Username)
		tokenError(http.StatusUnauthorized, "invalid_grant", "Wrong client, username or password.")
		return
	}
	ttl := s.cfg.TokenTTL
	if f := s.Faults().TokenTTL; f > 0 {
		ttl = f
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	s.tokens.add(token, now.Add(ttl), now)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, banq.TokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresIn:   max(int(ttl/time.Second), 1),
	})
}

// decodeJSON reads one JSON value from the body; trailing data is an error.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// bodyError turns a failed decode into the API's answer: 413 past the limit, 422 naming the field
// for a value of the wrong type, else 400.
func bodyError(err error) response {
	var ute *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return errorResponse(http.StatusRequestEntityTooLarge, "The request body is too large.")
	case errors.As(err, &ute) && ute.Field != "":
		return invalidResponse(map[string][]string{ute.Field: {"must be a " + jsonKind(ute.Type.Kind().String())}})
	default:
		return errorResponse(http.StatusBadRequest, "The request body is not valid JSON: "+err.Error())
	}
}

func jsonKind(goKind string) string {
	switch {
	case goKind == "string":
		return "string"
	case goKind == "bool":
		return "boolean"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "float"), strings.HasPrefix(goKind, "uint"):
		return "number"
	case goKind == "slice":
		return "list"
	default:
		return "JSON object"
	}
}

// serveIdempotent runs op in one transaction and writes its answer. On a POST with an
// X-Idempotent-Id header, the first answer below 500 is stored in that transaction under key and path, and every
// later request with the same key and path gets it back byte for byte, whatever its body; the
// database's single writer serialises concurrent requests, so op runs once. It reports whether
// op ran (false for a replay) and the answer written.
func (s *Sandbox) serveIdempotent(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, tx *sql.Tx) (response, error)) (bool, response) {
	ctx := r.Context()
	key := ""
	if r.Method == http.MethodPost {
		key = strings.TrimSpace(r.Header.Get(banq.HeaderIdempotency))
	}
	if key != "" {
		if _, err := uuid.Parse(key); err != nil {
			resp := errorResponse(http.StatusBadRequest, banq.HeaderIdempotency+" must be a GUID.")
			resp.write(w)
			return false, resp
		}
	}
	var (
		resp  response
		fresh bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if key != "" {
			err := tx.QueryRowContext(ctx, "SELECT status, location, body FROM idempotency WHERE key = ? AND path = ?",
				key, r.URL.Path).Scan(&resp.status, &resp.location, &resp.body)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var err error
		if resp, err = op(ctx, tx); err != nil {
			return err
		}
		fresh = true
		if key != "" && resp.status < 500 {
			_, err = tx.ExecContext(ctx, `INSERT INTO idempotency (key, path, status, content_type, location, body, created_at)
				VALUES (?, ?, ?, 'application/json', ?, ?, ?)`, key, r.URL.Path, resp.status, resp.location, resp.body, nanos(s.now()))
		}
		return err
	})
	if err != nil {
		s.internalError(w, r, err)
		return false, response{status: http.StatusInternalServerError}
	}
	if !fresh {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	s.wakeDispatcher()
	if fresh && resp.status < 300 && s.createErrorAfter(r) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "Service unavailable (sandbox fault createErrorAfterRate: the work was done, the answer lost).")
		return fresh, resp
	}
	resp.write(w)
	return fresh, resp
}

func (s *Sandbox) createErrorAfter(r *http.Request) bool {
	if r.URL.Path != banq.PathGetPaidDirect && r.URL.Path != banq.PathGetPaidLink {
		return false
	}
	return s.roll(func(f Faults) float64 { return f.CreateErrorAfterRate })
}

func (s *Sandbox) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left
	}
	s.log.Error("sandbox: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "Internal server error.")
}

// createBody is the create request as read, before validation: funds stay raw so that a bad
// amount is a field error rather than a broken body.
type createBody struct {
	Destination       *banq.BanqRef   `json:"destination"`
	Source            *banq.BanqRef   `json:"source"`
	Funds             json.RawMessage `json:"funds"`
	Comment           string          `json:"comment"`
	ExternalOrderCode string          `json:"externalOrderCode"`
	Frequency         string          `json:"frequency"`
}

// handleCreate is POST get-paid-direct (link false: the source is required) and get-paid-link
// (link true: no source; the answer carries the payer page as paymentLink).
func (s *Sandbox) handleCreate(link bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body createBody
		decodeErr := decodeJSON(r, &body)
		baseURL := s.publicURL(r)
		s.serveIdempotent(w, r, func(ctx context.Context, tx *sql.Tx) (response, error) {
			if decodeErr != nil {
				return bodyError(decodeErr), nil
			}
			return s.createPayment(ctx, tx, body, link, baseURL)
		})
	}
}

// publicURL is the sandbox's base URL as the browser sees it.
func (s *Sandbox) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sandbox) createPayment(ctx context.Context, tx *sql.Tx, body createBody, link bool, baseURL string) (response, error) {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }

	if body.Destination == nil || strings.TrimSpace(body.Destination.BanqGUID) == "" {
		add("destination.banqGuid", "is required")
	}
	if link {
		body.Source = nil // a link is paid by whoever opens it
	} else if body.Source == nil || strings.TrimSpace(body.Source.BanqGUID) == "" {
		add("source.banqGuid", "is required")
	}
	var funds banq.Money
	if raw := bytes.TrimSpace(body.Funds); len(raw) == 0 || string(raw) == "null" {
		add("funds", "is required")
	} else if err := json.Unmarshal(raw, &funds); err != nil {
		switch {
		case errors.Is(err, banq.ErrMoneyPrecision):
			add("funds", "must have at most 2 decimals")
		case errors.Is(err, banq.ErrMoneyTooLarge):
			add("funds", "must be at most "+banq.MaxMoney.String())
		default:
			add("funds", "must be a decimal number such as 100.00")
		}
	} else if funds <= 0 {
		add("funds", "must be greater than 0")
	} else if funds > banq.MaxMoney {
		add("funds", "must be at most "+banq.MaxMoney.String())
	}
	if utf8.RuneCountInString(body.Comment) > maxCommentRunes {
		add("comment", fmt.Sprintf("must be at most %d characters", maxCommentRunes))
	}
	if strings.TrimSpace(body.ExternalOrderCode) == "" {
		add("externalOrderCode", "is required")
	} else if utf8.RuneCountInString(body.ExternalOrderCode) > maxOrderCodeRunes {
		add("externalOrderCode", fmt.Sprintf("must be at most %d characters", maxOrderCodeRunes))
	}
	if !strings.EqualFold(body.Frequency, string(banq.FrequencyOnce)) {
		add("frequency", `must be "once"`)
	}
	if len(errs) > 0 {
		return invalidResponse(errs), nil
	}

	var destSpace sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT account_space_id FROM banqs WHERE guid = ?", body.Destination.BanqGUID).Scan(&destSpace)
	if errors.Is(err, sql.ErrNoRows) {
		add("destination.banqGuid", "no banq has this guid")
	} else if err != nil {
		return response{}, err
	}
	var source any // NULL for a link
	if body.Source != nil {
		source = body.Source.BanqGUID
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM banqs WHERE guid = ?", body.Source.BanqGUID).Scan(&n); err != nil {
			return response{}, err
		}
		switch {
		case n == 0:
			add("source.banqGuid", "no banq has this guid")
		case body.Source.BanqGUID == body.Destination.BanqGUID:
			add("source.banqGuid", "must differ from the destination")
		}
	}
	if len(errs) > 0 {
		return invalidResponse(errs), nil
	}
	if !destSpace.Valid || destSpace.Int64 != s.space.ID {
		return errorResponse(http.StatusForbidden, "The destination banq does not belong to your account space."), nil
	}

	id := uuid.NewString()
	paymentLink := ""
	if link {
		paymentLink = baseURL + "/sandbox/pay/" + id
	}
	now := s.now()
	_, err = tx.ExecContext(ctx, `INSERT INTO payments (id, account_space_id, status, funds, comment,
		external_order_code, frequency, source_guid, destination_guid, payment_link, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, s.space.ID, banq.PaymentPending, funds, body.Comment, body.ExternalOrderCode, banq.FrequencyOnce,
		source, body.Destination.BanqGUID, paymentLink, nanos(now), nanos(now))
	if err != nil {
		return response{}, err
	}
	if err := s.enqueueWebhook(ctx, tx, s.space.ID, banq.ResourcePayment, banq.ActionCreated, id, now); err != nil {
		return response{}, err
	}
	p, err := getPayment(ctx, tx, id)
	if err != nil {
		return response{}, err
	}
	s.log.Info("sandbox payment created", "payment", id, "externalOrderCode", body.ExternalOrderCode, "link", link)
	resp := jsonResponse(http.StatusCreated, p.Payment)
	resp.location = banq.PathPayments + id
	return resp, nil
}

// handleGetPayment is GET /api/v1/payments/{id}.
func (s *Sandbox) handleGetPayment(w http.ResponseWriter, r *http.Request) {
	p, err := getPayment(r.Context(), s.db, r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && p.AccountSpaceID != s.space.ID):
		writeError(w, http.StatusNotFound, "Payment not found.")
	case err != nil:
		s.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, p.Payment)
	}
}

// pageParams reads the one-based page and pageSize (default 20, capped at 100).
func pageParams(r *http.Request) (page, size int, msg string) {
	page, size = 1, defaultPageSize
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, "page must be a whole number from 1."
		}
		page = n
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, "pageSize must be a whole number from 1."
		}
		size = min(n, maxPageSize)
	}
	return page, size, ""
}

func pageMeta(count, size int) banq.Meta {
	return banq.Meta{ResourceCount: count, PageCount: (count + size - 1) / size}
}

// handleListTransactions is GET /api/v1/transactions?paymentId=&page=&pageSize=.
func (s *Sandbox) handleListTransactions(w http.ResponseWriter, r *http.Request) {
	page, size, msg := pageParams(r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	where, args := "WHERE p.account_space_id = ?", []any{s.space.ID}
	if id := r.URL.Query().Get("paymentId"); id != "" {
		where, args = where+" AND t.payment_id = ?", append(args, id)
	}
	out := banq.Page[banq.Transaction]{Data: []banq.Transaction{}}
	err := s.inTx(r.Context(), func(tx *sql.Tx) error {
		from := " FROM transactions t JOIN payments p ON p.id = t.payment_id "
		var count int
		if err := tx.QueryRowContext(r.Context(), "SELECT count(*)"+from+where, args...).Scan(&count); err != nil {
			return err
		}
		out.Meta = pageMeta(count, size)
		rows, err := tx.QueryContext(r.Context(), "SELECT "+prefixed(transactionColumns, "t.")+from+where+" ORDER BY t.rowid LIMIT ? OFFSET ?",
			append(args, size, (page-1)*size)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransaction(rows.Scan)
			if err != nil {
				return err
			}
			out.Data = append(out.Data, t)
		}
		return rows.Err()
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetTransaction is GET /api/v1/transactions/{id}.
func (s *Sandbox) handleGetTransaction(w http.ResponseWriter, r *http.Request) {
	t, err := scanTransaction(s.db.QueryRowContext(r.Context(), "SELECT "+transactionColumns+
		" FROM transactions WHERE id = ?", r.PathValue("id")).Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		writeError(w, http.StatusNotFound, "Transaction not found.")
	case err != nil:
		s.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, t)
	}
}

// handleListBanqs is GET /api/v1/banqs?search=&page=&pageSize=: every banq of the sandbox's world,
// matched case-insensitively on name or tag.
func (s *Sandbox) handleListBanqs(w http.ResponseWriter, r *http.Request) {
	page, size, msg := pageParams(r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	where, args := "", []any{}
	if q := strings.TrimSpace(r.URL.Query().Get("search")); q != "" {
		escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(q))
		where, args = `WHERE search LIKE ? ESCAPE '\'`, append(args, "%"+escaped+"%")
	}
	out := banq.Page[banq.Banq]{Data: []banq.Banq{}}
	err := s.inTx(r.Context(), func(tx *sql.Tx) error {
		var count int
		if err := tx.QueryRowContext(r.Context(), "SELECT count(*) FROM banqs "+where, args...).Scan(&count); err != nil {
			return err
		}
		out.Meta = pageMeta(count, size)
		rows, err := tx.QueryContext(r.Context(), "SELECT guid, name, tag, owner_type FROM banqs "+where+
			" ORDER BY rowid LIMIT ? OFFSET ?", append(args, size, (page-1)*size)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBanq(rows.Scan)
			if err != nil {
				return err
			}
			out.Data = append(out.Data, b)
		}
		return rows.Err()
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleMe is GET /api/v1/users/me?include=accountSpaces,banqAccounts. Lists not included are empty.
func (s *Sandbox) handleMe(w http.ResponseWriter, r *http.Request) {
	me := banq.Me{
		ID: s.userID, Email: s.cfg.Username, Name: s.space.Name + " (sandbox merchant)",
		AccountSpaces: []banq.AccountSpace{}, BanqAccounts: []banq.BanqAccount{},
	}
	for _, inc := range strings.Split(r.URL.Query().Get("include"), ",") {
		switch strings.ToLower(strings.TrimSpace(inc)) {
		case "accountspaces":
			me.AccountSpaces = []banq.AccountSpace{s.space}
		case "banqaccounts":
			me.BanqAccounts = []banq.BanqAccount{s.merchant}
		}
	}
	writeJSON(w, http.StatusOK, me)
}

// webhookConfigSpace reads {id} of the webhook-config paths; it answers 404 and returns false for
// an account space that is not the caller's.
func (s *Sandbox) webhookConfigSpace(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id != s.space.ID {
		writeError(w, http.StatusNotFound, "Account space not found.")
		return 0, false
	}
	return id, true
}

// handleGetWebhookConfig is GET /api/v1/account-spaces/{id}/webhook-config; the secret is not shown.
func (s *Sandbox) handleGetWebhookConfig(w http.ResponseWriter, r *http.Request) {
	space, ok := s.webhookConfigSpace(w, r)
	if !ok {
		return
	}
	c, err := getWebhookConfig(r.Context(), s.db, space)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		writeError(w, http.StatusNotFound, "No webhook config exists for this account space.")
	case err != nil:
		s.internalError(w, r, err)
	default:
		c.SharedSecret = ""
		writeJSON(w, http.StatusOK, c.WebhookConfig)
	}
}

// handlePutWebhookConfig is POST (create; 400 when one exists) and PUT (update; 404 when none
// exists) /api/v1/account-spaces/{id}/webhook-config. PUT without a sharedSecret keeps the old one.
func (s *Sandbox) handlePutWebhookConfig(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		space, ok := s.webhookConfigSpace(w, r)
		if !ok {
			return
		}
		var body banq.WebhookConfig
		decodeErr := decodeJSON(r, &body)
		op := func(ctx context.Context, tx *sql.Tx) (response, error) {
			if decodeErr != nil {
				return bodyError(decodeErr), nil
			}
			old, err := getWebhookConfig(ctx, tx, space)
			exists := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return response{}, err
			}
			if create && exists {
				return errorResponse(http.StatusBadRequest, "A webhook config already exists for this account space: update it with PUT."), nil
			}
			if !create && !exists {
				return errorResponse(http.StatusNotFound, "No webhook config exists for this account space: create it with POST."), nil
			}
			if body.SharedSecret == "" && exists {
				body.SharedSecret = old.SharedSecret
			}
			types, errs := validateWebhookConfig(body)
			if len(errs) > 0 {
				return invalidResponse(errs), nil
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO webhook_configs (account_space_id, url, enabled, retry_count, types,
				shared_secret, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (account_space_id) DO UPDATE SET url = excluded.url, enabled = excluded.enabled,
				retry_count = excluded.retry_count, types = excluded.types, shared_secret = excluded.shared_secret,
				updated_at = excluded.updated_at`,
				space, body.URL, body.Enabled, body.RetryCount, strings.Join(types, ","), body.SharedSecret, nanos(s.now()))
			if err != nil {
				return response{}, err
			}
			s.log.Info("sandbox webhook config saved", "accountSpace", space, "url", body.URL, "enabled", body.Enabled)
			body.SharedSecret = ""
			body.WebHookTypes = body.WebHookTypes[:0]
			for _, t := range types {
				body.WebHookTypes = append(body.WebHookTypes, banq.ResourceType(t))
			}
			if !create {
				return jsonResponse(http.StatusOK, body), nil
			}
			resp := jsonResponse(http.StatusCreated, body)
			resp.location = fmt.Sprintf(banq.PathWebhookConfigT, space)
			return resp, nil
		}
		s.serveIdempotent(w, r, op)
	}
}

// validateWebhookConfig returns the lower-cased, de-duplicated types and the field errors.
func validateWebhookConfig(c banq.WebhookConfig) ([]string, map[string][]string) {
	errs := map[string][]string{}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs["url"] = []string{"must be an absolute http or https URL"}
	}
	if c.RetryCount < 0 || c.RetryCount > maxRetryCount {
		errs["retryCount"] = []string{fmt.Sprintf("must be between 0 and %d", maxRetryCount)}
	}
	var types []string
	for _, t := range c.WebHookTypes {
		lt := strings.ToLower(string(t))
		if lt != "payment" && lt != "transaction" {
			errs["webHookTypes"] = []string{`may list only "payment" and "transaction"`}
			break
		}
		if !slices.Contains(types, lt) {
			types = append(types, lt)
		}
	}
	if len(c.WebHookTypes) == 0 {
		errs["webHookTypes"] = []string{`must list "payment", "transaction" or both`}
	}
	if c.SharedSecret == "" {
		errs["sharedSecret"] = []string{"is required"}
	} else if len(c.SharedSecret) > 256 {
		errs["sharedSecret"] = []string{"must be at most 256 characters"}
	}
	return types, errs
}

// handleAPINotFound answers unknown API paths.
func handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "No such endpoint: "+r.Method+" "+r.URL.Path)
}
