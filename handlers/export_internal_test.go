package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// referenceCSV is the export of orders as it was written before rows were appended by hand:
// encoding/csv over each order's fields formatted with the standard library.
func referenceCSV(orders ...checkout.Order) string {
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(strings.Split(strings.TrimSuffix(csvHeader, "\n"), ","))
	tm := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	text := func(s string) string {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			return "'" + s
		}
		return s
	}
	for _, o := range orders {
		cw.Write([]string{o.Number(), tm(o.CreatedAt), string(o.State), strconv.FormatBool(o.Late), o.Amount.String(),
			text(o.Description), text(o.CustomerName), o.CustomerBanq, o.PaymentID, o.TransactionID,
			tm(o.PaidAt), tm(o.ExpiresAt), string(o.FailReason)})
	}
	cw.Flush()
	return b.String()
}

func exportRow(o checkout.Order) checkout.ExportRow {
	return checkout.ExportRow{ID: o.ID, CreatedAt: o.CreatedAt, State: o.State, Late: o.Late, Amount: o.Amount,
		Description: o.Description, CustomerName: o.CustomerName, CustomerBanq: o.CustomerBanq, PaymentID: o.PaymentID,
		TransactionID: o.TransactionID, PaidAt: o.PaidAt, ExpiresAt: o.ExpiresAt, FailReason: o.FailReason}
}

// trickyTexts are what CSV and spreadsheets trip on: quotes, commas, line breaks, leading
// spaces and formula characters, \. alone, non-ASCII and invalid UTF-8, and nothing at all.
var trickyTexts = []string{"", "Coffee", `Cake, "large"`, `"`, `""`, ",", "Two lines\nof text", "cr\rlf\r\n",
	"=SUM(A1:A9)", "+1", "-5", "@handle", "\tTab", "\rCR", "'quoted already", " padded ", "\u00a0nbsp",
	"\u3000ideographic space", `\.`, `\.x`, "Crème brûlée ☕", "Аня Петрова", "Νίκος", "مرحبا", "\xff\xfe bad",
	"=\"a,b\"\n", "semi;colon", "tab\tinside"}

// Each row is what encoding/csv writes for the same fields, byte for byte.
func TestCSVRowAsEncodingCSV(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 13, 20, 999999999, time.FixedZone("CET", 3600))
	for i, text := range trickyTexts {
		o := checkout.Order{ID: int64(i) * 999_983, CreatedAt: at.Add(time.Duration(i) * 37 * time.Hour), State: checkout.State(text),
			Late: i%2 == 0, Amount: banq.Money(i*i*1001 - 7), Description: text, CustomerName: trickyTexts[len(trickyTexts)-1-i],
			CustomerBanq: text, PaymentID: text, TransactionID: text, FailReason: banq.FailReason(text)}
		if i%3 == 0 {
			o.PaidAt, o.ExpiresAt = at.AddDate(-2026+i, 0, 0), at.Add(-time.Nanosecond)
		}
		want := referenceCSV(o)
		got := csvHeader + string(appendCSVRow(nil, exportRow(o)))
		if got != want {
			t.Errorf("row of %q:\n got %q\nwant %q", text, got, want)
		}
	}
}

func FuzzCSVRow(f *testing.F) {
	for i, s := range trickyTexts {
		f.Add(s, trickyTexts[len(trickyTexts)-1-i], int64(i), int64(i*1001-500), int64(i)*1e17, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, text, name string, id, amount, unixNano int64, late bool) {
		o := checkout.Order{ID: id, CreatedAt: time.Unix(0, unixNano), State: checkout.State(name), Late: late,
			Amount: banq.Money(amount), Description: text, CustomerName: name, CustomerBanq: text, PaymentID: name,
			TransactionID: text, PaidAt: time.Unix(unixNano, 0), ExpiresAt: time.Unix(-unixNano/7, unixNano%1e9),
			FailReason: banq.FailReason(text)}
		if got, want := csvHeader+string(appendCSVRow(nil, exportRow(o))), referenceCSV(o); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// The export over HTTP is, byte for byte, what encoding/csv writes for the orders the store
// holds, newest first, with text that trips CSV up and orders with and without payments.
func TestExportIsTheOrdersAsEncodingCSV(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2025, 2, 28, 23, 59, 59, 500_000_000, time.UTC)
	st.Now = func() time.Time { return at }
	var ids []int64
	for i := 0; i < 2000; i++ { // more than one 64 KiB buffer's worth
		at = at.Add(17 * time.Minute)
		text := trickyTexts[i%len(trickyTexts)]
		o, err := st.CreateOrder(ctx, checkout.Order{Token: fmt.Sprintf("t-%d", i), IdempotencyKey: fmt.Sprintf("k-%d", i),
			Amount: banq.Money(i*97 + 1), Description: text + strconv.Itoa(i), CustomerBanq: "banq-" + strconv.Itoa(i%7),
			CustomerName: trickyTexts[(i/3)%len(trickyTexts)], State: checkout.StateWaiting, ExpiresAt: at.Add(30 * time.Minute)},
			checkout.Event{Kind: checkout.EventCreated, Message: "created"})
		if err != nil {
			t.Fatal(err)
		}
		if i%4 == 1 {
			if _, err := st.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
				o.State, o.PaymentID, o.TransactionID, o.PaidAt, o.Late = checkout.StatePaid, "pay-"+strconv.Itoa(i), "tx, \""+text, at.Add(time.Second), i%8 == 1
				return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "paid"}}}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, o.ID)
	}
	var want []checkout.Order
	for i := len(ids) - 1; i >= 0; i-- {
		o, err := st.Order(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o)
	}
	h := &Handlers{store: st, cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/orders.csv", nil), rec)
	if err := h.exportOrders(c); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200", rec.Code)
	}
	if got, ref := rec.Body.String(), referenceCSV(want...); got != ref {
		i := 0
		for i < len(got) && i < len(ref) && got[i] == ref[i] {
			i++
		}
		t.Fatalf("the export differs from encoding/csv's at byte %d of %d:\n got …%q…\nwant …%q…",
			i, len(ref), got[max(0, i-80):min(len(got), i+80)], ref[max(0, i-80):min(len(ref), i+80)])
	}
}
