package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// discard is a response that keeps nothing: the export's own allocations, not a buffer's.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}
func (d discard) Flush()                      {}

// An export allocates little per row beyond the strings the database driver hands over: a
// million orders must not keep the garbage collector busy. Reading whole orders and formatting
// every field into a string of its own took about a quarter of the export's CPU in allocation
// and GC (docs/performance.md). Allocation counts do not depend on the machine's speed.
func TestExportAllocatesLittlePerRow(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return at }
	const rows = 1000
	for i := 0; i < rows; i++ {
		at = at.Add(time.Minute)
		if _, err := st.CreateOrder(ctx, checkout.Order{Token: fmt.Sprintf("t-%d", i), IdempotencyKey: fmt.Sprintf("k-%d", i),
			Amount: banq.Money(i*97 + 1), Description: fmt.Sprintf("Coffee beans, %d bags", i%9+1), CustomerBanq: "banq-1",
			CustomerName: "Zoë Brontë", State: checkout.StateWaiting, ExpiresAt: at.Add(30 * time.Minute)},
			checkout.Event{Kind: checkout.EventCreated, Message: "created"}); err != nil {
			t.Fatal(err)
		}
	}
	h := &Handlers{store: st, cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler)}
	e := echo.New()
	allocs := testing.AllocsPerRun(3, func() {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/orders.csv", nil), discard{http.Header{}})
		if err := h.exportOrders(c); err != nil {
			t.Fatal(err)
		}
	})
	// The driver hands each text value over as a string in an interface, two allocations (six
	// values here are not empty), and each integer above 255 boxed, one: 14 a row. Whole orders
	// with their fields formatted one by one took 35.
	const most = 20
	t.Logf("%.1f allocations per row", allocs/rows)
	if perRow := allocs / rows; perRow > most {
		t.Errorf("the export allocates %.1f times per row, want at most %d", perRow, most)
	}
}
