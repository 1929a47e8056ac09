package banq

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors of VerifySignature and ParseWebhook.
var (
	ErrSignatureMissing = errors.New("webhook signature missing")
	ErrSignatureInvalid = errors.New("webhook signature invalid")
	ErrMalformedWebhook = errors.New("malformed webhook")
)

// Sign returns the X-Banq-Webhook-Hmac value for body: base64 of HMAC-SHA256 keyed with secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks signature (the X-Banq-Webhook-Hmac header) against body under each of
// secrets, so that a secret can be rotated without losing webhooks signed with the old one.
// It returns ErrSignatureMissing when signature is empty and ErrSignatureInvalid when no secret
// matches. Comparison is in constant time.
func VerifySignature(body []byte, signature string, secrets ...string) error {
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return ErrSignatureMissing
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return ErrSignatureInvalid
	}
	ok := false
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		// Every secret is tried, so timing does not tell which one matched.
		if hmac.Equal(got, mac.Sum(nil)) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureInvalid
	}
	return nil
}

// ParseWebhook decodes a webhook body. It returns an error wrapping ErrMalformedWebhook that
// says what is wrong: not one JSON object, a missing or overlong id, or a missing or overlong
// resource id on a webhook about a payment or transaction. It never refuses a webhook for what
// it says: a resource type and action are matched whatever their case and returned spelt as
// this package spells them; one it does not know is returned as sent.
func ParseWebhook(body []byte) (Webhook, error) {
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return Webhook{}, fmt.Errorf("%w: %v", ErrMalformedWebhook, err)
	}
	// dec.More would miss a stray '}' or ']' after the object; only the end of input will do.
	if _, err := dec.Token(); err != io.EOF {
		return Webhook{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformedWebhook)
	}
	for known, actions := range webhookActions {
		if strings.EqualFold(string(w.ResourceType), string(known)) {
			w.ResourceType = known
			for a := range actions {
				if strings.EqualFold(string(w.Action), string(a)) {
					w.Action = a
				}
			}
		}
	}
	_, knownType := webhookActions[w.ResourceType]
	switch {
	case strings.TrimSpace(w.ID) == "":
		return Webhook{}, fmt.Errorf("%w: id is missing", ErrMalformedWebhook)
	case len(w.ID) > 100:
		return Webhook{}, fmt.Errorf("%w: id is longer than 100 characters", ErrMalformedWebhook)
	case knownType && strings.TrimSpace(w.ResourceID) == "":
		return Webhook{}, fmt.Errorf("%w: resourceId is missing", ErrMalformedWebhook)
	case len(w.ResourceID) > 100:
		return Webhook{}, fmt.Errorf("%w: resourceId is longer than 100 characters", ErrMalformedWebhook)
	}
	return w, nil
}

var webhookActions = map[ResourceType]map[WebhookAction]bool{
	ResourcePayment: {
		ActionCreated: true, ActionCompleted: true, ActionAccepted: true, ActionDeclined: true,
		ActionOnHold: true, ActionCanceled: true, ActionExpired: true, ActionResumed: true,
		ActionOccurrenceCanceled: true,
	},
	ResourceTransaction: {ActionCreated: true, ActionFailed: true, ActionUpdated: true},
}
