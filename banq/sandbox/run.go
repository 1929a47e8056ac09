package sandbox

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// Run is the `checkout sandbox` subcommand: it serves the sandbox alone until ctx is cancelled.
// Flags (environment in brackets): -addr [SANDBOX_ADDR] default 127.0.0.1:8081, -db [SANDBOX_DB]
// default ./data/sandbox.db, -public-url [SANDBOX_PUBLIC_URL], -client-id, -username, -password
// [SANDBOX_CLIENT_ID, SANDBOX_USERNAME, SANDBOX_PASSWORD], -step-delay, -delivery-backoff,
// -token-ttl, -keep-deliveries, and the faults: -seed, -drop-webhooks, -duplicate-webhooks,
// -delay-webhooks, -api-latency, -api-error-rate, -create-error-after-rate, -token-error-rate, -fault-token-ttl.
// It prints the URL and the credentials to stdout and logs to stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var (
		cfg  Config
		f    Faults
		addr string
	)
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", env("SANDBOX_ADDR", "127.0.0.1:8081"), "address to listen on [SANDBOX_ADDR]")
	fs.StringVar(&cfg.DBPath, "db", env("SANDBOX_DB", "./data/sandbox.db"), "SQLite file; empty for in-memory [SANDBOX_DB]")
	fs.StringVar(&cfg.PublicURL, "public-url", env("SANDBOX_PUBLIC_URL", ""), "base URL as browsers see it; default the listener's [SANDBOX_PUBLIC_URL]")
	fs.StringVar(&cfg.ClientID, "client-id", env("SANDBOX_CLIENT_ID", DefaultClientID), "client_id the token endpoint accepts [SANDBOX_CLIENT_ID]")
	fs.StringVar(&cfg.Username, "username", env("SANDBOX_USERNAME", DefaultUsername), "username the token endpoint accepts [SANDBOX_USERNAME]")
	fs.StringVar(&cfg.Password, "password", env("SANDBOX_PASSWORD", DefaultPassword), "password the token endpoint accepts [SANDBOX_PASSWORD]")
	fs.DurationVar(&cfg.StepDelay, "step-delay", DefaultStepDelay, "delay between the steps of an approval flow")
	fs.DurationVar(&cfg.DeliveryBackoff, "delivery-backoff", DefaultDeliveryBackoff, "first webhook retry delay (doubling, capped at 30s)")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", DefaultTokenTTL, "lifetime of access tokens")
	fs.DurationVar(&cfg.KeepDeliveries, "keep-deliveries", DefaultKeepDeliveries, "how long the webhook delivery log is kept")
	fs.Int64Var(&f.Seed, "seed", 0, "fault RNG seed, for reproducible runs")
	fs.Float64Var(&f.DropWebhooks, "drop-webhooks", 0, "share 0..1 of webhook deliveries dropped")
	fs.Float64Var(&f.DuplicateWebhooks, "duplicate-webhooks", 0, "share 0..1 of webhooks delivered twice")
	fs.DurationVar(&f.DelayWebhooks, "delay-webhooks", 0, "each delivery waits a random 0..this")
	fs.DurationVar(&f.APILatency, "api-latency", 0, "latency added to every API call")
	fs.Float64Var(&f.APIErrorRate, "api-error-rate", 0, "share 0..1 of API calls answered 500/503 without effect")
	fs.Float64Var(&f.CreateErrorAfterRate, "create-error-after-rate", 0, "share 0..1 of creates answered 503 after doing the work")
	fs.Float64Var(&f.TokenErrorRate, "token-error-rate", 0, "share 0..1 of token calls answered 503")
	fs.DurationVar(&f.TokenTTL, "fault-token-ttl", 0, "when > 0, overrides -token-ttl (e.g. 2s to exercise renewal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sandbox: unexpected arguments %q", fs.Args())
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	cfg.Faults = f
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	if cfg.DBPath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}

	r, err := Start(ctx, addr, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	db := cfg.DBPath
	if db == "" {
		db = "(in memory)"
	}
	fmt.Fprintf(stdout, `Banq sandbox listening on %s
  API base URL and auth URL: %s
  client_id:  %s
  username:   %s
  password:   %s
  audience:   %s
  merchant banq: %s (%s), account space %d
  payer pages:   %s/sandbox/
  deliveries:    %s/sandbox/deliveries
  faults:        %s/sandbox/faults
  database:      %s
`, r.URL, r.URL, cfg.ClientID, cfg.Username, cfg.Password, banq.DefaultAudience,
		r.MerchantBanq().Name, r.MerchantBanq().GUID, r.AccountSpace().ID,
		r.cfg.PublicURL, r.cfg.PublicURL, r.cfg.PublicURL, strconv.Quote(db))
	<-ctx.Done()
	shutdown := make(chan error, 1)
	go func() { shutdown <- r.Close() }()
	select {
	case err := <-shutdown:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("sandbox: shutdown took longer than 10s")
	}
}
