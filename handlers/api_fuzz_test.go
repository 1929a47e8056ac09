package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// FuzzAPIOrderBody feeds arbitrary bytes to the API's create body: decoding and validation must
// never panic; a refusal is a 400 problem naming fields (decoding) or an EInvalid error naming
// fields of the body (validation); an accepted order is within every limit, and the same order
// written another way gets the same request hash.
func FuzzAPIOrderBody(f *testing.F) {
	for _, s := range []string{
		`{"amount": "12.50", "description": "Two coffees"}`,
		`{"amount": "1", "description": "x", "reference": "cart-1", "metadata": {"a": "b"}, "expires_in_minutes": 20,
			"return_url": "https://shop.example/ok", "cancel_url": "http://127.0.0.1:8080/no", "payer_banq": "b-1", "payer_name": "Ada"}`,
		`{"amount": 1, "description": "x"}`,
		`{"amount": "1", "description": "x", "colour": "red"}`,
		`{"amount": "99999999999.99", "description": "\u0000"}`,
		`{"amount": "1", "description": "x", "return_url": "https://user:pw@shop.example/"}`,
		`{"amount": "1", "description": "x", "metadata": {"": ""}}`,
		`{"amount": "1", "description": "x", "reference": " r"}`,
		`[]`, `null`, `{}`, `{"amount": "1", "description": "x"} {}`,
	} {
		f.Add([]byte(s))
	}
	const public = "https://pay.example.com"
	f.Fuzz(func(t *testing.T, body []byte) {
		var b apiNewOrder
		err := decodeObject(body, &b, apiNewOrderFields)
		var p *apiProblem
		if err != nil {
			if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
				t.Fatalf("decode %q: got %v, want a 400 problem", body, err)
			}
			for _, fp := range p.Errors {
				if fp.Field == "" || fp.Detail == "" {
					t.Fatalf("decode %q: a field problem without field or detail: %+v", body, fp)
				}
			}
			return
		}
		n, err := b.parse(public, true, 30*time.Minute)
		if err != nil {
			var ce *checkout.Error
			if !errors.As(err, &ce) || ce.Code != checkout.EInvalid || len(ce.Fields) == 0 {
				t.Fatalf("parse %q: got %v, want EInvalid naming fields", body, err)
			}
			for field := range ce.Fields {
				if !slices.Contains(apiNewOrderFields, field) {
					t.Fatalf("parse %q: the error names %q, not a field of the body", body, field)
				}
			}
			return
		}
		if n.Amount <= 0 || n.Amount > banq.MaxMoney || n.Description == "" ||
			utf8.RuneCountInString(n.Description) > checkout.MaxDescription || !utf8.ValidString(n.Description) {
			t.Fatalf("%q accepted with amount %v, description %q", body, n.Amount, n.Description)
		}
		if utf8.RuneCountInString(n.Reference) > maxReference || len(n.Metadata) > maxMetadata ||
			n.TTL < checkout.MinOrderTTL || n.TTL > checkout.MaxOrderTTL || (n.CustomerBanq == "") != (b.PayerBanq == "") {
			t.Fatalf("%q accepted as %+v", body, n)
		}
		for _, u := range []string{n.ReturnURL, n.CancelURL} {
			if u != "" && checkReturnURL(u, public, true) != "" {
				t.Fatalf("%q accepted the return URL %q", body, u)
			}
		}
		if n.CancelURL != "" && n.ReturnURL == "" {
			t.Fatalf("%q accepted a cancel URL without a return URL", body)
		}
		// Written again in another key order and spacing, it is the same request.
		again, _ := json.MarshalIndent(b, "", "  ")
		var b2 apiNewOrder
		if err := decodeObject(again, &b2, apiNewOrderFields); err != nil {
			t.Fatalf("the accepted body %q does not decode again: %v", again, err)
		}
		n2, err := b2.parse(public, true, 30*time.Minute)
		if err != nil || n2.RequestHash != n.RequestHash {
			t.Fatalf("the accepted body %q, written again, hashes %q (%v), want %q", body, n2.RequestHash, err, n.RequestHash)
		}
	})
}

func TestCheckReturnURL(t *testing.T) {
	const public = "http://pay.example.com:8080"
	for _, tc := range []struct {
		url     string
		sandbox bool
		ok      bool
	}{
		{"https://shop.example/thanks", false, true},
		{"https://shop.example:8443/thanks?x=1#top", false, true},
		{"http://pay.example.com:8080/done", false, true}, // the checkout's own origin
		{"http://pay.example.com/done", false, false},     // another port is another origin
		{"http://shop.example/thanks", false, false},
		{"http://127.0.0.1:9000/return", true, true},
		{"http://localhost:9000/return", true, true},
		{"http://[::1]:9000/return", true, true},
		{"http://127.0.0.1:9000/return", false, false},
		{"http://127.0.0.1.nip.io/return", true, false},
		{"javascript:alert(1)", true, false},
		{"//shop.example/x", false, false},
		{"/thanks", false, false},
		{"https://user:pw@shop.example/", false, false},
		{"https://shop.example/" + strings.Repeat("a", 2000), false, false},
	} {
		if got := checkReturnURL(tc.url, public, tc.sandbox) == ""; got != tc.ok {
			t.Errorf("checkReturnURL(%q, sandbox %v): accepted %v, want %v", tc.url, tc.sandbox, got, tc.ok)
		}
	}
}
