package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	u := sb.URL + banq.PathToken

	wrong := tokenRequest()
	wrong.Password = "nope"
	badGrant := tokenRequest()
	badGrant.GrantType = "client_credentials"
	missing := tokenRequest()
	missing.Username = ""
	for _, tc := range []struct {
		name     string
		body     any
		want     int
		wantCode string
	}{
		{"good", tokenRequest(), http.StatusOK, ""},
		{"wrong password", wrong, http.StatusUnauthorized, "invalid_grant"},
		{"wrong grant type", badGrant, http.StatusUnauthorized, "invalid_grant"},
		{"missing username", missing, http.StatusBadRequest, "invalid_request"},
		{"not JSON", "{", http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, "POST", u, "", tc.body)
			wantStatus(t, resp, body, tc.want)
			if tc.wantCode != "" {
				if got := mustDecode[banq.TokenError](t, body).Error; got != tc.wantCode {
					t.Errorf("got error %q, want %q", got, tc.wantCode)
				}
				return
			}
			tr := mustDecode[banq.TokenResponse](t, body)
			if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 {
				t.Errorf("got %+v, want a Bearer token expiring in 3600s", tr)
			}
		})
	}

	t.Run("form encoded", func(t *testing.T) {
		form := url.Values{"client_id": {sandbox.DefaultClientID}, "username": {sandbox.DefaultUsername},
			"password": {sandbox.DefaultPassword}, "grant_type": {"password"}}
		resp, err := http.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("got status %d, want 200", resp.StatusCode)
		}
	})
}

func TestAPIRequiresToken(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	for _, token := range []string{"", "not-a-token"} {
		resp, body := call(t, "GET", sb.URL+banq.PathBanqs, token, nil)
		wantStatus(t, resp, body, http.StatusUnauthorized)
		if msg := mustDecode[banq.ErrorBody](t, body).Message; msg == "" {
			t.Errorf("401 without a message: %s", body)
		}
	}
	resp, body := call(t, "GET", sb.URL+banq.PathBanqs, mustToken(t, sb.URL), nil)
	wantStatus(t, resp, body, http.StatusOK)
}

// clock is a settable clock for tests of expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := fastConfig()
	cfg.Now = clk.Now
	cfg.TokenTTL = 10 * time.Minute
	sb := mustStart(t, cfg)

	token := mustToken(t, sb.URL)
	clk.Advance(9 * time.Minute)
	resp, body := call(t, "GET", sb.URL+banq.PathMe, token, nil)
	wantStatus(t, resp, body, http.StatusOK)
	clk.Advance(time.Minute)
	resp, body = call(t, "GET", sb.URL+banq.PathMe, token, nil)
	wantStatus(t, resp, body, http.StatusUnauthorized)

	// The fault overrides the TTL of tokens issued from then on.
	sb.SetFaults(sandbox.Faults{TokenTTL: 2 * time.Second})
	resp, body = call(t, "POST", sb.URL+banq.PathToken, "", tokenRequest())
	wantStatus(t, resp, body, http.StatusOK)
	tr := mustDecode[banq.TokenResponse](t, body)
	if tr.ExpiresIn != 2 {
		t.Errorf("got expires_in %d, want 2", tr.ExpiresIn)
	}
	clk.Advance(2 * time.Second)
	resp, body = call(t, "GET", sb.URL+banq.PathMe, tr.AccessToken, nil)
	wantStatus(t, resp, body, http.StatusUnauthorized)
}

func TestCreatePayment(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payer := c.payers()[0]
	merchant := sb.MerchantBanq().GUID

	resp, body := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer.GUID, "order-1"))
	wantStatus(t, resp, body, http.StatusCreated)
	p := mustDecode[banq.Payment](t, body)
	if got, want := resp.Header.Get("Location"), banq.PathPayments+p.ID; got != want {
		t.Errorf("got Location %q, want %q", got, want)
	}
	if p.Status != banq.PaymentPending || p.Funds != 1250 || p.ExternalOrderCode != "order-1" ||
		p.Source == nil || p.Source.BanqGUID != payer.GUID || p.Destination.BanqGUID != merchant ||
		p.AccountSpaceID != 1 || p.Frequency != banq.FrequencyOnce || p.CreatedAtUTC.IsZero() || p.PaymentLink != "" {
		t.Errorf("unexpected payment %+v", p)
	}
	// Funds go out with two decimals, as Banq writes them.
	if !bytes.Contains(body, []byte(`"funds":12.50`)) {
		t.Errorf("funds not written as 12.50: %s", body)
	}

	resp, body = c.do("GET", resp.Header.Get("Location"), nil)
	wantStatus(t, resp, body, http.StatusOK)
	if got := mustDecode[banq.Payment](t, body); got.ID != p.ID || got.Status != banq.PaymentPending {
		t.Errorf("GET got %+v, want payment %s Pending", got, p.ID)
	}

	resp, body = c.do("GET", banq.PathPayments+uuid.NewString(), nil)
	wantStatus(t, resp, body, http.StatusNotFound)

	// A payment link answers the payer page, which exists.
	link := directBody(merchant, "", "order-link")
	delete(link, "source")
	resp, body = c.do("POST", banq.PathGetPaidLink, link)
	wantStatus(t, resp, body, http.StatusCreated)
	lp := mustDecode[banq.Payment](t, body)
	if want := sb.URL + "/sandbox/pay/" + lp.ID; lp.PaymentLink != want || lp.Source != nil {
		t.Errorf("got paymentLink %q source %v, want %q and no source", lp.PaymentLink, lp.Source, want)
	}
	resp, body = call(t, "GET", lp.PaymentLink, "", nil)
	wantStatus(t, resp, body, http.StatusOK)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payers := c.payers()
	merchant := sb.MerchantBanq().GUID

	with := func(change func(m map[string]any)) map[string]any {
		m := directBody(merchant, payers[0].GUID, "order-v")
		change(m)
		return m
	}
	for _, tc := range []struct {
		name      string
		body      any
		want      int
		wantField string
	}{
		{"zero funds", with(func(m map[string]any) { m["funds"] = 0 }), 422, "funds"},
		{"negative funds", with(func(m map[string]any) { m["funds"] = json.Number("-1.00") }), 422, "funds"},
		{"three decimals", with(func(m map[string]any) { m["funds"] = json.Number("1.005") }), 422, "funds"},
		{"too much", with(func(m map[string]any) { m["funds"] = json.Number("1000000000.00") }), 422, "funds"},
		{"funds missing", with(func(m map[string]any) { delete(m, "funds") }), 422, "funds"},
		{"funds not a number", with(func(m map[string]any) { m["funds"] = true }), 422, "funds"},
		{"long comment", with(func(m map[string]any) { m["comment"] = strings.Repeat("é", 501) }), 422, "comment"},
		{"no order code", with(func(m map[string]any) { m["externalOrderCode"] = " " }), 422, "externalOrderCode"},
		{"long order code", with(func(m map[string]any) { m["externalOrderCode"] = strings.Repeat("x", 101) }), 422, "externalOrderCode"},
		{"weekly", with(func(m map[string]any) { m["frequency"] = "weekly" }), 422, "frequency"},
		{"no source", with(func(m map[string]any) { delete(m, "source") }), 422, "source.banqGuid"},
		{"unknown source", with(func(m map[string]any) { m["source"] = map[string]string{"banqGuid": uuid.NewString()} }), 422, "source.banqGuid"},
		{"unknown destination", with(func(m map[string]any) { m["destination"] = map[string]string{"banqGuid": uuid.NewString()} }), 422, "destination.banqGuid"},
		{"source is destination", with(func(m map[string]any) { m["source"] = map[string]string{"banqGuid": merchant} }), 422, "source.banqGuid"},
		{"comment not a string", with(func(m map[string]any) { m["comment"] = 5 }), 422, "comment"},
		{"destination not the merchant's", with(func(m map[string]any) {
			m["destination"] = map[string]string{"banqGuid": payers[1].GUID}
		}), 403, ""},
		{"malformed JSON", `{"funds":`, 400, ""},
		{"trailing data", `{} {}`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do("POST", banq.PathGetPaidDirect, tc.body)
			wantStatus(t, resp, body, tc.want)
			eb := mustDecode[banq.ErrorBody](t, body)
			if eb.Message == "" {
				t.Errorf("no message in %s", body)
			}
			if tc.wantField != "" && len(eb.Errors[tc.wantField]) == 0 {
				t.Errorf("got errors %v, want one on %s", eb.Errors, tc.wantField)
			}
		})
	}
	if n := len(c.paymentsByOrder("order-v")); n != 0 {
		t.Errorf("invalid requests created %d payments, want 0", n)
	}

	t.Run("body limit", func(t *testing.T) {
		big := `{"comment":"` + strings.Repeat("a", 2<<20) + `"}`
		resp, body := c.do("POST", banq.PathGetPaidDirect, big)
		wantStatus(t, resp, body, http.StatusRequestEntityTooLarge)
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payer := c.payers()[0].GUID
	merchant := sb.MerchantBanq().GUID

	key := uuid.NewString()
	r1, b1 := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-i"), banq.HeaderIdempotency, key)
	wantStatus(t, r1, b1, http.StatusCreated)
	// Even a different body gets the first answer back.
	r2, b2 := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-other"), banq.HeaderIdempotency, key)
	wantStatus(t, r2, b2, http.StatusCreated)
	if !bytes.Equal(b1, b2) || r1.Header.Get("Location") != r2.Header.Get("Location") {
		t.Errorf("replay differs:\n first %s %s\nsecond %s %s", r1.Header.Get("Location"), b1, r2.Header.Get("Location"), b2)
	}
	if n := len(c.paymentsByOrder("order-i")); n != 1 {
		t.Errorf("got %d payments for order-i, want 1", n)
	}
	if n := len(c.paymentsByOrder("order-other")); n != 0 {
		t.Errorf("got %d payments for order-other, want 0", n)
	}
	// The same key on the other create path is another operation.
	link := directBody(merchant, "", "order-i-link")
	r3, b3 := c.do("POST", banq.PathGetPaidLink, link, banq.HeaderIdempotency, key)
	wantStatus(t, r3, b3, http.StatusCreated)

	t.Run("concurrent", func(t *testing.T) {
		key := uuid.NewString()
		const n = 20
		bodies := make([][]byte, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, body := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-c"), banq.HeaderIdempotency, key)
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("request %d: got status %d, want 201: %s", i, resp.StatusCode, body)
				}
				bodies[i] = body
			})
		}
		wg.Wait()
		for i := 1; i < n; i++ {
			if !bytes.Equal(bodies[0], bodies[i]) {
				t.Errorf("answer %d differs from answer 0:\n%s\n%s", i, bodies[i], bodies[0])
			}
		}
		if got := len(c.paymentsByOrder("order-c")); got != 1 {
			t.Errorf("got %d payments, want 1", got)
		}
	})

	t.Run("key must be a GUID", func(t *testing.T) {
		resp, body := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-g"), banq.HeaderIdempotency, "order-g")
		wantStatus(t, resp, body, http.StatusBadRequest)
	})
}

func TestBanqsPagination(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)

	seen := map[string]bool{}
	var total, pages int
	for page := 1; ; page++ {
		resp, body := c.do("GET", banq.PathBanqs+"?pageSize=5&page="+itoa(page), nil)
		wantStatus(t, resp, body, http.StatusOK)
		p := mustDecode[banq.Page[banq.Banq]](t, body)
		total, pages = p.Meta.ResourceCount, p.Meta.PageCount
		if page > pages {
			if len(p.Data) != 0 {
				t.Errorf("page %d past the last has %d banqs", page, len(p.Data))
			}
			break
		}
		if page < pages && len(p.Data) != 5 {
			t.Errorf("page %d has %d banqs, want 5", page, len(p.Data))
		}
		for _, b := range p.Data {
			if seen[b.GUID] {
				t.Errorf("banq %s on two pages", b.Name)
			}
			seen[b.GUID] = true
		}
	}
	if total < 13 || pages != (total+4)/5 || pages < 3 || len(seen) != total {
		t.Errorf("got %d banqs over %d pages (%d seen), want 13+ over ceil(n/5) ≥ 3", total, pages, len(seen))
	}

	for _, tc := range []struct {
		search, want string
	}{
		{"ZOË", "Zoë Ångström"}, {"ångström", "Zoë Ångström"}, {"李", "李雷"}, {"@ADA", "Ada Lovelace"},
	} {
		resp, body := c.do("GET", banq.PathBanqs+"?search="+url.QueryEscape(tc.search), nil)
		wantStatus(t, resp, body, http.StatusOK)
		p := mustDecode[banq.Page[banq.Banq]](t, body)
		if len(p.Data) != 1 || p.Data[0].Name != tc.want || p.Meta.ResourceCount != 1 {
			t.Errorf("search %q: got %+v, want only %q", tc.search, p, tc.want)
		}
	}
	resp, body := c.do("GET", banq.PathBanqs+"?search=%25", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if p := mustDecode[banq.Page[banq.Banq]](t, body); len(p.Data) != 0 {
		t.Errorf("search %% matched %d banqs, want 0 (LIKE wildcards must be escaped)", len(p.Data))
	}
	resp, body = c.do("GET", banq.PathBanqs+"?page=0", nil)
	wantStatus(t, resp, body, http.StatusBadRequest)
	resp, body = c.do("GET", banq.PathBanqs+"?pageSize=1000", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if p := mustDecode[banq.Page[banq.Banq]](t, body); len(p.Data) != total {
		t.Errorf("pageSize 1000 (capped at 100) got %d banqs, want %d", len(p.Data), total)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestMe(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	resp, body := c.do("GET", banq.PathMe+"?include=accountSpaces,banqAccounts", nil)
	wantStatus(t, resp, body, http.StatusOK)
	me := mustDecode[banq.Me](t, body)
	if len(me.AccountSpaces) != 1 || me.AccountSpaces[0].ID != 1 || me.AccountSpaces[0].Name != "Demo Shop" {
		t.Errorf("got account spaces %+v, want [1 Demo Shop]", me.AccountSpaces)
	}
	if len(me.BanqAccounts) != 1 || me.BanqAccounts[0] != sb.MerchantBanq() {
		t.Errorf("got banq accounts %+v, want [%+v]", me.BanqAccounts, sb.MerchantBanq())
	}
	if me.Email != sandbox.DefaultUsername || me.ID == "" {
		t.Errorf("got me %+v", me)
	}
}

func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	path := "/api/v1/account-spaces/1/webhook-config"
	cfg := banq.WebhookConfig{URL: "http://127.0.0.1:1/hooks", Enabled: true, RetryCount: 3,
		WebHookTypes: []banq.ResourceType{"payment"}, SharedSecret: "s3cret"}

	resp, body := c.do("GET", path, nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = c.do("PUT", path, cfg)
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = c.do("POST", "/api/v1/account-spaces/2/webhook-config", cfg)
	wantStatus(t, resp, body, http.StatusNotFound)

	bad := cfg
	bad.URL = "/relative"
	resp, body = c.do("POST", path, bad)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if eb := mustDecode[banq.ErrorBody](t, body); len(eb.Errors["url"]) == 0 {
		t.Errorf("got %s, want an error on url", body)
	}

	resp, body = c.do("POST", path, cfg)
	wantStatus(t, resp, body, http.StatusCreated)
	resp, body = c.do("POST", path, cfg)
	wantStatus(t, resp, body, http.StatusBadRequest)

	cfg.RetryCount = 5
	cfg.SharedSecret = "" // keeps the old one
	resp, body = c.do("PUT", path, cfg)
	wantStatus(t, resp, body, http.StatusOK)

	resp, body = c.do("GET", path, nil)
	wantStatus(t, resp, body, http.StatusOK)
	got := mustDecode[banq.WebhookConfig](t, body)
	if got.RetryCount != 5 || got.URL != cfg.URL || !got.Enabled || len(got.WebHookTypes) != 1 {
		t.Errorf("got %+v", got)
	}
	if bytes.Contains(body, []byte("s3cret")) || bytes.Contains(body, []byte("sharedSecret")) {
		t.Errorf("GET shows the secret: %s", body)
	}
}

func TestAPIFaults(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payer := c.payers()[0].GUID
	merchant := sb.MerchantBanq().GUID

	// Every call fails without effect.
	resp, body := c.control("PUT", "/sandbox/faults", map[string]any{"seed": 7, "apiErrorRate": 1})
	wantStatus(t, resp, body, http.StatusOK)
	for range 5 {
		resp, body := c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-f"), banq.HeaderIdempotency, uuid.NewString())
		if resp.StatusCode != 500 && resp.StatusCode != 503 {
			t.Fatalf("got %d, want 500 or 503: %s", resp.StatusCode, body)
		}
	}
	if n := len(c.paymentsByOrder("order-f")); n != 0 {
		t.Errorf("apiErrorRate 1: got %d payments, want 0", n)
	}

	// The work is done, the answer lost; the retry with the same key gets the payment.
	sb.SetFaults(sandbox.Faults{CreateErrorAfterRate: 1})
	key := uuid.NewString()
	resp, body = c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-a"), banq.HeaderIdempotency, key)
	wantStatus(t, resp, body, http.StatusServiceUnavailable)
	sb.SetFaults(sandbox.Faults{})
	resp, body = c.do("POST", banq.PathGetPaidDirect, directBody(merchant, payer, "order-a"), banq.HeaderIdempotency, key)
	wantStatus(t, resp, body, http.StatusCreated)
	if n := len(c.paymentsByOrder("order-a")); n != 1 {
		t.Errorf("createErrorAfterRate: got %d payments, want 1", n)
	}

	sb.SetFaults(sandbox.Faults{TokenErrorRate: 1})
	resp, body = call(t, "POST", sb.URL+banq.PathToken, "", tokenRequest())
	wantStatus(t, resp, body, http.StatusServiceUnavailable)

	// Faults round-trip as JSON with durations as strings; bad ones are refused.
	resp, body = c.control("PUT", "/sandbox/faults", `{"seed":3,"delayWebhooks":"250ms","apiLatency":"5ms","tokenTTL":"2s"}`)
	wantStatus(t, resp, body, http.StatusOK)
	if got := sb.Faults(); got.DelayWebhooks != 250*time.Millisecond || got.APILatency != 5*time.Millisecond || got.TokenTTL != 2*time.Second || got.Seed != 3 {
		t.Errorf("got faults %+v", got)
	}
	resp, body = c.control("GET", "/sandbox/faults", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if !bytes.Contains(body, []byte(`"delayWebhooks":"250ms"`)) {
		t.Errorf("got %s, want delayWebhooks as \"250ms\"", body)
	}
	resp, body = c.control("PUT", "/sandbox/faults", `{"dropWebhooks":1.5}`)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
}
