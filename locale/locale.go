// Package locale holds the message catalogues of the customer's pages and formats what a reader
// sees in their language: messages with plural rules, money in the shop's currency, and times
// in the shop's time zone.
package locale

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/currency"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/banq-checkout/checkout/banq"
)

//go:embed messages/*.toml
var files embed.FS

// Language is one language the catalogues hold.
type Language struct {
	Tag  language.Tag
	Code string // as in ?lang=: en, de, es, ar
	Name string // in the language itself, for the switcher
}

// languages are the languages of the catalogues, English (the source) first.
var languages = []Language{
	{language.English, "en", "English"},
	{language.German, "de", "Deutsch"},
	{language.Spanish, "es", "Español"},
	{language.Arabic, "ar", "العربية"},
}

// bundle parses the embedded catalogues once; it is only read afterwards. The English sentences
// of Banq's fail reasons live beside the reasons in package banq and join the catalogue here.
var bundle = sync.OnceValues(func() (*goi18n.Bundle, error) {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, l := range languages {
		name := "messages/" + l.Code + ".toml"
		buf, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		if _, err := b.ParseMessageFileBytes(buf, path.Base(name)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, r := range banq.FailReasons {
		if err := b.AddMessages(language.English, &goi18n.Message{ID: reasonID(r), Other: r.CustomerText()}); err != nil {
			return nil, err
		}
	}
	return b, nil
})

func reasonID(r banq.FailReason) string { return "reason_" + string(r) }

// Options are the shop's: the language of a reader who asks for none we have, the currency of
// every amount, and the time zone of the merchant's pages and of times shown without JavaScript.
type Options struct {
	Default  string        // a code of Languages(); "" for English
	Currency currency.Unit // zero for USD
	Zone     *time.Location
}

// Catalog picks a reader's language and hands out printers for it.
type Catalog struct {
	bundle   *goi18n.Bundle
	matcher  language.Matcher
	def      Language
	currency currency.Unit
	zone     *time.Location
	printers map[string]*Printer // by code, made once: a printer is only read
}

// New returns the catalogue with the shop's options. It returns an error if the default
// language is not one of Languages().
func New(o Options) (*Catalog, error) {
	b, err := bundle()
	if err != nil {
		return nil, err
	}
	c := &Catalog{bundle: b, currency: o.Currency, zone: o.Zone}
	if c.currency == (currency.Unit{}) {
		c.currency = currency.USD
	}
	if c.zone == nil {
		c.zone = time.Local
	}
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = l.Tag
	}
	c.matcher = language.NewMatcher(tags)
	def, ok := Lookup(o.Default)
	if !ok && o.Default != "" {
		return nil, fmt.Errorf("language %q: want one of %s", o.Default, strings.Join(Codes(), ", "))
	}
	c.def = def
	c.printers = map[string]*Printer{}
	for _, l := range languages {
		c.printers[l.Code] = &Printer{
			Language: l,
			loc:      goi18n.NewLocalizer(c.bundle, l.Code),
			num:      message.NewPrinter(l.Tag),
			currency: c.currency,
			zone:     c.zone,
		}
	}
	return c, nil
}

// Languages lists the languages of the catalogues, English first.
func Languages() []Language { return append([]Language(nil), languages...) }

// Codes lists the codes of Languages().
func Codes() []string {
	out := make([]string, len(languages))
	for i, l := range languages {
		out[i] = l.Code
	}
	return out
}

// Lookup returns the language of code (case-insensitive), and English with false when there is
// none.
func Lookup(code string) (Language, bool) {
	for _, l := range languages {
		if strings.EqualFold(l.Code, strings.TrimSpace(code)) {
			return l, true
		}
	}
	return languages[0], false
}

// Pick returns the printer of the language a reader asked for: by code (?lang=, or the cookie
// the switcher leaves), then the browser's Accept-Language, then the shop's default.
func (c *Catalog) Pick(codes []string, acceptLanguage string) *Printer {
	for _, code := range codes {
		if l, ok := Lookup(code); ok {
			return c.Printer(l)
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		if _, i, conf := c.matcher.Match(tags...); conf != language.No {
			return c.Printer(languages[i])
		}
	}
	return c.Printer(c.def)
}

// Shop returns the printer of the merchant's pages: English, with the shop's currency and time
// zone.
func (c *Catalog) Shop() *Printer { return c.Printer(languages[0]) }

// Printer returns the printer of l, one of Languages(); English for any other.
func (c *Catalog) Printer(l Language) *Printer {
	if p, ok := c.printers[l.Code]; ok {
		return p
	}
	return c.printers[languages[0].Code]
}

// Printer writes one reader's language; it is safe for concurrent use. Its methods never fail:
// a message missing from the reader's catalogue falls back to English, and one missing there
// shows its ID (TestCatalogues fails on both).
type Printer struct {
	Language
	loc      *goi18n.Localizer
	num      *message.Printer
	currency currency.Unit
	zone     *time.Location
}

// Dir is the direction of the language's script: "rtl" or "ltr".
func (p *Printer) Dir() string {
	if base, _ := p.Tag.Base(); rtl[base.String()] {
		return "rtl"
	}
	return "ltr"
}

var rtl = map[string]bool{"ar": true, "he": true, "fa": true, "ur": true}

// T returns the message id with the template data in pairs: T("x", "Merchant", name).
func (p *Printer) T(id string, pairs ...any) string {
	return p.localize(id, nil, pairs)
}

// N returns the plural message id for count, which the template reads as .Count.
func (p *Printer) N(id string, count int, pairs ...any) string {
	return p.localize(id, count, append([]any{"Count", count}, pairs...))
}

func (p *Printer) localize(id string, count any, pairs []any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		data[fmt.Sprint(pairs[i])] = pairs[i+1]
	}
	s, err := p.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if s == "" && err != nil {
		return id
	}
	return s
}

// Forms returns the plural message id in each plural form of the language, keyed by the CLDR
// names that the browser's Intl.PluralRules gives ("one", "few", "other", …), with .Count and
// the pairs' values left in as written: for a page's script to fill in as the count changes.
func (p *Printer) Forms(id string, pairs ...any) map[string]string {
	out := map[string]string{}
	for n := 0; n <= 200; n++ {
		name := formNames[plural.Cardinal.MatchPlural(p.Tag, n, 0, 0, 0, 0)]
		if _, seen := out[name]; seen || name == "" {
			continue
		}
		data := map[string]any{"Count": "{count}"}
		for i := 0; i+1 < len(pairs); i += 2 {
			data[fmt.Sprint(pairs[i])] = pairs[i+1]
		}
		s, err := p.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: n})
		if s == "" && err != nil {
			s = id
		}
		out[name] = s
	}
	return out
}

var formNames = map[plural.Form]string{plural.Other: "other", plural.Zero: "zero", plural.One: "one",
	plural.Two: "two", plural.Few: "few", plural.Many: "many"}

// Reason is the customer's sentence for a fail reason; an unknown reason gets FailNone's.
func (p *Printer) Reason(r banq.FailReason) string {
	if !r.Valid() {
		r = banq.FailNone
	}
	return p.T(reasonID(r))
}

// Money formats an amount in the shop's currency for the reader: the currency's symbol in the
// language, its decimals, the language's separators and digits, and the symbol where the
// language puts it (the catalogue's "money" message).
func (p *Printer) Money(m banq.Money) string {
	scale, _ := currency.Standard.Rounding(p.currency)
	if m%100 != 0 && scale < 2 {
		scale = 2 // Banq counts cents: a currency without them must still show what was asked
	}
	// Display only: a float64 holds every amount up to MaxMoney (11 digits) exactly enough to
	// round back to its cents, and no arithmetic is done on it.
	amount := p.num.Sprint(number.Decimal(float64(m)/100, number.Scale(scale)))
	symbol := p.num.Sprint(currency.Symbol(p.currency))
	if p.Dir() == "rtl" && strings.ContainsFunc(symbol, func(r rune) bool { return r < unicode.MaxASCII && unicode.IsLetter(r) }) {
		// Isolated left to right, or the bidi algorithm writes US$ as $US in an Arabic line.
		symbol = "\u2066" + symbol + "\u2069"
	}
	out := p.T("money", "Symbol", symbol, "Amount", amount)
	if rest, ok := strings.CutPrefix(out, symbol); ok && strings.HasPrefix(rest, amount) {
		if r := []rune(symbol); unicode.IsLetter(r[len(r)-1]) {
			// CLDR's currency spacing: a symbol ending in a letter (CHF) is set apart from
			// the digits that follow it; "$" and "US$" are not.
			out = symbol + "\u00a0" + rest
		}
	}
	return out
}

// Currency is the shop's currency's ISO 4217 code.
func (p *Printer) Currency() string { return p.currency.String() }

// Zone is the shop's time zone.
func (p *Printer) Zone() *time.Location { return p.zone }

// Time formats t in the shop's time zone, naming the zone: the merchant's pages, and what the
// customer's page shows until its script turns it into the reader's own time.
func (p *Printer) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.zone).Format("2006-01-02 15:04:05 MST")
}

// Clock formats the time of day of t in the shop's time zone, naming the zone.
func (p *Printer) Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.zone).Format("15:04 MST")
}

type ctxKey struct{}

// With returns ctx carrying p, for the views to write with.
func With(ctx context.Context, p *Printer) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the printer ctx carries, or an English one with the defaults (USD, the server's
// time zone) when it carries none.
func From(ctx context.Context) *Printer {
	if p, ok := ctx.Value(ctxKey{}).(*Printer); ok {
		return p
	}
	return fallback()
}

var fallback = sync.OnceValue(func() *Printer {
	c, err := New(Options{})
	if err != nil {
		panic(err) // the embedded catalogues do not parse: TestCatalogues says why
	}
	return c.Printer(languages[0])
})
