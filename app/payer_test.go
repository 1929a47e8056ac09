package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/app/apptest"
)

// TestPayerIsABanqGUIDNamedByBanq: the customer field must be a GUID, and the payer's name on
// the order is Banq's, never what the form says, wherever in the directory the banq is.
func TestPayerIsABanqGUIDNamedByBanq(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	last := payers[len(payers)-1] // past the form's first page of ten

	post := func(customer, name string) apptest.Response {
		t.Helper()
		return m.PostForm(t, "/orders/new", "/orders", url.Values{"amount": {"2.00"}, "description": {"Payer check"},
			"customer": {customer}, "customer_name": {name}})
	}
	for name, customer := range map[string]string{
		"not a GUID":             "not-a-guid",
		"a GUID in braces":       "{" + last.GUID + "}",
		"a GUID Banq never gave": uuid.NewString(),
	} {
		before := countOrders(t, a)
		if r := post(customer, "Mallory"); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d, want 422", name, r.Status)
		}
		if after := countOrders(t, a); after != before {
			t.Errorf("%s: %d orders, want %d (none created)", name, after, before)
		}
		if got, err := a.Sandbox.Payments(context.Background(), "", customer); err != nil || len(got) != 0 {
			t.Errorf("%s: Banq was asked for %d payments (%v), want none", name, len(got), err)
		}
	}

	r := post(last.GUID, "Mallory")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("a banq from the directory's last page: got %d, want 303", r.Status)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(r.Location, "/orders/"), 10, 64)
	if err != nil {
		t.Fatalf("created order at %q: %v", r.Location, err)
	}
	o, err := a.DB.Order(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o.CustomerName != last.Name || o.CustomerBanq != last.GUID {
		t.Errorf("order's payer: got %q %s, want Banq's name %q %s", o.CustomerName, o.CustomerBanq, last.Name, last.GUID)
	}
}
