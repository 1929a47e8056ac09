package banq_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/banq-checkout/checkout/banq"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in      string
		want    banq.Money
		wantErr error
	}{
		{"12", 1200, nil},
		{"12.5", 1250, nil},
		{"12.50", 1250, nil},
		{"12.500", 1250, nil},
		{"0.01", 1, nil},
		{".5", 50, nil},
		{"5.", 500, nil},
		{"0", 0, nil},
		{"000012.30", 1230, nil},
		{"1,234.50", 123450, nil},
		{"1,234,567", 123456700, nil},
		{"  7  ", 700, nil},
		{"999999999.99", banq.MaxMoney, nil},
		{"999,999,999.99", banq.MaxMoney, nil},

		{"", 0, banq.ErrMoneyEmpty},
		{"   ", 0, banq.ErrMoneyEmpty},
		{"-1", 0, banq.ErrMoneyNegative},
		{"-0.01", 0, banq.ErrMoneyNegative},
		{"1.234", 0, banq.ErrMoneyPrecision},
		{"0.001", 0, banq.ErrMoneyPrecision},
		{"1000000000", 0, banq.ErrMoneyTooLarge},
		{"99999999999999999999999", 0, banq.ErrMoneyTooLarge},
		{"+5", 0, banq.ErrMoneySyntax},
		{"1e5", 0, banq.ErrMoneySyntax},
		{"abc", 0, banq.ErrMoneySyntax},
		{"1.2.3", 0, banq.ErrMoneySyntax},
		{".", 0, banq.ErrMoneySyntax},
		{",", 0, banq.ErrMoneySyntax},
		{"1 000", 0, banq.ErrMoneySyntax},
		{"$5", 0, banq.ErrMoneySyntax},
		{"NaN", 0, banq.ErrMoneySyntax},
		{"Inf", 0, banq.ErrMoneySyntax},
		{"0x10", 0, banq.ErrMoneySyntax},
		{"١٢", 0, banq.ErrMoneySyntax}, // Arabic-Indic digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := banq.ParseMoney(tt.in)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseMoney(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestMoneyFormats(t *testing.T) {
	tests := []struct {
		m       banq.Money
		str     string
		display string
	}{
		{0, "0.00", "0.00"},
		{1, "0.01", "0.01"},
		{-5, "-0.05", "-0.05"},
		{10050, "100.50", "100.50"},
		{100000, "1000.00", "1,000.00"},
		{123456789, "1234567.89", "1,234,567.89"},
		{-123456789, "-1234567.89", "-1,234,567.89"},
		{banq.MaxMoney, "999999999.99", "999,999,999.99"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.str {
			t.Errorf("Money(%d).String() = %q, want %q", int64(tt.m), got, tt.str)
		}
		if got := tt.m.Display(); got != tt.display {
			t.Errorf("Money(%d).Display() = %q, want %q", int64(tt.m), got, tt.display)
		}
	}
}

func TestMoneyJSONRoundTrip(t *testing.T) {
	tests := []struct {
		m    banq.Money
		json string
	}{
		{0, `{"funds":0.00}`},
		{1, `{"funds":0.01}`},
		{10000, `{"funds":100.00}`},
		{10050, `{"funds":100.50}`},
		{-5, `{"funds":-0.05}`},
		{banq.MaxMoney, `{"funds":999999999.99}`},
	}
	type body struct {
		Funds banq.Money `json:"funds"`
	}
	for _, tt := range tests {
		b, err := json.Marshal(body{tt.m})
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%d) = %s, %v; want %s", int64(tt.m), b, err, tt.json)
		}
		var back body
		if err := json.Unmarshal(b, &back); err != nil || back.Funds != tt.m {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", b, int64(back.Funds), err, int64(tt.m))
		}
	}
}

func TestMoneyUnmarshalJSON(t *testing.T) {
	tests := []struct {
		json    string
		want    banq.Money
		wantErr error // nil: any error will do when wantOK is false
		wantOK  bool
	}{
		{`100`, 10000, nil, true},
		{`100.0`, 10000, nil, true},
		{`100.00`, 10000, nil, true},
		{`100.010`, 10001, nil, true},
		{`0.1`, 10, nil, true},
		{`-0.05`, -5, nil, true},
		{`"100.50"`, 10050, nil, true},
		{`"-3"`, -300, nil, true},
		{`null`, 4242, nil, true}, // leaves the value alone

		{`1e2`, 0, banq.ErrMoneySyntax, false},
		{`1E2`, 0, banq.ErrMoneySyntax, false},
		{`100.001`, 0, banq.ErrMoneyPrecision, false},
		{`"1,000"`, 0, banq.ErrMoneySyntax, false},
		{`--5`, 0, banq.ErrMoneyNegative, false},
		{`1000000000`, 0, banq.ErrMoneyTooLarge, false},
		{`""`, 0, banq.ErrMoneyEmpty, false},
		{`true`, 0, banq.ErrMoneySyntax, false},
		{`{}`, 0, nil, false},
		{`"\x"`, 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			m := banq.Money(4242)
			err := m.UnmarshalJSON([]byte(tt.json))
			switch {
			case tt.wantOK && (err != nil || m != tt.want):
				t.Errorf("got %d, %v; want %d", int64(m), err, int64(tt.want))
			case !tt.wantOK && err == nil:
				t.Errorf("got %d, no error; want an error", int64(m))
			case !tt.wantOK && tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestPaymentFundsFromJSON(t *testing.T) {
	var p banq.Payment
	if err := json.Unmarshal([]byte(`{"id":"p","funds":19.99,"status":"Pending"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Funds != 1999 {
		t.Errorf("got funds %d cents, want 1999", int64(p.Funds))
	}
	if err := json.Unmarshal([]byte(`{"id":"p","funds":19.999}`), &p); !errors.Is(err, banq.ErrMoneyPrecision) {
		t.Errorf("got %v, want ErrMoneyPrecision", err)
	}
}
