package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/ingest"
)

// inFlight reports whether the worker would wait on gate: WaitIdle returns at once when no
// received delivery is in flight, and only when ctx ends otherwise.
func inFlight(gate *ingest.Gate) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	gate.WaitIdle(ctx, time.Hour)
	return ctx.Err() != nil
}

func TestDeliveryIsMarkedOnlyOnceItsBodyHasArrived(t *testing.T) {
	gate := &ingest.Gate{}
	var before, after bool
	handler := markReceived(gate)(func(c echo.Context) error {
		before = inFlight(gate)
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
		after = inFlight(gate)
		return c.NoContent(http.StatusOK)
	})
	e := echo.New()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/banq", strings.NewReader(`{"id":"x"}`))
	if err := handler(e.NewContext(req, httptest.NewRecorder())); err != nil {
		t.Fatal(err)
	}
	if before {
		t.Error("marked in flight before its body was read, want not (a trickling sender would hold the worker up)")
	}
	if !after {
		t.Error("not marked in flight once its body was read, want marked until answered")
	}
	if inFlight(gate) {
		t.Error("still marked in flight after it was answered")
	}
}
