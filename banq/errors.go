package banq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// Sentinel errors, for errors.Is on what the client returns. Every failed answer from Banq is an
// *Error that matches exactly one of them.
var (
	ErrNotFound     = errors.New("banq: not found")                   // 404
	ErrUnauthorized = errors.New("banq: unauthorized")                // 401, or credentials refused by the auth server
	ErrForbidden    = errors.New("banq: forbidden")                   // 403
	ErrValidation   = errors.New("banq: request rejected")            // 400 and 422, or an invalid argument
	ErrUnavailable  = errors.New("banq: unavailable")                 // 5xx, 429 or network failure, after retries
	ErrUnexpected   = errors.New("banq: unexpected answer from Banq") // any other status
)

// Error is a failed call to Banq: an error answer, or a network failure once retries are spent.
type Error struct {
	Op      string              // route name of the call, e.g. "payments.get" or "oauth.token"
	Status  int                 // HTTP status of the last attempt; 0 if none was received
	Message string              // Banq's message, fit to show the merchant
	Fields  map[string][]string // per-field messages of a validation error ("funds", "source.banqGuid")

	kind           error // the sentinel it matches
	cause          error // the network or decoding error behind it, if any
	unknownOutcome bool  // Banq answered success but the answer could not be read
}

// Error reads "banq payments.get: 404: payment not found (funds: must be positive)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("banq ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d: ", e.Status)
	}
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for name := range e.Fields {
			names = append(names, name)
		}
		sort.Strings(names)
		b.WriteString(" (")
		for i, name := range names {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(strings.Join(e.Fields[name], ", "))
		}
		b.WriteString(")")
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Is reports whether target is the sentinel matching e (ErrNotFound for a 404, and so on).
func (e *Error) Is(target error) bool { return target != nil && target == e.kind }

// Unwrap returns the network or decoding error behind e, if any.
func (e *Error) Unwrap() error { return e.cause }

// Temporary reports whether retrying the same call later could succeed: a network failure, a
// timeout, a cancelled call, 429 or 5xx. It also reports true when Banq answered success but
// the answer could not be read, because then the outcome is unknown (a create retried with the
// same idempotency key returns the payment if it was made). It reports false when Banq rejected
// the call (400, 401, 403, 404, 422): the same call would be rejected again.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.kind == ErrUnavailable || e.unknownOutcome
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	_, isNet := errors.AsType[net.Error](err)
	return isNet
}

// kindOf maps an HTTP status to its sentinel.
func kindOf(status int) error {
	switch {
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return ErrValidation
	case status == http.StatusTooManyRequests || status >= 500:
		return ErrUnavailable
	default:
		return ErrUnexpected
	}
}

// maxMessage bounds a message taken from a body that is not Banq's JSON error (an HTML page
// from a proxy, say), so that a whole page never lands in an error or a log line.
const maxMessage = 200

// errorFromAnswer builds the *Error for an error answer. The body is Banq's ErrorBody, an OAuth2
// TokenError from the auth server, or anything else (its trimmed beginning becomes the message).
func errorFromAnswer(op string, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status, kind: kindOf(status)}
	var eb struct {
		ErrorBody
		TokenError
	}
	if json.Unmarshal(body, &eb) == nil {
		e.Message = eb.Message
		if e.Message == "" {
			e.Message = eb.ErrorDescription
		}
		if e.Message == "" {
			e.Message = eb.TokenError.Error
		}
		if len(eb.Errors) > 0 {
			e.Fields = eb.Errors
		}
	}
	if e.Message == "" {
		e.Message = textPrefix(body)
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	if e.Message == "" {
		e.Message = "no message"
	}
	return e
}

// textPrefix returns the beginning of body as one trimmed line of valid UTF-8, at most
// maxMessage bytes long.
func textPrefix(body []byte) string {
	s := strings.ToValidUTF8(string(body[:min(len(body), 4*maxMessage)]), "")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// invalidArgument is the error for a call the client refuses to send.
func invalidArgument(op, message string) *Error {
	return &Error{Op: op, Message: message, kind: ErrValidation}
}
