package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

// The description has one limit: the label states it, the box enforces it (maxlength), the
// server enforces the same, and its message says "at most".
func TestDescriptionLimitIsOne(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	limit := strconv.Itoa(checkout.MaxDescription)
	form := m.Get(t, "/orders/new").Body
	if got, _ := apptest.Attr(form, "description", "maxlength"); got != limit {
		t.Errorf("description box maxlength: got %q, want %s", got, limit)
	}
	if got := apptest.Text(form, "description-label"); !strings.Contains(got, "at most "+limit+" characters") {
		t.Errorf("description label: got %q, want it to say at most %s characters", got, limit)
	}
	customer := a.PayerBanqs(t)[0].GUID
	if r := m.CreateOrder(t, "1.00", strings.Repeat("a", checkout.MaxDescription), customer); r.Status != http.StatusSeeOther {
		t.Errorf("a description of exactly %s characters: got %d, want it accepted", limit, r.Status)
	}
	r := m.CreateOrder(t, "1.00", strings.Repeat("a", checkout.MaxDescription+1), customer)
	if got, want := apptest.Text(r.Body, "description-error"), "The description can be at most "+limit+" characters (it has "+strconv.Itoa(checkout.MaxDescription+1)+")."; r.Status != http.StatusUnprocessableEntity || got != want {
		t.Errorf("one character too many: got %d %q, want 422 %q", r.Status, got, want)
	}
}
