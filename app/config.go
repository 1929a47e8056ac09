package app

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // CHECKOUT_TIMEZONE works in containers without a zone database

	"golang.org/x/text/currency"

	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/handlers"
	"github.com/banq-checkout/checkout/locale"
)

// Config is the whole deployment's configuration. Each field comes from an environment variable,
// and a flag of the same meaning may override it.
type Config struct {
	Addr         string // CHECKOUT_ADDR
	DB           string // CHECKOUT_DB
	PublicURL    string // CHECKOUT_PUBLIC_URL
	SessionKey   string // CHECKOUT_SESSION_KEY (and CHECKOUT_SESSION_KEY_PREVIOUS while rotating)
	SessionOld   string
	MerchantName string // CHECKOUT_MERCHANT_NAME
	MerchantLogo string // CHECKOUT_MERCHANT_LOGO: a file served by the app, or an http(s) URL on the app's origin
	AccentColor  string // CHECKOUT_ACCENT_COLOR: #rrggbb
	// CHECKOUT_DEFAULT_LANGUAGE: the customer page's language for a browser asking for none we have.
	DefaultLanguage string
	Currency        currency.Unit  // CHECKOUT_CURRENCY: ISO 4217, shown with every amount
	TimeZone        *time.Location // CHECKOUT_TIMEZONE: the merchant pages' times; default the server's

	BanqAPIURL        string // BANQ_API_URL
	BanqAuthURL       string // BANQ_AUTH_URL
	BanqClientID      string // BANQ_CLIENT_ID
	BanqUsername      string // BANQ_USERNAME
	BanqPassword      string // BANQ_PASSWORD
	BanqCompanyID     string // BANQ_COMPANY_ID
	BanqMerchantBanq  string // BANQ_MERCHANT_BANQ: destination banq guid; default the first of users/me
	WebhookSecret     string // BANQ_WEBHOOK_SECRET: generated and stored when unset
	WebhookSecretPrev string // BANQ_WEBHOOK_SECRET_PREVIOUS: still accepted while rotating

	SandboxAddr      string         // SANDBOX_ADDR
	SandboxDB        string         // SANDBOX_DB
	SandboxStepDelay time.Duration  // SANDBOX_STEP_DELAY
	SandboxFaults    sandbox.Faults // SANDBOX_FAULTS: JSON, the faults in force from the sandbox's start

	ReconcileAfter    time.Duration // CHECKOUT_RECONCILE_AFTER
	ReconcileInterval time.Duration // CHECKOUT_RECONCILE_INTERVAL
	RecoverAfter      time.Duration // CHECKOUT_RECOVER_AFTER
	OrderTTL          time.Duration // CHECKOUT_ORDER_TTL: default time a customer has to pay
	WebhookGap        time.Duration // CHECKOUT_WEBHOOK_GAP: orders this old with no webhook since mean webhooks are broken
	CreateTimeout     time.Duration // CHECKOUT_CREATE_TIMEOUT: bound on the create call the merchant waits for
	ShutdownTimeout   time.Duration // CHECKOUT_SHUTDOWN_TIMEOUT
	Heartbeat         time.Duration // CHECKOUT_SSE_HEARTBEAT: comment sent on idle streams
	LogFormat         string        // CHECKOUT_LOG_FORMAT: json, text, or "" for text on a terminal
	LogLevel          string        // CHECKOUT_LOG_LEVEL

	// CHECKOUT_SSE_MAX_PER_ADDRESS, CHECKOUT_SSE_MAX_PER_LINK: live streams at once.
	StreamLimits handlers.StreamLimits

	MetricsAddr    string        // CHECKOUT_METRICS_ADDR: /metrics on a listener of its own; "" (or "off") for none
	MetricsToken   string        // CHECKOUT_METRICS_TOKEN: bearer token /metrics requires; also serves it on Addr
	TrustedProxies []*net.IPNet  // CHECKOUT_TRUSTED_PROXIES: proxies whose X-Forwarded-For is believed
	APIRate        handlers.Rate // CHECKOUT_API_RATE: API requests a second per API key (bursts of 5 seconds' worth)
	// NotifyAllowPrivate (CHECKOUT_NOTIFY_ALLOW_PRIVATE) lets notification endpoints be on private,
	// loopback and link-local addresses: for a shop on the operator's internal network.
	NotifyAllowPrivate bool

	// Knobs for tests, not read from the environment: zero means the handlers' defaults.
	WebhookRate    handlers.Rate // webhooks per source address
	WebhookBadRate handlers.Rate // webhooks failing the signature check per source address
	SignInLimits   handlers.SignInLimits
	PasswordCost   int              // bcrypt cost of new hashes (the demo login's too); bcrypt.DefaultCost
	Now            func() time.Time // the handlers' clock (sessions, sign-in and webhook limits)
	WebhookLease   time.Duration    // a webhook claimed by an instance that died is taken over after this; 15s
}

// Sandbox reports whether the app runs on the built-in sandbox: it does unless Banq
// credentials are configured.
func (c Config) Sandbox() bool {
	return c.BanqClientID == "" && c.BanqUsername == "" && c.BanqPassword == ""
}

// setting is one configuration variable: read from the environment, overridden by its flag if
// it has one. The table below is the one place variables are read from, and the one that help
// lists, so that the two cannot drift apart.
type setting struct {
	env  string
	flag string // "" when there is none
	def  string // the value when the variable is unset or blank
	help string // what it is; says what an empty default means
	raw  bool   // read as set, spaces included (passwords and secrets)
	// set stores v, which is def when the variable is unset, and returns what is wrong with it.
	set func(c *Config, v string) error
}

func text(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration like 30s or 5m", v)
		}
		*field(c) = d
		return nil
	}
}

func count(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a whole number of at least 1", v)
		}
		*field(c) = n
		return nil
	}
}

var settings = []setting{
	{env: "CHECKOUT_ADDR", flag: "addr", def: ":8080", help: "listen address",
		set: text(func(c *Config) *string { return &c.Addr })},
	{env: "CHECKOUT_DB", flag: "db", def: "./data/checkout.db", help: "SQLite database file, or postgres:// URL for several instances",
		set: text(func(c *Config) *string { return &c.DB })},
	{env: "CHECKOUT_PUBLIC_URL", flag: "public-url", help: "public base URL for links and webhooks (default: the listen address; required with real Banq)",
		set: text(func(c *Config) *string { return &c.PublicURL })},
	{env: "CHECKOUT_SESSION_KEY", help: "32+ characters; derives the cookie keys (generated and stored in sandbox mode; required with real Banq)",
		set: text(func(c *Config) *string { return &c.SessionKey })},
	{env: "CHECKOUT_SESSION_KEY_PREVIOUS", help: "the old session key while rotating",
		set: text(func(c *Config) *string { return &c.SessionOld })},
	{env: "CHECKOUT_MERCHANT_NAME", flag: "merchant-name", help: "merchant name on payment pages (default: Demo Shop)",
		set: text(func(c *Config) *string { return &c.MerchantName })},
	{env: "CHECKOUT_MERCHANT_LOGO", help: "logo on the payment page: an image file, or an http(s) URL on CHECKOUT_PUBLIC_URL's origin",
		set: text(func(c *Config) *string { return &c.MerchantLogo })},
	{env: "CHECKOUT_ACCENT_COLOR", help: "accent colour of the payment page, #rrggbb",
		set: func(c *Config, v string) error { c.AccentColor = strings.ToLower(v); return nil }},
	{env: "CHECKOUT_DEFAULT_LANGUAGE", def: "en", help: "the payment page's language when the browser asks for none of " + strings.Join(locale.Codes(), ", "),
		set: func(c *Config, v string) error {
			l, ok := locale.Lookup(v)
			if !ok {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(locale.Codes(), ", "))
			}
			c.DefaultLanguage = l.Code
			return nil
		}},
	{env: "CHECKOUT_CURRENCY", def: "USD", help: "the shop's currency, an ISO 4217 code, shown with every amount",
		set: func(c *Config, v string) error {
			u, err := currency.ParseISO(v)
			if err != nil {
				return fmt.Errorf("%q is not an ISO 4217 currency code like USD or EUR", v)
			}
			c.Currency = u
			return nil
		}},
	{env: "CHECKOUT_TIMEZONE", help: "the shop's time zone for the merchant's pages, e.g. Europe/Berlin (default: the server's; the CSV stays UTC)",
		set: func(c *Config, v string) error {
			if v == "" {
				c.TimeZone = time.Local
				return nil
			}
			z, err := time.LoadLocation(v)
			if err != nil {
				return fmt.Errorf("%q is not a time zone like Europe/Berlin or UTC", v)
			}
			c.TimeZone = z
			return nil
		}},
	{env: "CHECKOUT_ORDER_TTL", def: "30m", help: "default time a customer has to pay (1m to 168h)",
		set: duration(func(c *Config) *time.Duration { return &c.OrderTTL })},
	{env: "CHECKOUT_WEBHOOK_GAP", def: "10m", help: "orders this old with no webhook since mean webhooks are broken",
		set: duration(func(c *Config) *time.Duration { return &c.WebhookGap })},
	{env: "BANQ_API_URL", flag: "banq-api-url", help: "Banq API base URL (default: the sandbox)",
		set: text(func(c *Config) *string { return &c.BanqAPIURL })},
	{env: "BANQ_AUTH_URL", flag: "banq-auth-url", help: "Banq auth base URL (default: the sandbox)",
		set: text(func(c *Config) *string { return &c.BanqAuthURL })},
	{env: "BANQ_CLIENT_ID", help: "Banq M2M application's client id (unset, with the other two: sandbox mode)",
		set: text(func(c *Config) *string { return &c.BanqClientID })},
	{env: "BANQ_USERNAME", help: "Banq M2M application's user",
		set: text(func(c *Config) *string { return &c.BanqUsername })},
	{env: "BANQ_PASSWORD", raw: true, help: "Banq M2M application's password",
		set: text(func(c *Config) *string { return &c.BanqPassword })},
	{env: "BANQ_COMPANY_ID", help: "sent as X-Company-Id when set",
		set: text(func(c *Config) *string { return &c.BanqCompanyID })},
	{env: "BANQ_MERCHANT_BANQ", help: "the banq payments go to (default: the first of users/me)",
		set: text(func(c *Config) *string { return &c.BanqMerchantBanq })},
	{env: "BANQ_WEBHOOK_SECRET", raw: true, help: "shared secret of the webhook HMAC (default: generated and stored)",
		set: text(func(c *Config) *string { return &c.WebhookSecret })},
	{env: "BANQ_WEBHOOK_SECRET_PREVIOUS", raw: true, help: "the old webhook secret, still accepted while rotating",
		set: text(func(c *Config) *string { return &c.WebhookSecretPrev })},
	{env: "SANDBOX_ADDR", flag: "sandbox-addr", def: "127.0.0.1:8081", help: "sandbox listen address",
		set: text(func(c *Config) *string { return &c.SandboxAddr })},
	{env: "SANDBOX_DB", help: "the sandbox's SQLite file (default: beside CHECKOUT_DB)",
		set: text(func(c *Config) *string { return &c.SandboxDB })},
	{env: "SANDBOX_STEP_DELAY", def: "700ms", help: "delay between the steps of an approval in the sandbox",
		set: duration(func(c *Config) *time.Duration { return &c.SandboxStepDelay })},
	{env: "SANDBOX_FAULTS", help: "faults in force from the sandbox's start, as the JSON of PUT /sandbox/faults",
		set: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if err := json.Unmarshal([]byte(v), &c.SandboxFaults); err != nil {
				return fmt.Errorf("is not the faults' JSON (see PUT /sandbox/faults): %v", err)
			}
			return c.SandboxFaults.Validate()
		}},
	{env: "CHECKOUT_RECONCILE_AFTER", def: "30s", help: "ask Banq about an order this long after its last news",
		set: duration(func(c *Config) *time.Duration { return &c.ReconcileAfter })},
	{env: "CHECKOUT_RECONCILE_INTERVAL", def: "1s", help: "how often the reconciler looks for due orders",
		set: duration(func(c *Config) *time.Duration { return &c.ReconcileInterval })},
	{env: "CHECKOUT_RECOVER_AFTER", def: "10s", help: "resend a create that was never confirmed, with the same key",
		set: duration(func(c *Config) *time.Duration { return &c.RecoverAfter })},
	{env: "CHECKOUT_CREATE_TIMEOUT", def: "15s", help: "how long the merchant's create waits for Banq",
		set: duration(func(c *Config) *time.Duration { return &c.CreateTimeout })},
	{env: "CHECKOUT_SHUTDOWN_TIMEOUT", def: "10s", help: "bound on graceful shutdown",
		set: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{env: "CHECKOUT_SSE_HEARTBEAT", def: "20s", help: "comment sent on idle live streams, so that proxies keep them open",
		set: duration(func(c *Config) *time.Duration { return &c.Heartbeat })},
	{env: "CHECKOUT_SSE_MAX_PER_ADDRESS", def: "100", help: "live streams one client address may hold at once (customers behind one NAT share an address)",
		set: count(func(c *Config) *int { return &c.StreamLimits.PerAddress })},
	{env: "CHECKOUT_SSE_MAX_PER_LINK", def: "20", help: "live streams one payment link may have open at once",
		set: count(func(c *Config) *int { return &c.StreamLimits.PerLink })},
	{env: "CHECKOUT_LOG_FORMAT", help: "json or text (default: text on a terminal, else json)",
		set: text(func(c *Config) *string { return &c.LogFormat })},
	{env: "CHECKOUT_LOG_LEVEL", def: "info", help: "debug, info, warn or error",
		set: text(func(c *Config) *string { return &c.LogLevel })},
	{env: "CHECKOUT_METRICS_ADDR", flag: "metrics-addr", def: "127.0.0.1:9090", help: "/metrics on a listener of its own, or off",
		set: func(c *Config, v string) error {
			if v == "off" {
				v = ""
			}
			c.MetricsAddr = v
			return nil
		}},
	{env: "CHECKOUT_METRICS_TOKEN", help: "16+ characters: /metrics then needs it as bearer token, and is also served on CHECKOUT_ADDR",
		set: text(func(c *Config) *string { return &c.MetricsToken })},
	{env: "CHECKOUT_API_RATE", def: "20", help: "API requests a second per API key (bursts of 5 seconds' worth)",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n < 1 || n > 1e6 {
				return fmt.Errorf("%q is not a number of requests a second from 1 to 1000000", v)
			}
			c.APIRate = handlers.Rate{PerSecond: n, Burst: int(5 * n)}
			return nil
		}},
	{env: "CHECKOUT_NOTIFY_ALLOW_PRIVATE", def: "false", help: "true lets the shop's notification endpoints be on private, loopback and link-local addresses",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.NotifyAllowPrivate = b
			return nil
		}},
	{env: "CHECKOUT_TRUSTED_PROXIES", help: "comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For is believed",
		set: func(c *Config, v string) error {
			var bad []string
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if !strings.Contains(p, "/") {
					if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
						p += "/32"
					} else {
						p += "/128"
					}
				}
				if _, n, err := net.ParseCIDR(p); err == nil {
					c.TrustedProxies = append(c.TrustedProxies, n)
				} else {
					bad = append(bad, fmt.Sprintf("%q is not an IP address or CIDR range", p))
				}
			}
			if len(bad) > 0 {
				return errors.New(strings.Join(bad, "; "))
			}
			return nil
		}},
}

// Variable describes one environment variable the configuration is read from.
type Variable struct {
	Name    string
	Flag    string // "" when there is none
	Default string // "" when unset means something the help says
	Help    string
}

// Variables lists every environment variable of the configuration, in the order of the help.
func Variables() []Variable {
	out := make([]Variable, len(settings))
	for i, s := range settings {
		out[i] = Variable{Name: s.env, Flag: s.flag, Default: s.def, Help: s.help}
	}
	return out
}

// flagSet returns the flags of the configuration, each holding its value in values.
func flagSet(values map[string]*string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
	fs.SetOutput(output)
	for _, s := range settings {
		if s.flag != "" {
			fs.StringVar(values[s.env], s.flag, *values[s.env], s.help+" ("+s.env+")")
		}
	}
	return fs
}

// WriteUsage writes the flags and every environment variable with its default.
func WriteUsage(w io.Writer) {
	values := map[string]*string{}
	for _, s := range settings {
		def := s.def
		values[s.env] = &def
	}
	fmt.Fprintln(w, "Flags (each overrides its variable):")
	fs := flagSet(values, w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nEnvironment:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range Variables() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, cmp.Or(v.Default, "-"), v.Help)
	}
	tw.Flush()
}

// ParseConfig reads the configuration from getenv and args (flags override variables). Invalid
// values return an error that names the variable. -h returns flag.ErrHelp and prints nothing.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	var errs []string
	values := map[string]*string{}
	for _, s := range settings {
		v := getenv(s.env)
		if !s.raw {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			v = s.def
		}
		values[s.env] = &v
	}
	fs := flagSet(values, stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, s := range settings {
		if err := s.set(&c, *values[s.env]); err != nil {
			errs = append(errs, s.env+": "+err.Error())
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Sprintf("CHECKOUT_ADDR=%q is not host:port", c.Addr))
	}
	if _, _, err := net.SplitHostPort(c.SandboxAddr); err != nil {
		errs = append(errs, fmt.Sprintf("SANDBOX_ADDR=%q is not host:port", c.SandboxAddr))
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, fmt.Sprintf("CHECKOUT_METRICS_ADDR=%q is not host:port or off", c.MetricsAddr))
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, "CHECKOUT_METRICS_TOKEN must be at least 16 characters")
	}
	if c.PublicURL != "" && !absoluteHTTP(c.PublicURL) {
		errs = append(errs, fmt.Sprintf("CHECKOUT_PUBLIC_URL=%q is not an absolute http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.OrderTTL < time.Minute || c.OrderTTL > 7*24*time.Hour {
		errs = append(errs, fmt.Sprintf("CHECKOUT_ORDER_TTL=%v must be between 1m and 168h", c.OrderTTL))
	}
	if c.AccentColor != "" && !accentColor.MatchString(c.AccentColor) {
		errs = append(errs, fmt.Sprintf("CHECKOUT_ACCENT_COLOR=%q is not a colour like #1a7f5a", c.AccentColor))
	}
	if c.MerchantLogo != "" && strings.Contains(c.MerchantLogo, "://") && !sameOrigin(c.MerchantLogo, c.PublicURL) {
		errs = append(errs, fmt.Sprintf("CHECKOUT_MERCHANT_LOGO=%q: a URL must be on CHECKOUT_PUBLIC_URL's origin (the pages load images from there only); give a file path to have the app serve it", c.MerchantLogo))
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Sprintf("CHECKOUT_LOG_FORMAT=%q must be json or text", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("CHECKOUT_LOG_LEVEL=%q must be debug, info, warn or error", c.LogLevel))
	}
	if !c.Sandbox() {
		for name, v := range map[string]string{"BANQ_API_URL": c.BanqAPIURL, "BANQ_AUTH_URL": c.BanqAuthURL,
			"BANQ_CLIENT_ID": c.BanqClientID, "BANQ_USERNAME": c.BanqUsername, "BANQ_PASSWORD": c.BanqPassword} {
			if v == "" {
				errs = append(errs, name+" is required when Banq credentials are set (unset all BANQ_* for the sandbox)")
			}
		}
		for name, v := range map[string]string{"BANQ_API_URL": c.BanqAPIURL, "BANQ_AUTH_URL": c.BanqAuthURL} {
			if v != "" && !absoluteHTTP(v) {
				errs = append(errs, fmt.Sprintf("%s=%q is not an absolute http(s) URL", name, v))
			}
		}
		if c.SessionKey == "" {
			errs = append(errs, "CHECKOUT_SESSION_KEY is required outside sandbox mode (32+ random bytes, e.g. `openssl rand -hex 32`)")
		}
		if c.PublicURL == "" {
			errs = append(errs, "CHECKOUT_PUBLIC_URL is required outside sandbox mode (Banq must reach the webhook)")
		}
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		errs = append(errs, "CHECKOUT_SESSION_KEY must be at least 32 characters")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

var accentColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// sameOrigin reports whether the absolute http(s) URL s has the scheme, host and port of base.
func sameOrigin(s, base string) bool {
	u, err := url.Parse(s)
	b, berr := url.Parse(base)
	return err == nil && berr == nil && absoluteHTTP(s) && base != "" && u.Scheme == b.Scheme && u.Host == b.Host
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
