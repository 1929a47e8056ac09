package app_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/handlers"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaultsToSandbox(t *testing.T) {
	c, err := app.ParseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sandbox() || c.Addr != ":8080" || c.DB != "./data/checkout.db" || c.SandboxAddr != "127.0.0.1:8081" {
		t.Fatalf("got %+v, want sandbox defaults", c)
	}
	if c.StreamLimits != (handlers.StreamLimits{PerAddress: 100, PerLink: 20}) {
		t.Fatalf("stream limits %+v, want 100 per address and 20 per payment link", c.StreamLimits)
	}
	if c, err := app.ParseConfig(nil, envOf(map[string]string{"CHECKOUT_SSE_MAX_PER_ADDRESS": "7", "CHECKOUT_SSE_MAX_PER_LINK": "3"}), io.Discard); err != nil ||
		c.StreamLimits != (handlers.StreamLimits{PerAddress: 7, PerLink: 3}) {
		t.Fatalf("stream limits from the environment: got %+v (%v), want 7 and 3", c.StreamLimits, err)
	}
	if c.CreateTimeout != 15*time.Second || c.SandboxFaults != (sandbox.Faults{}) {
		t.Fatalf("create timeout %v, sandbox faults %+v: want 15s and none", c.CreateTimeout, c.SandboxFaults)
	}
	c, err = app.ParseConfig(nil, envOf(map[string]string{"CHECKOUT_CREATE_TIMEOUT": "2s",
		"SANDBOX_FAULTS": `{"dropWebhooks":0.3,"tokenTTL":"1s","seed":7}`}), io.Discard)
	if want := (sandbox.Faults{DropWebhooks: 0.3, TokenTTL: time.Second, Seed: 7}); err != nil || c.CreateTimeout != 2*time.Second || c.SandboxFaults != want {
		t.Fatalf("got create timeout %v, faults %+v (%v); want 2s, %+v", c.CreateTimeout, c.SandboxFaults, err, want)
	}
	if c.DefaultLanguage != "en" || c.Currency.String() != "USD" || c.TimeZone != time.Local {
		t.Errorf("shop defaults: got %q %v %v, want en USD the server's zone", c.DefaultLanguage, c.Currency, c.TimeZone)
	}
	c, err = app.ParseConfig(nil, envOf(map[string]string{"CHECKOUT_DEFAULT_LANGUAGE": "AR", "CHECKOUT_CURRENCY": "eur", "CHECKOUT_TIMEZONE": "Europe/Berlin"}), io.Discard)
	if err != nil || c.DefaultLanguage != "ar" || c.Currency.String() != "EUR" || c.TimeZone.String() != "Europe/Berlin" {
		t.Errorf("shop settings: got %q %v %v (%v), want ar EUR Europe/Berlin", c.DefaultLanguage, c.Currency, c.TimeZone, err)
	}
	c, err = app.ParseConfig([]string{"-addr", "127.0.0.1:9999"}, envOf(map[string]string{"CHECKOUT_ADDR": ":1"}), io.Discard)
	if err != nil || c.Addr != "127.0.0.1:9999" {
		t.Fatalf("flag over variable: got %q, %v", c.Addr, err)
	}
}

func TestParseConfigNamesTheBadVariable(t *testing.T) {
	real := map[string]string{
		"BANQ_API_URL": "https://api.banq.example", "BANQ_AUTH_URL": "https://auth.banq.example",
		"BANQ_CLIENT_ID": "id", "BANQ_USERNAME": "u", "BANQ_PASSWORD": "p",
		"CHECKOUT_PUBLIC_URL": "https://pay.example", "CHECKOUT_SESSION_KEY": strings.Repeat("k", 32),
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range real {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"CHECKOUT_ADDR": "nonsense"}, "CHECKOUT_ADDR"},
		{map[string]string{"SANDBOX_ADDR": "8081"}, "SANDBOX_ADDR"},
		{map[string]string{"CHECKOUT_PUBLIC_URL": "pay.example"}, "CHECKOUT_PUBLIC_URL"},
		{map[string]string{"CHECKOUT_RECONCILE_AFTER": "soon"}, "CHECKOUT_RECONCILE_AFTER"},
		{map[string]string{"CHECKOUT_SSE_MAX_PER_ADDRESS": "0"}, "CHECKOUT_SSE_MAX_PER_ADDRESS"},
		{map[string]string{"CHECKOUT_SSE_MAX_PER_LINK": "many"}, "CHECKOUT_SSE_MAX_PER_LINK"},
		{map[string]string{"CHECKOUT_CREATE_TIMEOUT": "-1s"}, "CHECKOUT_CREATE_TIMEOUT"},
		{map[string]string{"SANDBOX_FAULTS": `{"dropWebhooks":`}, "SANDBOX_FAULTS"},
		{map[string]string{"SANDBOX_FAULTS": `{"dropWebhooks":2}`}, "SANDBOX_FAULTS"},
		{map[string]string{"CHECKOUT_LOG_FORMAT": "xml"}, "CHECKOUT_LOG_FORMAT"},
		{map[string]string{"CHECKOUT_DEFAULT_LANGUAGE": "fr"}, "CHECKOUT_DEFAULT_LANGUAGE"},
		{map[string]string{"CHECKOUT_CURRENCY": "EURO"}, "CHECKOUT_CURRENCY"},
		{map[string]string{"CHECKOUT_TIMEZONE": "Mars/Olympus"}, "CHECKOUT_TIMEZONE"},
		{map[string]string{"CHECKOUT_API_RATE": "lots"}, "CHECKOUT_API_RATE"},
		{map[string]string{"CHECKOUT_API_RATE": "0"}, "CHECKOUT_API_RATE"},
		{map[string]string{"CHECKOUT_SESSION_KEY": "short"}, "CHECKOUT_SESSION_KEY"},
		{with("CHECKOUT_SESSION_KEY", ""), "CHECKOUT_SESSION_KEY"},
		{with("BANQ_PASSWORD", ""), "BANQ_PASSWORD"},
		{with("BANQ_API_URL", "ftp://x"), "BANQ_API_URL"},
		{with("CHECKOUT_PUBLIC_URL", ""), "CHECKOUT_PUBLIC_URL"},
	}
	for _, tt := range tests {
		_, err := app.ParseConfig(nil, envOf(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("env %v: got %v, want an error naming %s", tt.env, err, tt.name)
		}
	}
	c, err := app.ParseConfig(nil, envOf(real), io.Discard)
	if err != nil || c.Sandbox() || c.ReconcileAfter != 30*time.Second || c.APIRate.PerSecond != 20 || c.APIRate.Burst != 100 {
		t.Fatalf("real Banq config: got sandbox=%v, %v", c.Sandbox(), err)
	}
}

func TestParseConfigMetrics(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantAddr  string
		wantToken string
		wantErr   string // a part of the error, naming the variable
	}{
		{"default: loopback only", nil, "127.0.0.1:9090", "", ""},
		{"own address", map[string]string{"CHECKOUT_METRICS_ADDR": ":9100"}, ":9100", "", ""},
		{"off", map[string]string{"CHECKOUT_METRICS_ADDR": "off"}, "", "", ""},
		{"token", map[string]string{"CHECKOUT_METRICS_TOKEN": "0123456789abcdef"}, "127.0.0.1:9090", "0123456789abcdef", ""},
		{"bad address", map[string]string{"CHECKOUT_METRICS_ADDR": "9090"}, "", "", "CHECKOUT_METRICS_ADDR"},
		{"short token", map[string]string{"CHECKOUT_METRICS_TOKEN": "secret"}, "", "", "CHECKOUT_METRICS_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := app.ParseConfig(nil, envOf(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MetricsAddr != tt.wantAddr || cfg.MetricsToken != tt.wantToken {
				t.Errorf("got addr %q token %q, want %q %q", cfg.MetricsAddr, cfg.MetricsToken, tt.wantAddr, tt.wantToken)
			}
		})
	}
	cfg, err := app.ParseConfig([]string{"-metrics-addr", "off"}, envOf(nil), io.Discard)
	if err != nil || cfg.MetricsAddr != "" {
		t.Errorf("-metrics-addr off: got %q %v, want none", cfg.MetricsAddr, err)
	}
}
