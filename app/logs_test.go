package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// TestLogsCarryIDsAndNoSecrets runs a whole flow (sign-in, an order, its payment, its webhooks,
// a password change) and reads every log line it wrote.
func TestLogsCarryIDsAndNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := apptest.Start(t, apptest.Options{Log: logs})
	ctx := context.Background()
	demoPassword := a.DemoPassword(t)
	m := a.SignIn(t)

	// An order created with a request id from a proxy: the id reaches the Banq call it causes.
	const traceID = "proxy-trace-42"
	form := url.Values{"amount": {"12.00"}, "description": {"Traced"}, "customer": {a.PayerBanqs(t)[0].GUID},
		"_csrf": {m.CSRF(t, "/orders/new")}}
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/orders", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", traceID)
	resp, err := m.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("X-Request-Id") != traceID {
		t.Fatalf("create order: got %d with X-Request-Id %q, want 303 with %q", resp.StatusCode, resp.Header.Get("X-Request-Id"), traceID)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(resp.Header.Get("Location"), "/orders/"), 10, 64)
	o, err := a.DB.Order(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// A request id that is not fit to log or forward is replaced.
	req, _ = http.NewRequest(http.MethodGet, a.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", `bad id "with" quotes and a very long tail`+strings.Repeat("x", 200))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") || len(got) > 128 {
		t.Errorf("a malformed X-Request-Id came back as %q, want a fresh id", got)
	}

	// The customer's page and its stream, the payment, the webhooks.
	if resp, err = http.Get(a.URL + "/pay/" + o.Token); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("payment page: got %d, want 200", resp.StatusCode)
	}
	stream := openRaw(t, nil, a.URL+"/pay/"+o.Token+"/events")
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), `msg="webhook applied"`) },
		func() string { return "no webhook applied line" })
	stream.body.Close()

	// A password change: neither password may be logged.
	newPassword := "a-new-password-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if r := m.PostForm(t, "/account", "/account/password", url.Values{"current": {demoPassword}, "new": {newPassword}}); r.Status != http.StatusOK {
		t.Fatalf("change password: got %d, want 200", r.Status)
	}

	// What must never be written.
	secret := func(key string) string {
		v, err := a.DB.Setting(ctx, key)
		if err != nil || v == "" {
			t.Fatalf("setting %s: %q %v", key, v, err)
		}
		return v
	}
	token, err := a.Banq.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"demo password":      demoPassword,
		"new password":       newPassword,
		"webhook secret":     secret("webhook_secret"),
		"session key":        secret("session_key"),
		"Banq password":      sandbox.DefaultPassword,
		"Banq access token":  token,
		"payment link token": o.Token,
		"CSRF token":         m.CSRF(t, "/orders/new"),
	}
	u, _ := url.Parse(a.URL)
	for _, c := range m.Client.Jar.Cookies(u) {
		secrets["cookie "+c.Name] = c.Value
	}
	text := logs.String()
	if os.Getenv("CHECKOUT_SHOW_LOGS") != "" {
		t.Log(text)
	}
	for name, v := range secrets {
		if len(v) < 8 {
			t.Fatalf("%s is %q: too short to look for", name, v)
		}
		if strings.Contains(text, v) {
			t.Errorf("the %s appears in the logs", name)
		}
	}

	lines := parseLogs(t, text)
	var traced, requests int
	routesTraced := map[string]bool{}
	for _, l := range lines {
		switch l["msg"] {
		case "request":
			requests++
			if l["request_id"] == "" {
				t.Errorf("request line without request_id: %v", l)
			}
			if strings.HasPrefix(l["route"], "/pay/") && l["path"] != "" {
				t.Errorf("a payment page's path was logged: %v", l)
			}
		case "webhook received", "webhook applied":
			if l["webhook_id"] == "" {
				t.Errorf("%s line without webhook_id: %v", l["msg"], l)
			}
			if l["msg"] == "webhook applied" && l["order_id"] != strconv.FormatInt(o.ID, 10) {
				t.Errorf("webhook applied line with order_id %q, want %d: %v", l["order_id"], o.ID, l)
			}
		case "signed in":
			if l["request_id"] == "" {
				t.Errorf("signed in line without request_id: %v", l)
			}
		}
		if l["request_id"] == traceID {
			traced++
			routesTraced[l["msg"]+" "+l["route"]] = true
		}
	}
	if requests < 8 {
		t.Errorf("got %d request lines, want one per request (8 or more)", requests)
	}
	for _, want := range []string{"request /orders", "banq: call payments.get-paid-direct"} {
		if !routesTraced[want] {
			t.Errorf("no %q line with request_id %s; lines with it: %v", want, traceID, routesTraced)
		}
	}

	// The worker's Banq calls for a webhook carry its id as their request id.
	applied := map[string]bool{}
	for _, l := range lines {
		if l["msg"] == "webhook applied" {
			applied["webhook:"+l["webhook_id"]] = true
		}
	}
	fetches := 0
	for _, l := range lines {
		if l["msg"] == "banq: call" && l["route"] == "payments.get" && applied[l["request_id"]] {
			fetches++
		}
	}
	if len(applied) == 0 || fetches == 0 {
		t.Errorf("%d webhooks applied, %d payment fetches carrying a webhook's id as request_id; want some of each", len(applied), fetches)
	}
}

func TestNewLoggerWritesJSONUnlessATerminal(t *testing.T) {
	var buf bytes.Buffer
	app.NewLogger(&buf, "", "info").Info("hello", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "hello" {
		t.Errorf("format unset, writing to a buffer: got %q, want a JSON line", buf.String())
	}

	// A pipe is not a terminal either.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	app.NewLogger(w, "", "info").Info("piped")
	w.Close()
	out, _ := io.ReadAll(r)
	if err := json.Unmarshal(out, &rec); err != nil || rec["msg"] != "piped" {
		t.Errorf("format unset, writing to a pipe: got %q, want a JSON line", out)
	}

	buf.Reset()
	app.NewLogger(&buf, "text", "warn").Info("quiet")
	app.NewLogger(&buf, "text", "warn").Warn("loud")
	if got := buf.String(); !strings.HasPrefix(got, "time=") || !strings.Contains(got, "msg=loud") || strings.Contains(got, "quiet") {
		t.Errorf("text at warn: got %q, want one text line for the warning", got)
	}
}
