package locale

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/currency"

	"github.com/banq-checkout/checkout/banq"
)

// sources reads the catalogue files as written: message ID → its text, or its plural forms.
func sources(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, l := range languages {
		buf, err := fs.ReadFile(files, "messages/"+l.Code+".toml")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := toml.Unmarshal(buf, &m); err != nil {
			t.Fatalf("%s: %v", l.Code, err)
		}
		out[l.Code] = m
	}
	for _, r := range banq.FailReasons {
		out["en"][reasonID(r)] = r.CustomerText()
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func placeholders(v any) []string {
	var names []string
	add := func(s string) {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	switch v := v.(type) {
	case string:
		add(v)
	case map[string]any:
		for _, s := range v {
			add(s.(string))
		}
	}
	slices.Sort(names)
	return names
}

// TestCatalogues fails when a message is missing in any language, or a counted message lacks a
// plural form the language needs for some count, or a translation drops or invents a
// placeholder, or a catalogue holds a message English no longer has.
func TestCatalogues(t *testing.T) {
	b, err := bundle()
	if err != nil {
		t.Fatal(err)
	}
	src := sources(t)
	for _, l := range languages {
		loc := goi18n.NewLocalizer(b, l.Code)
		for id, en := range src["en"] {
			own, ok := src[l.Code][id]
			if l.Code != "en" && !ok {
				t.Errorf("%s: message %s is missing", l.Code, id)
				continue
			}
			if l.Code != "en" {
				if got, want := placeholders(own), placeholders(en); !slices.Equal(got, want) && !(id == "expiry_minutes" && l.Code == "ar") {
					t.Errorf("%s: %s uses %v, want %v as in English", l.Code, id, got, want)
				}
			}
			counts := []any{nil}
			if _, counted := en.(map[string]any); counted {
				counts = counts[:0]
				for n := 0; n <= 200; n++ {
					counts = append(counts, n)
				}
			}
			for _, n := range counts {
				_, tag, err := loc.LocalizeWithTag(&goi18n.LocalizeConfig{MessageID: id, PluralCount: n,
					TemplateData: map[string]any{"Count": n}})
				if err != nil || tag != l.Tag {
					t.Errorf("%s: %s (count %v): got %v from %v, want it from %s", l.Code, id, n, err, tag, l.Code)
					break
				}
			}
		}
		for id := range src[l.Code] {
			if _, ok := src["en"][id]; !ok {
				t.Errorf("%s: message %s is not in English (renamed or removed?)", l.Code, id)
			}
		}
	}
}

func TestPick(t *testing.T) {
	c, err := New(Options{Default: "de"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		codes  []string
		accept string
		want   string
	}{
		{nil, "", "de"},
		{nil, "es-MX,es;q=0.9,en;q=0.5", "es"},
		{nil, "fr-FR,fr;q=0.9", "de"},
		{nil, "fr, ar-EG;q=0.5", "ar"},
		{[]string{"ar"}, "es", "ar"},
		{[]string{"xx", "EN"}, "es", "en"},
		{[]string{"", "es"}, "de", "es"},
		{nil, "not a header;;", "de"},
	} {
		p := c.Pick(tt.codes, tt.accept)
		if p.Code != tt.want {
			t.Errorf("Pick(%q, %q): got %s, want %s", tt.codes, tt.accept, p.Code, tt.want)
		}
	}
	if _, err := New(Options{Default: "fr"}); err == nil {
		t.Error("New with default fr: got no error, want one naming the languages")
	}
	if got := c.Printer(languages[3]).Dir(); got != "rtl" {
		t.Errorf("Arabic Dir: got %s, want rtl", got)
	}
	if got := c.Printer(languages[1]).Dir(); got != "ltr" {
		t.Errorf("German Dir: got %s, want ltr", got)
	}
}

func TestMoney(t *testing.T) {
	eur, chf, jpy := currency.EUR, currency.MustParseISO("CHF"), currency.JPY
	for _, tt := range []struct {
		code string
		cur  currency.Unit
		m    banq.Money
		want string
	}{
		{"en", currency.USD, 123450, "$1,234.50"},
		{"en", currency.USD, banq.MaxMoney, "$999,999,999.99"},
		{"en", currency.USD, 5, "$0.05"},
		{"de", eur, 123450, "1.234,50\u00a0€"},
		{"es", eur, 123450, "1.234,50\u00a0€"},
		{"en", eur, 1250, "€12.50"},
		{"en", chf, 1250, "CHF\u00a012.50"},
		{"de", currency.USD, 1250, "12,50\u00a0$"},
		{"ar", currency.USD, 1250, "١٢٫٥٠\u00a0\u2066US$\u2069"},
		{"en", jpy, 120000, "¥1,200"},
		{"en", jpy, 1250, "¥12.50"},
	} {
		c, err := New(Options{Currency: tt.cur})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := Lookup(tt.code)
		if got := c.Printer(l).Money(tt.m); got != tt.want {
			t.Errorf("%s %s %v: got %q, want %q", tt.code, tt.cur, tt.m, got, tt.want)
		}
	}
}

func TestTimesInTheShopsZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Zone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Printer(languages[0])
	at := time.Date(2026, 3, 14, 15, 12, 5, 0, time.UTC)
	if got, want := p.Time(at), "2026-03-14 16:12:05 CET"; got != want {
		t.Errorf("Time: got %q, want %q", got, want)
	}
	if got, want := p.Clock(at), "16:12 CET"; got != want {
		t.Errorf("Clock: got %q, want %q", got, want)
	}
	if got := From(With(context.Background(), p)); got != p {
		t.Errorf("From(With(p)): got %v, want p", got)
	}
	if got := From(context.Background()); got.Code != "en" {
		t.Errorf("From(empty): got %s, want en", got.Code)
	}
}

func TestPluralForms(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ar, _ := Lookup("ar")
	p := c.Printer(ar)
	forms := p.Forms("expiry_minutes", "Time", "{time}")
	var names []string
	for k := range forms {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"few", "many", "one", "other", "two", "zero"}; !slices.Equal(names, want) {
		t.Fatalf("Arabic forms: got %v, want %v", names, want)
	}
	if !strings.Contains(forms["few"], "{count} دقائق") || !strings.Contains(forms["few"], "{time}") {
		t.Errorf("Arabic few: got %q, want {count} دقائق … {time}", forms["few"])
	}
	if got := p.N("expiry_minutes", 11, "Time", "x"); got != "بقيت 11 دقيقة للموافقة، حتى x." {
		t.Errorf("Arabic 11 minutes: got %q", got)
	}
	if got := p.Reason(banq.FailInsufficientBalance); got != "لم يكن في حسابك رصيد كافٍ للدفع." {
		t.Errorf("Arabic reason: got %q", got)
	}
	en := c.Printer(languages[0])
	if got, want := en.Reason("Stolen"), banq.FailNone.CustomerText(); got != want {
		t.Errorf("unknown reason: got %q, want %q", got, want)
	}
}

// One printer serves every request in its language at once (run with -race).
func TestPrinterIsSharedSafely(t *testing.T) {
	c, err := New(Options{Default: "ar"})
	if err != nil {
		t.Fatal(err)
	}
	if first, again := c.Pick(nil, ""), c.Pick(nil, ""); first != again {
		t.Fatal("Pick made a new printer; want the one of the language")
	}
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() {
			p := c.Pick(nil, "")
			done <- p.Money(banq.Money(1250+i)) + p.N("expiry_minutes", i, "Time", "x")
		}()
	}
	for i := 0; i < 8; i++ {
		if s := <-done; !strings.Contains(s, "US$") {
			t.Errorf("got %q", s)
		}
	}
}
