package checkout_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// FuzzParseNewOrder feeds arbitrary form values to the new-order form's decoding. It must never
// panic; an accepted order is within every limit and means what was typed; a refused one is an
// EInvalid *Error with a message for each wrong field, and only for the form's fields.
func FuzzParseNewOrder(f *testing.F) {
	for _, s := range [][4]string{
		{"12.50", "Two coffees", "9f1c2d3e-0000-4000-8000-000000000001", "Ada Lovelace"},
		{"", "", "", ""},
		{"-1", "x", "g", ""},
		{"0.00", " \t ", "g", "n"},
		{"12.345", "<script>alert(1)</script>", "g", "<b>n</b>"},
		{"1000000000", strings.Repeat("é", 501), strings.Repeat("x", 101), "n"},
		{"999999999.99", strings.Repeat("咖", 500), "g", strings.Repeat("Ж", 201)},
		{"1,234.50", "\x00\xff", " g ", " "},
		{" 7 ", "ok", "g", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	parse := func(amount, description, customer, name string) (checkout.NewOrder, error) {
		return checkout.ParseNewOrder(checkout.OrderForm{Amount: amount, Description: description,
			CustomerBanq: customer, CustomerName: name}, 0)
	}
	f.Fuzz(func(t *testing.T, amount, description, customer, name string) {
		n, err := parse(amount, description, customer, name)
		if err != nil {
			var e *checkout.Error
			if !errors.As(err, &e) || e.Code != checkout.EInvalid {
				t.Fatalf("ParseNewOrder(%q, %q, %q, %q): got %v, want an EInvalid *Error", amount, description, customer, name, err)
			}
			if len(e.Fields) == 0 || e.Message == "" {
				t.Fatalf("refused without saying where: %+v", e)
			}
			for field, msg := range e.Fields {
				if field != "amount" && field != "description" && field != "customer" {
					t.Fatalf("message for a field the form does not have: %q", field)
				}
				if msg == "" {
					t.Fatalf("empty message for %s", field)
				}
			}
			// Each field is judged alone: the same field is wrong with the other fields valid.
			valid := [4]string{"1.00", "ok", "9f1c2d3e-0000-4000-8000-000000000001", ""}
			for field := range e.Fields {
				in := valid
				switch field {
				case "amount":
					in[0] = amount
				case "description":
					in[1] = description
				case "customer":
					in[2], in[3] = customer, name
				}
				_, err := parse(in[0], in[1], in[2], in[3])
				var alone *checkout.Error
				if !errors.As(err, &alone) || alone.Fields[field] != e.Fields[field] || len(alone.Fields) != 1 {
					t.Fatalf("%s alone: got %v, want only the message %q", field, err, e.Fields[field])
				}
			}
			return
		}

		want, err := banq.ParseMoney(amount)
		if err != nil || n.Amount != want || n.Amount <= 0 || n.Amount > banq.MaxMoney {
			t.Fatalf("amount %q accepted as %d, want a positive amount within the limit that ParseMoney reads the same (%d, %v)",
				amount, int64(n.Amount), int64(want), err)
		}
		if n.Description != strings.TrimSpace(description) || n.Description == "" ||
			utf8.RuneCountInString(n.Description) > checkout.MaxDescription {
			t.Fatalf("description %q accepted as %q", description, n.Description)
		}
		if n.CustomerBanq != strings.TrimSpace(customer) || uuid.Validate(n.CustomerBanq) != nil || len(n.CustomerBanq) != 36 {
			t.Fatalf("customer %q accepted as %q", customer, n.CustomerBanq)
		}
		if n.CustomerName == "" || utf8.RuneCountInString(n.CustomerName) > checkout.MaxName {
			t.Fatalf("customer name %q accepted as %q", name, n.CustomerName)
		}
		// What was accepted is accepted again, unchanged: shown back in the form and resent,
		// it means the same order.
		again, err := parse(n.Amount.String(), n.Description, n.CustomerBanq, n.CustomerName)
		if err != nil || !reflect.DeepEqual(again, n) {
			t.Fatalf("the accepted order %+v does not parse back the same: %+v, %v", n, again, err)
		}
	})
}
