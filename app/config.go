package app

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/handlers"
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

	MetricsAddr    string       // CHECKOUT_METRICS_ADDR: /metrics on a listener of its own; "" (or "off") for none
	MetricsToken   string       // CHECKOUT_METRICS_TOKEN: bearer token /metrics requires; also serves it on Addr
	TrustedProxies []*net.IPNet // CHECKOUT_TRUSTED_PROXIES: proxies whose X-Forwarded-For is believed

	APIRate handlers.Rate // CHECKOUT_API_RATE: API requests a second per API key (bursts of 5 seconds' worth)

	// Knobs for tests, not read from the environment: zero means the handlers' defaults.
	WebhookRate    handlers.Rate // webhooks per source address
	WebhookBadRate handlers.Rate // webhooks failing the signature check per source address
	SignInLimits   handlers.SignInLimits
	PasswordCost   int              // bcrypt cost of new hashes (the demo login's too); bcrypt.DefaultCost
	Now            func() time.Time // the handlers' clock (sessions, sign-in and webhook limits)
}

// Sandbox reports whether the app runs on the built-in sandbox: it does unless Banq
// credentials are configured.
func (c Config) Sandbox() bool {
	return c.BanqClientID == "" && c.BanqUsername == "" && c.BanqPassword == ""
}

// ParseConfig reads the configuration from getenv and args (flags override variables). Invalid
// values return an error that names the variable.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var c Config
	var errs []string
	dur := func(name string, def time.Duration) time.Duration {
		v := env(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration like 30s or 5m", name, v))
			return def
		}
		return d
	}
	fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", env("CHECKOUT_ADDR", ":8080"), "listen address (CHECKOUT_ADDR)")
	fs.StringVar(&c.DB, "db", env("CHECKOUT_DB", "./data/checkout.db"), "SQLite database file, or postgres:// URL for several instances (CHECKOUT_DB)")
	fs.StringVar(&c.PublicURL, "public-url", env("CHECKOUT_PUBLIC_URL", ""), "public base URL for links and webhooks (CHECKOUT_PUBLIC_URL)")
	fs.StringVar(&c.MerchantName, "merchant-name", env("CHECKOUT_MERCHANT_NAME", ""), "merchant name on payment pages (CHECKOUT_MERCHANT_NAME)")
	fs.StringVar(&c.BanqAPIURL, "banq-api-url", env("BANQ_API_URL", ""), "Banq API base URL (BANQ_API_URL)")
	fs.StringVar(&c.BanqAuthURL, "banq-auth-url", env("BANQ_AUTH_URL", ""), "Banq auth base URL (BANQ_AUTH_URL)")
	fs.StringVar(&c.SandboxAddr, "sandbox-addr", env("SANDBOX_ADDR", "127.0.0.1:8081"), "sandbox listen address (SANDBOX_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("CHECKOUT_METRICS_ADDR", "127.0.0.1:9090"), "metrics listen address, or off (CHECKOUT_METRICS_ADDR)")
	c.MetricsToken = env("CHECKOUT_METRICS_TOKEN", "")
	c.SandboxDB = env("SANDBOX_DB", "")
	c.SessionKey = env("CHECKOUT_SESSION_KEY", "")
	c.SessionOld = env("CHECKOUT_SESSION_KEY_PREVIOUS", "")
	c.BanqClientID = env("BANQ_CLIENT_ID", "")
	c.BanqUsername = env("BANQ_USERNAME", "")
	c.BanqPassword = getenv("BANQ_PASSWORD")
	c.BanqCompanyID = env("BANQ_COMPANY_ID", "")
	c.BanqMerchantBanq = env("BANQ_MERCHANT_BANQ", "")
	c.WebhookSecret = getenv("BANQ_WEBHOOK_SECRET")
	c.WebhookSecretPrev = getenv("BANQ_WEBHOOK_SECRET_PREVIOUS")
	c.SandboxStepDelay = dur("SANDBOX_STEP_DELAY", 700*time.Millisecond)
	c.ReconcileAfter = dur("CHECKOUT_RECONCILE_AFTER", 30*time.Second)
	c.ReconcileInterval = dur("CHECKOUT_RECONCILE_INTERVAL", time.Second)
	c.RecoverAfter = dur("CHECKOUT_RECOVER_AFTER", 10*time.Second)
	c.CreateTimeout = dur("CHECKOUT_CREATE_TIMEOUT", 15*time.Second)
	if v := env("SANDBOX_FAULTS", ""); v != "" {
		if err := json.Unmarshal([]byte(v), &c.SandboxFaults); err != nil {
			errs = append(errs, fmt.Sprintf("SANDBOX_FAULTS is not the faults' JSON (see PUT /sandbox/faults): %v", err))
		} else if err := c.SandboxFaults.Validate(); err != nil {
			errs = append(errs, fmt.Sprintf("SANDBOX_FAULTS: %v", err))
		}
	}
	c.ShutdownTimeout = dur("CHECKOUT_SHUTDOWN_TIMEOUT", 10*time.Second)
	c.Heartbeat = dur("CHECKOUT_SSE_HEARTBEAT", 20*time.Second)
	c.OrderTTL = dur("CHECKOUT_ORDER_TTL", 30*time.Minute)
	c.WebhookGap = dur("CHECKOUT_WEBHOOK_GAP", 10*time.Minute)
	c.MerchantLogo = env("CHECKOUT_MERCHANT_LOGO", "")
	c.AccentColor = strings.ToLower(env("CHECKOUT_ACCENT_COLOR", ""))
	c.LogFormat = env("CHECKOUT_LOG_FORMAT", "")
	c.LogLevel = env("CHECKOUT_LOG_LEVEL", "info")
	apiRate := env("CHECKOUT_API_RATE", "20")
	if n, err := strconv.ParseFloat(apiRate, 64); err != nil || n < 1 || n > 1e6 {
		errs = append(errs, fmt.Sprintf("CHECKOUT_API_RATE=%q is not a number of requests a second from 1 to 1000000", apiRate))
	} else {
		c.APIRate = handlers.Rate{PerSecond: n, Burst: int(5 * n)}
	}
	for _, p := range strings.Split(env("CHECKOUT_TRUSTED_PROXIES", ""), ",") {
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
			errs = append(errs, fmt.Sprintf("CHECKOUT_TRUSTED_PROXIES: %q is not an IP address or CIDR range", p))
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Sprintf("CHECKOUT_ADDR=%q is not host:port", c.Addr))
	}
	if _, _, err := net.SplitHostPort(c.SandboxAddr); err != nil {
		errs = append(errs, fmt.Sprintf("SANDBOX_ADDR=%q is not host:port", c.SandboxAddr))
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
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
