package banq

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in cents. Banq's JSON carries funds as a decimal number (100.00); Money
// converts it exactly, digit by digit, so no amount ever passes through float arithmetic.
type Money int64

// MaxMoney is the largest amount the checkout accepts: 999,999,999.99.
const MaxMoney Money = 99_999_999_999

// Errors of ParseMoney, to tell the user what is wrong with what they typed.
var (
	ErrMoneyEmpty     = errors.New("amount is empty")
	ErrMoneySyntax    = errors.New("amount is not a number")
	ErrMoneyPrecision = errors.New("amount has more than two decimals")
	ErrMoneyNegative  = errors.New("amount is negative")
	ErrMoneyTooLarge  = errors.New("amount is too large")
)

// ParseMoney reads a decimal amount such as "12", "12.5", "12.50" or "1,234.50" (thousands
// separators allowed) into cents. It returns one of the ErrMoney errors for anything else,
// including more than two decimals, a sign, an exponent, or more than MaxMoney.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrMoneyEmpty
	}
	if s[0] == '-' {
		return 0, ErrMoneyNegative
	}
	s = strings.ReplaceAll(s, ",", "")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, ErrMoneySyntax
	}
	if !allDigits(whole) || !allDigits(frac) {
		return 0, ErrMoneySyntax
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, ErrMoneyPrecision
		}
		frac = frac[:2]
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 9 {
		return 0, ErrMoneyTooLarge
	}
	var cents int64
	for _, r := range whole {
		cents = cents*10 + int64(r-'0')
	}
	frac += "00"[len(frac):]
	cents = cents*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if Money(cents) > MaxMoney {
		return 0, ErrMoneyTooLarge
	}
	return Money(cents), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats m as a plain decimal with two places: "1234.50", "-0.05".
func (m Money) String() string { return string(m.Append(nil)) }

// Append appends m to b as String formats it, without allocating (a CSV export writes
// millions).
func (m Money) Append(b []byte) []byte {
	v := int64(m)
	if v < 0 {
		if v == math.MinInt64 {
			return append(b, "-92233720368547758.08"...)
		}
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	return append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
}

// Display formats m for people: "1,234.50".
func (m Money) Display() string {
	s := m.String()
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String() + "." + frac
}

// MarshalJSON writes m as a JSON number with two decimals (100.00).
func (m Money) MarshalJSON() ([]byte, error) {
	return []byte(m.String()), nil
}

// UnmarshalJSON reads a JSON number (or a string holding one) exactly; it rejects more than
// two significant decimals, exponents and values outside int64 cents. null leaves m unchanged.
func (m *Money) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil // as encoding/json does for its own types: null leaves the value alone
	}
	if len(b) > 1 && b[0] == '"' {
		unq, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("funds: %w", err)
		}
		b = []byte(unq)
	}
	s := string(b)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if strings.ContainsAny(s, "eE,") {
		return fmt.Errorf("funds %q: %w", string(b), ErrMoneySyntax)
	}
	v, err := ParseMoney(s)
	if err != nil {
		return fmt.Errorf("funds %q: %w", string(b), err)
	}
	if neg {
		v = -v
	}
	*m = v
	return nil
}
