package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/banq-checkout/checkout/banq"
)

// wantsHTML reports whether the request comes from a browser page (a form post or a link), which
// gets a redirect or a page instead of JSON.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// handleAction is POST /sandbox/payments/{id}/{action}: 200 with the payment as JSON, 404 for an
// unknown payment, 409 for an illegal transition, 400 for an unknown action or fail reason. A
// browser's form post is redirected (303) back to the page named by the form's "return" field.
func (s *Sandbox) handleAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	html := wantsHTML(r)
	if html && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "cross-site form posts are refused", http.StatusForbidden)
		return
	}
	var reason banq.FailReason
	if action == actionFail {
		var err error
		if reason, err = readReason(r); err != nil {
			if tooLarge(err) {
				writeError(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
				return
			}
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	} else {
		r.ParseForm() // for "return"; the body is bounded by the handler chain
	}
	var (
		p   banq.Payment
		err error
	)
	if payer := r.PostFormValue("payer"); payer != "" {
		err = s.identify(r.Context(), id, payer)
	}
	switch {
	case err != nil:
	case action == actionApprove:
		p, err = s.Approve(r.Context(), id)
	case action == actionFail:
		p, err = s.Fail(r.Context(), id, reason)
	case action == actionDecline:
		p, err = s.Decline(r.Context(), id)
	case action == actionExpire:
		p, err = s.Expire(r.Context(), id)
	case action == actionHold:
		p, err = s.Hold(r.Context(), id)
	case action == actionResume:
		p, err = s.Resume(r.Context(), id)
	case action == actionCancel:
		p, err = s.Cancel(r.Context(), id)
	default:
		writeError(w, http.StatusBadRequest, "Unknown action "+action+": use approve, decline, fail, expire, hold, resume or cancel.")
		return
	}
	if html {
		back := returnPath(r.PostFormValue("return"), "/sandbox/pay/"+url.PathEscape(id))
		q := url.Values{}
		switch {
		case err == nil:
			q.Set("done", action)
		case errors.Is(err, ErrNotFound):
			q.Set("err", "notfound")
		case errors.Is(err, ErrIllegalTransition):
			q.Set("err", "illegal")
		case errors.Is(err, ErrInvalidReason):
			q.Set("err", "reason")
		case errors.Is(err, ErrUnknownPayer):
			q.Set("err", "payer")
		default:
			s.internalError(w, r, err)
			return
		}
		http.Redirect(w, r, back+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, p)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "Payment not found.")
	case errors.Is(err, ErrIllegalTransition):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "sandbox: "))
	case errors.Is(err, ErrInvalidReason), errors.Is(err, ErrUnknownPayer):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "sandbox: "))
	default:
		s.internalError(w, r, err)
	}
}

// readReason reads the fail reason from a JSON body {"reason": ...}, a form field or the query.
func readReason(r *http.Request) (banq.FailReason, error) {
	var reason string
	if mediaType(r) == "application/json" {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return "", errors.New("the body must be JSON like {\"reason\": \"InsufficientBalance\"}: " + err.Error())
		}
		reason = body.Reason
	} else {
		if err := r.ParseForm(); err != nil {
			return "", err
		}
		reason = r.FormValue("reason")
	}
	if reason == "" {
		return "", errors.New("reason is required: one of " + reasonList())
	}
	if !banq.FailReason(reason).Valid() {
		return "", errors.New("unknown reason " + reason + ": use one of " + reasonList())
	}
	return banq.FailReason(reason), nil
}

func reasonList() string {
	names := make([]string, len(banq.FailReasons))
	for i, r := range banq.FailReasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// returnPath accepts only a path on the sandbox's own pages, so a form cannot redirect elsewhere.
func returnPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/sandbox/") || strings.ContainsAny(p, "\\?#") || strings.Contains(p, "//") {
		return fallback
	}
	return p
}

// handleListPayments is GET /sandbox/payments?externalOrderCode=&source=: a JSON array, newest first.
func (s *Sandbox) handleListPayments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ps, err := s.Payments(r.Context(), q.Get("externalOrderCode"), q.Get("source"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

// handleGetFaults is GET /sandbox/faults.
func (s *Sandbox) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handlePutFaults is PUT /sandbox/faults: the body replaces the faults in force (absent fields are
// zero) and reseeds the RNG; 422 for a rate outside 0..1 or a negative duration.
func (s *Sandbox) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeJSON(r, &f); err != nil {
		bodyError(err).write(w)
		return
	}
	if err := f.Validate(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleDeliveries is GET /sandbox/deliveries: the delivery log, newest first, as JSON for
// Accept: application/json or ?format=json, else as a page.
func (s *Sandbox) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	ds, err := s.Deliveries(r.Context(), 0)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, ds)
		return
	}
	s.render(w, r, http.StatusOK, deliveriesPage(ds))
}

// paymentView is a payment as the payer pages show it.
type paymentView struct {
	banq.Payment
	Merchant   string
	Payer      string
	TxStatus   banq.TransactionStatus // "" until the transaction is made
	FailReason banq.FailReason
	As         string // on a link's page, the payer who said who they are; their answer names them
}

// needsPayer reports whether the payment is a link nobody has answered yet: its page first asks
// who is paying.
func (v paymentView) needsPayer() bool { return v.Source == nil && v.Status == banq.PaymentPending }

// StatusWords says the payment's state in the payer's words.
func (v paymentView) StatusWords() string {
	switch v.Status {
	case banq.PaymentPending:
		return "Waiting for your approval"
	case banq.PaymentAccepted:
		if v.TxStatus == banq.TransactionFailed {
			return "Accepted, but the transfer failed"
		}
		return "Accepted: the money is on its way"
	case banq.PaymentOnHold:
		return "On hold"
	case banq.PaymentCompleted:
		if v.TxStatus == banq.TransactionFailed {
			return "Failed: " + v.FailReason.CustomerText()
		}
		return "Paid"
	case banq.PaymentDeclined:
		return "Declined"
	case banq.PaymentCanceled:
		return "Canceled by the merchant"
	case banq.PaymentExpired:
		return "Expired"
	}
	return string(v.Status)
}

// StatusClass is the CSS modifier of the status badge.
func (v paymentView) StatusClass() string {
	switch {
	case v.TxStatus == banq.TransactionFailed:
		return "status status-bad"
	case v.Status == banq.PaymentCompleted:
		return "status status-good"
	case v.Status == banq.PaymentPending || v.Status == banq.PaymentAccepted || v.Status == banq.PaymentOnHold:
		return "status status-wait"
	}
	return "status status-bad"
}

func (v paymentView) can(action string) bool {
	tr := transitions[action]
	for _, st := range tr.from {
		if st == v.Status {
			return true
		}
	}
	return false
}

// viewPayments loads payments with their merchant, payer and transaction, newest first.
func viewPayments(ctx context.Context, q queryer, where string, args ...any) ([]paymentView, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+prefixed(paymentColumns, "p.")+`, d.name, coalesce(s.name, ''),
		coalesce(t.status, ''), coalesce(t.fail_reason, '')
		FROM payments p JOIN banqs d ON d.guid = p.destination_guid
		LEFT JOIN banqs s ON s.guid = p.source_guid
		LEFT JOIN transactions t ON t.payment_id = p.id `+where+" ORDER BY p.rowid DESC LIMIT 100", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []paymentView
	for rows.Next() {
		var (
			v              paymentView
			txStatus, fail string
		)
		p, err := scanPayment(func(dest ...any) error {
			return rows.Scan(append(dest, &v.Merchant, &v.Payer, &txStatus, &fail)...)
		})
		if err != nil {
			return nil, err
		}
		v.Payment, v.TxStatus, v.FailReason = p.Payment, banq.TransactionStatus(txStatus), banq.FailReason(fail)
		out = append(out, v)
	}
	return out, rows.Err()
}

// payerView is a payer on the "who are you?" page.
type payerView struct {
	banq.Banq
	Waiting int
}

// pagePayers is GET /sandbox/: the payers to play.
func (s *Sandbox) pagePayers(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT b.guid, b.name, b.tag, b.owner_type,
		(SELECT count(*) FROM payments p WHERE p.source_guid = b.guid AND p.status = 'Pending')
		FROM banqs b WHERE b.account_space_id IS NULL ORDER BY b.rowid`)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	var payers []payerView
	for rows.Next() {
		var v payerView
		if err := rows.Scan(&v.GUID, &v.Name, &v.Tag, &v.OwnerType, &v.Waiting); err != nil {
			rows.Close()
			s.internalError(w, r, err)
			return
		}
		payers = append(payers, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, payersPage(payers, s.merchant.Name))
}

// pageBanq is GET /sandbox/banqs/{guid}: that payer's Banq app, requests newest first.
func (s *Sandbox) pageBanq(w http.ResponseWriter, r *http.Request) {
	guid := r.PathValue("guid")
	var (
		b        banq.Banq
		payments []paymentView
	)
	err := s.inTx(r.Context(), func(tx *sql.Tx) error {
		var err error
		b, err = scanBanq(tx.QueryRowContext(r.Context(),
			"SELECT guid, name, tag, owner_type FROM banqs WHERE guid = ?", guid).Scan)
		if err != nil {
			return err
		}
		payments, err = viewPayments(r.Context(), tx, "WHERE p.source_guid = ?", guid)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		s.render(w, r, http.StatusNotFound, errorPage("No such banq", "There is no banq with this id in the sandbox."))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, banqPage(b, payments, noticeFrom(r), r.URL.Path))
}

// pagePay is GET /sandbox/pay/{id}: one payment with the payer's actions (the paymentLink page).
func (s *Sandbox) pagePay(w http.ResponseWriter, r *http.Request) {
	vs, err := viewPayments(r.Context(), s.db, "WHERE p.id = ?", r.PathValue("id"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(vs) == 0 {
		s.render(w, r, http.StatusNotFound, errorPage("No such payment", "There is no payment with this id in the sandbox."))
		return
	}
	v := vs[0]
	if v.needsPayer() {
		// A link is paid by whoever opens it: as in Banq, they sign in first. Here they pick
		// one of the sandbox's payers.
		payers, err := s.PayerBanqs(r.Context())
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		as := r.URL.Query().Get("as")
		for _, b := range payers {
			if b.GUID == as {
				v.As, v.Payer = b.GUID, b.Name
			}
		}
		if v.As == "" {
			s.render(w, r, http.StatusOK, whoPaysPage(v, payers))
			return
		}
	}
	s.render(w, r, http.StatusOK, payPage(v, noticeFrom(r), r.URL.Path))
}

// notice is the one-line feedback after a form post, chosen from fixed texts by the redirect's query.
type notice struct {
	Text string
	Bad  bool
}

var doneTexts = map[string]string{
	actionApprove: "You approved the payment.",
	actionDecline: "You declined the payment.",
	actionFail:    "You approved the payment; its transfer will fail.",
	actionExpire:  "The payment request expired.",
	actionHold:    "The payment is on hold.",
	actionResume:  "The payment was resumed.",
	actionCancel:  "The payment was canceled.",
}

var errTexts = map[string]string{
	"illegal":  "That is not possible in the payment's current state.",
	"notfound": "That payment does not exist.",
	"reason":   "Pick a reason from the list.",
	"payer":    "That payer is not in the sandbox.",
}

func noticeFrom(r *http.Request) notice {
	q := r.URL.Query()
	if t, ok := errTexts[q.Get("err")]; ok {
		return notice{Text: t, Bad: true}
	}
	return notice{Text: doneTexts[q.Get("done")]}
}

// render writes a page whole, or a 500 if it fails to render: never half a page.
func (s *Sandbox) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := c.Render(r.Context(), buf); err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
