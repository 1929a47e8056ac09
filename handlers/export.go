package handlers

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
const csvHeader = "order,created_at,state,late,amount,description,customer_name,customer_banq,payment_id," +
	"transaction_id,paid_at,expires_at,fail_reason\n"

// exportOrders streams every order the list's filter selects as CSV, newest first, one row at a
// time (any number of orders, little memory). Each row is appended to one reused line and goes
// out through a 64 KiB buffer: an export of a million orders allocates next to nothing per row
// and writes to the connection once per 64 KiB.
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
	out := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	started := false
	n := 0
	err := h.store.EachExportRow(c.Request().Context(), f, func(r checkout.ExportRow) error {
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
			out.WriteString(csvHeader)
		}
		line = appendCSVRow(line[:0], r)
		n++
		_, err := out.Write(line)
		return err
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
		out.WriteString(csvHeader)
	}
	return out.Flush()
}

// appendCSVRow appends r to b as one line of the export, byte for byte as encoding/csv's Writer
// would write the record (TestCSVRowAsEncodingCSV holds it to that), without building the
// record's strings.
func appendCSVRow(b []byte, r checkout.ExportRow) []byte {
	b = strconv.AppendInt(b, r.ID, 10) // the order's number
	b = append(b, ',')
	b = appendCSVTime(b, r.CreatedAt)
	b = append(b, ',')
	b = appendCSVField(b, string(r.State))
	b = append(b, ',')
	b = strconv.AppendBool(b, r.Late)
	b = append(b, ',')
	b = r.Amount.Append(b)
	b = append(b, ',')
	b = appendCSVText(b, r.Description)
	b = append(b, ',')
	b = appendCSVText(b, r.CustomerName)
	b = append(b, ',')
	b = appendCSVField(b, r.CustomerBanq)
	b = append(b, ',')
	b = appendCSVField(b, r.PaymentID)
	b = append(b, ',')
	b = appendCSVField(b, r.TransactionID)
	b = append(b, ',')
	b = appendCSVTime(b, r.PaidAt)
	b = append(b, ',')
	b = appendCSVTime(b, r.ExpiresAt)
	b = append(b, ',')
	b = appendCSVField(b, string(r.FailReason))
	return append(b, '\n')
}

// appendCSVTime appends t in UTC as RFC 3339 to the second ("2026-12-02T07:13:20Z"), nothing for
// the zero time.
func appendCSVTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339)
	}
	hour, minute, sec := t.Clock()
	two := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = two(two(b, year/100), year%100)
	b = two(append(b, '-'), int(month))
	b = two(append(b, '-'), day)
	b = two(append(b, 'T'), hour)
	b = two(append(b, ':'), minute)
	b = two(append(b, ':'), sec)
	return append(b, 'Z')
}

// appendCSVText appends text that people or Banq wrote, defused: a spreadsheet would run text
// that begins with =, +, -, @, a tab or a carriage return as a formula (customer names come from
// Banq, that is from anyone), so a leading apostrophe makes it plain text, as OWASP advises.
func appendCSVText(b []byte, s string) []byte {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return appendCSVField(b, s)
	}
	// "'" + s, quoted as the field would be: the apostrophe is no space, so only s's
	// characters can call for quotes.
	if !csvSpecial(s) {
		return append(append(b, '\''), s...)
	}
	return append(appendCSVQuoted(append(b, '"', '\''), s), '"')
}

// appendCSVField appends s as encoding/csv writes a field with its default settings: in quotes
// when it holds a comma, a quote or a line break, begins with a space, or is \. (which some
// readers take for the end of the data), with quotes doubled; line breaks are kept as they are.
func appendCSVField(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	if !csvSpecial(s) && s != `\.` {
		if r, _ := utf8.DecodeRuneInString(s); !unicode.IsSpace(r) {
			return append(b, s...)
		}
	}
	return append(appendCSVQuoted(append(b, '"'), s), '"')
}

// csvSpecial reports whether s holds a character that makes encoding/csv quote a field.
func csvSpecial(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

// appendCSVQuoted appends s with its quotes doubled, the inside of a quoted field.
func appendCSVQuoted(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
}

func firstError(errs map[string]string) string {
	for _, k := range []string{"from", "to"} {
		if m, ok := errs[k]; ok {
			return m
		}
	}
	return "Please correct the filter."
}
