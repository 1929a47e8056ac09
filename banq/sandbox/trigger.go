package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/banq-checkout/checkout/banq"
)

// Actions lists the payment actions of the control endpoint POST /sandbox/payments/{id}/{action}.
var Actions = []string{actionApprove, actionDecline, actionFail, actionExpire, actionHold, actionResume, actionCancel}

// Trigger drives a payment of a running sandbox at baseURL through an action, over its control
// endpoint, as a payment provider's CLI does in test mode. reason is required for "fail" only.
// It returns the payment as the sandbox answered; an error wrapping ErrNotFound or
// ErrIllegalTransition when the sandbox refused for those reasons, ErrInvalidReason for a fail
// reason it does not know.
func Trigger(ctx context.Context, hc *http.Client, baseURL, paymentID, action string, reason banq.FailReason) (banq.Payment, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if _, ok := transitions[action]; !ok {
		return banq.Payment{}, fmt.Errorf("unknown action %q: use one of %s", action, strings.Join(Actions, ", "))
	}
	if action == actionFail && !reason.Valid() {
		return banq.Payment{}, fmt.Errorf("%w %q: fail needs one of %s", ErrInvalidReason, reason, reasonList())
	}
	var body io.Reader
	if reason != "" {
		b, _ := json.Marshal(map[string]string{"reason": string(reason)})
		body = bytes.NewReader(b)
	}
	u := strings.TrimRight(baseURL, "/") + "/sandbox/payments/" + url.PathEscape(paymentID) + "/" + url.PathEscape(action)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return banq.Payment{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return banq.Payment{}, fmt.Errorf("reach the sandbox at %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e banq.ErrorBody
		json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		kind := map[int]error{http.StatusNotFound: ErrNotFound, http.StatusConflict: ErrIllegalTransition}[resp.StatusCode]
		if kind == nil {
			return banq.Payment{}, fmt.Errorf("sandbox answered %s: %s", resp.Status, e.Message)
		}
		return banq.Payment{}, fmt.Errorf("%w: %s", kind, e.Message)
	}
	var p banq.Payment
	if err := json.Unmarshal(data, &p); err != nil {
		return banq.Payment{}, fmt.Errorf("read the sandbox's answer: %w", err)
	}
	return p, nil
}
