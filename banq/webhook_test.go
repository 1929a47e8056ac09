package banq_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

const webhookBody = `{"accountSpaceId": 1, "action": "Created", "id": "3f1c9a2e-0000-4000-8000-000000000001",
 "resourceId": "9b2d7c4e-0000-4000-8000-000000000002", "resourceType": "Transaction",
 "createdAtUtc": "2021-01-11T12:12:12.5431424+00:00"}`

func TestVerifySignature(t *testing.T) {
	body := []byte(webhookBody)
	sig := banq.Sign(body, "secret-new")
	raw, _ := base64.StdEncoding.DecodeString(sig)
	flipped := append([]byte(nil), raw...)
	flipped[0] ^= 1
	changedBody := []byte(strings.Replace(webhookBody, `"accountSpaceId": 1`, `"accountSpaceId": 2`, 1))

	tests := []struct {
		name    string
		body    []byte
		sig     string
		secrets []string
		want    error
	}{
		{"signed body", body, sig, []string{"secret-new"}, nil},
		{"surrounding spaces", body, " " + sig + "\n", []string{"secret-new"}, nil},
		{"rotation: new secret first", body, sig, []string{"secret-new", "secret-old"}, nil},
		{"rotation: signed with the old one", body, banq.Sign(body, "secret-old"), []string{"secret-new", "secret-old"}, nil},
		{"empty secrets skipped", body, sig, []string{"", "secret-new"}, nil},

		{"body changed by one byte", changedBody, sig, []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"body with a byte added", append(append([]byte(nil), body...), ' '), sig, []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"signature changed by one byte", body, base64.StdEncoding.EncodeToString(flipped), []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"signature with a character changed", body, "A" + sig[1:], []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"other secret", body, sig, []string{"secret-old"}, banq.ErrSignatureInvalid},
		{"retired secret", body, banq.Sign(body, "secret-old"), []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"no secrets", body, sig, nil, banq.ErrSignatureInvalid},
		{"only empty secrets", body, banq.Sign(body, ""), []string{""}, banq.ErrSignatureInvalid},
		{"missing header", body, "", []string{"secret-new"}, banq.ErrSignatureMissing},
		{"blank header", body, "   ", []string{"secret-new"}, banq.ErrSignatureMissing},
		{"not base64", body, "not base64!", []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"hex, not base64", body, strings.Repeat("ab", 32), []string{"secret-new"}, banq.ErrSignatureInvalid},
		{"too short", body, base64.StdEncoding.EncodeToString(raw[:16]), []string{"secret-new"}, banq.ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := banq.VerifySignature(tt.body, tt.sig, tt.secrets...); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignIsStable(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published test vector.
	got := banq.Sign([]byte("The quick brown fox jumps over the lazy dog"), "key")
	if want := "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestParseWebhook(t *testing.T) {
	w, err := banq.ParseWebhook([]byte(webhookBody))
	if err != nil {
		t.Fatal(err)
	}
	want := banq.Webhook{AccountSpaceID: 1, Action: banq.ActionCreated, ID: "3f1c9a2e-0000-4000-8000-000000000001",
		ResourceID: "9b2d7c4e-0000-4000-8000-000000000002", ResourceType: banq.ResourceTransaction,
		CreatedAtUTC: time.Date(2021, 1, 11, 12, 12, 12, 543142400, time.UTC)}
	if w.CreatedAtUTC.Equal(want.CreatedAtUTC) {
		w.CreatedAtUTC = want.CreatedAtUTC
	}
	if w != want {
		t.Errorf("got %+v, want %+v", w, want)
	}
}

func TestParseWebhookRejects(t *testing.T) {
	long := strings.Repeat("x", 101)
	tests := []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"null", `null`},
		{"missing id", `{"resourceId":"r","resourceType":"Payment","action":"Created"}`},
		{"blank id", `{"id":"  ","resourceId":"r","resourceType":"Payment","action":"Created"}`},
		{"id too long", `{"id":"` + long + `","resourceId":"r","resourceType":"Payment","action":"Created"}`},
		{"missing resourceId", `{"id":"w","resourceType":"Payment","action":"Created"}`},
		{"missing resourceId, lower case", `{"id":"w","resourceType":"transaction","action":"Created"}`},
		{"resourceId too long", `{"id":"w","resourceId":"` + long + `","resourceType":"Payment","action":"Created"}`},
		{"truncated", webhookBody[:len(webhookBody)/2]},
		{"array", `[` + webhookBody + `]`},
		{"string", `"webhook"`},
		{"id is an object", `{"id":{"v":5},"resourceId":"r","resourceType":"Payment","action":"Created"}`},
		{"id is true", `{"id":true,"resourceId":"r","resourceType":"Payment","action":"Created"}`},
		{"two objects", webhookBody + webhookBody},
		{"trailing brace", webhookBody + `}`},
		{"trailing bracket", webhookBody + `]`},
		{"trailing text", webhookBody + ` x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := banq.ParseWebhook([]byte(tt.body))
			if !errors.Is(err, banq.ErrMalformedWebhook) {
				t.Errorf("got %+v, %v; want ErrMalformedWebhook", w, err)
			}
			if w != (banq.Webhook{}) {
				t.Errorf("got %+v with the error, want the zero Webhook", w)
			}
		})
	}
}

// A signed, well-formed webhook is never refused for what it says: type and action are matched
// whatever their case (the webhook config itself spells types in lower case), and a type or
// action this client does not know is kept as sent, for the checkout to ignore or act on.
func TestParseWebhookTolerates(t *testing.T) {
	tests := []struct {
		body   string
		typ    banq.ResourceType
		action banq.WebhookAction
	}{
		{`{"id":"w","resourceId":"r","resourceType":"payment","action":"accepted"}`, banq.ResourcePayment, banq.ActionAccepted},
		{`{"id":"w","resourceId":"r","resourceType":"TRANSACTION","action":"failed"}`, banq.ResourceTransaction, banq.ActionFailed},
		{`{"id":"w","resourceId":"r","resourceType":"Payment","action":"oNhOlD"}`, banq.ResourcePayment, banq.ActionOnHold},
		{`{"id":"w","resourceId":"r","resourceType":"Payment","action":"Refunded"}`, banq.ResourcePayment, "Refunded"},
		{`{"id":"w","resourceId":"r","resourceType":"Payment","action":"Failed"}`, banq.ResourcePayment, "Failed"},
		{`{"id":"w","resourceId":"r","resourceType":"Payment"}`, banq.ResourcePayment, ""},
		{`{"id":"w","resourceId":"r","resourceType":"Refund","action":"Created"}`, "Refund", banq.ActionCreated},
		{`{"id":"w","resourceType":"Account","action":"Updated"}`, "Account", banq.ActionUpdated},
		{`{"id":"w","resourceId":"r","action":"Created"}`, "", banq.ActionCreated},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			w, err := banq.ParseWebhook([]byte(tt.body))
			if err != nil {
				t.Fatalf("got %v, want it accepted", err)
			}
			if w.ResourceType != tt.typ || w.Action != tt.action {
				t.Errorf("got %q %q, want %q %q", w.ResourceType, w.Action, tt.typ, tt.action)
			}
		})
	}
}
