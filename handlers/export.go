package handlers

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// orderFilter reads the merchant list's filter from the query: state, search q, and the days
// from and to (YYYY-MM-DD, both included, in UTC). A malformed day is ignored and reported in
// the returned field errors.
func orderFilter(c echo.Context) (checkout.OrderFilter, views.OrdersView) {
	f := checkout.OrderFilter{
		State:  checkout.State(c.QueryParam("state")),
		Search: strings.TrimSpace(c.QueryParam("q")),
	}
	if f.State != "" && !f.State.Valid() {
		f.State = ""
	}
	if len(f.Search) > 200 {
		f.Search = f.Search[:200]
	}
	v := views.OrdersView{State: string(f.State), Search: f.Search}
	day := func(field string) (time.Time, string) {
		s := strings.TrimSpace(c.QueryParam(field))
		if s == "" {
			return time.Time{}, ""
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			if v.Errors == nil {
				v.Errors = map[string]string{}
			}
			v.Errors[field] = "Give the day as YYYY-MM-DD; “" + s + "” was ignored."
			return time.Time{}, ""
		}
		return t, s
	}
	f.From, v.From = day("from")
	if to, s := day("to"); !to.IsZero() {
		f.To, v.To = to.AddDate(0, 0, 1), s // the whole day
	}
	v.Filtered = f.State != "" || f.Search != "" || !f.From.IsZero() || !f.To.IsZero()
	return f, v
}

// csvHeader names the export's columns. Amounts are plain decimals ("1234.50"), times RFC 3339
// in UTC, so that a spreadsheet or a script reads them without guessing.
var csvHeader = []string{"order", "created_at", "state", "late", "amount", "description", "customer_name",
	"customer_banq", "payment_id", "transaction_id", "paid_at", "expires_at", "fail_reason"}

// exportOrders streams every order the list's filter selects as CSV, newest first, one row at a
// time (any number of orders, little memory), flushed every few hundred rows.
func (h *Handlers) exportOrders(c echo.Context) error {
	f, v := orderFilter(c)
	if len(v.Errors) > 0 {
		return checkout.Errorf(checkout.EInvalid, "%s", firstError(v.Errors))
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="orders-`+h.cfg.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	// An export may take longer than the server's write timeout allows a page.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	cw := csv.NewWriter(w)
	started := false
	n := 0
	err := h.store.EachOrder(c.Request().Context(), f, func(o checkout.Order) error {
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
			if err := cw.Write(csvHeader); err != nil {
				return err
			}
		}
		if err := cw.Write(csvRow(o)); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			cw.Flush()
			w.Flush()
		}
		return cw.Error()
	})
	if err != nil {
		if !started {
			return err
		}
		// Half a file has gone out: end it so that it cannot pass for complete.
		h.log.Error("export orders", "rows", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		w.WriteHeader(http.StatusOK)
		cw.Write(csvHeader)
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(o checkout.Order) []string {
	return []string{
		o.Number(), csvTime(o.CreatedAt), string(o.State), strconv.FormatBool(o.Late), o.Amount.String(),
		csvText(o.Description), csvText(o.CustomerName), o.CustomerBanq, o.PaymentID, o.TransactionID,
		csvTime(o.PaidAt), csvTime(o.ExpiresAt), string(o.FailReason),
	}
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvText defuses text that a spreadsheet would run as a formula (it begins with =, +, -, @, a
// tab or a carriage return): customer names come from Banq, that is from anyone. A leading
// apostrophe makes it plain text, as OWASP advises.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func firstError(errs map[string]string) string {
	for _, k := range []string{"from", "to"} {
		if m, ok := errs[k]; ok {
			return m
		}
	}
	return "Please correct the filter."
}
