package checkout

import (
	"errors"
	"fmt"
	"strconv"
)

// Code classifies an Error; handlers map each code to one HTTP status.
type Code string

// Error codes.
const (
	ENotFound     Code = "not_found"
	EInvalid      Code = "invalid"     // the input is wrong; Fields says where
	EConflict     Code = "conflict"    // the request clashes with the current state
	EUnavailable  Code = "unavailable" // Banq or the database cannot answer now; try again
	EUnauthorized Code = "unauthorized"
	EInternal     Code = "internal"
)

// Error is the one error type of the domain: a code, a message fit for the user, and per-field
// messages for forms.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string
	Err     error // the cause, for logs; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EInternal for any other non-nil error, "" for nil.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err, hiding internal details.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "Something went wrong on our side. It has been logged; please try again."
}

func formatNumber(id int64) string { return strconv.FormatInt(id, 10) }
