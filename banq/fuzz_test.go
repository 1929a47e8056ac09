package banq_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/banq"
)

// FuzzVerifyAndParseWebhook feeds arbitrary bodies, secrets and signature headers to the
// webhook receiver's two steps. Neither may panic; a body signed under a secret verifies under
// it (alone or among rotated secrets) and stops verifying when a byte changes; every parse
// error wraps ErrMalformedWebhook; a parsed webhook survives encoding and parsing again.
func FuzzVerifyAndParseWebhook(f *testing.F) {
	f.Add([]byte(webhookBody), "secret", banq.Sign([]byte(webhookBody), "secret"))
	f.Add([]byte(webhookBody), "secret", "not base64")
	f.Add([]byte(`{"id":"w","resourceId":"r","resourceType":"Payment","action":"Resumed"}`), "", "")
	f.Add([]byte(`{"id":"w","resourceId":"r","resourceType":"Payment","action":"Resumed"}}`), "k", "AAAA")
	f.Add([]byte(`[]`), "k", strings.Repeat("A", 43)+"=")
	f.Add([]byte{}, "k", " ")

	f.Fuzz(func(t *testing.T, body []byte, secret, signature string) {
		if err := banq.VerifySignature(body, signature, secret); err == nil {
			// Whatever header verified must decode to the signature Sign makes.
			got, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
			want, _ := base64.StdEncoding.DecodeString(banq.Sign(body, secret))
			if secret == "" || !bytes.Equal(got, want) {
				t.Fatalf("header %q verified under secret %q, but Sign gives %q", signature, secret, banq.Sign(body, secret))
			}
		} else if !errors.Is(err, banq.ErrSignatureInvalid) && !errors.Is(err, banq.ErrSignatureMissing) {
			t.Fatalf("VerifySignature: got %v, want ErrSignatureInvalid or ErrSignatureMissing", err)
		}

		if secret != "" {
			sig := banq.Sign(body, secret)
			if err := banq.VerifySignature(body, sig, secret); err != nil {
				t.Fatalf("a body signed under %q does not verify: %v", secret, err)
			}
			if err := banq.VerifySignature(body, sig, "", "rotated-"+secret, secret); err != nil {
				t.Fatalf("a body signed under %q does not verify among rotated secrets: %v", secret, err)
			}
			if len(body) > 0 {
				changed := bytes.Clone(body)
				changed[len(changed)/2] ^= 0x20
				if banq.VerifySignature(changed, sig, secret) == nil {
					t.Fatalf("a changed body verifies under the original signature")
				}
			}
		}

		w, err := banq.ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, banq.ErrMalformedWebhook) {
				t.Fatalf("ParseWebhook: got %v, want it to wrap ErrMalformedWebhook", err)
			}
			return
		}
		again, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("a parsed webhook does not encode: %+v: %v", w, err)
		}
		w2, err := banq.ParseWebhook(again)
		if err != nil {
			t.Fatalf("a parsed webhook does not parse again: %s: %v", again, err)
		}
		if !w2.CreatedAtUTC.Equal(w.CreatedAtUTC) {
			t.Fatalf("createdAtUtc changed: got %v, want %v", w2.CreatedAtUTC, w.CreatedAtUTC)
		}
		w2.CreatedAtUTC = w.CreatedAtUTC
		if w2 != w {
			t.Fatalf("round trip changed the webhook: got %+v, want %+v", w2, w)
		}
	})
}

// FuzzParseMoney checks that ParseMoney never panics, only returns amounts from 0 to MaxMoney,
// and that what it parsed reads back the same from String, Display and JSON.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12", "12.5", "1,234.50", ".5", "5.", "-1", "1e5", "999999999.99",
		"1000000000", "0.001", "12.500", " 7 ", "", ",", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m := banq.Money(0); m.UnmarshalJSON([]byte(s)) == nil {
			b, err := json.Marshal(m)
			var back banq.Money
			if err != nil || json.Unmarshal(b, &back) != nil || back != m {
				t.Fatalf("UnmarshalJSON(%q) = %d, which does not round-trip through %s", s, int64(m), b)
			}
		}

		m, err := banq.ParseMoney(s)
		if err != nil {
			return
		}
		if m < 0 || m > banq.MaxMoney {
			t.Fatalf("ParseMoney(%q) = %d, out of range", s, int64(m))
		}
		for _, text := range []string{m.String(), m.Display()} {
			if back, err := banq.ParseMoney(text); err != nil || back != m {
				t.Fatalf("ParseMoney(%q) = %d, but %q parses to %d, %v", s, int64(m), text, int64(back), err)
			}
		}
		var back banq.Money
		if err := json.Unmarshal([]byte(m.String()), &back); err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %d, but its JSON %s reads %d, %v", s, int64(m), m.String(), int64(back), err)
		}
	})
}
