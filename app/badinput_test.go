package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

func inboxRows(t *testing.T, a *apptest.App) int {
	t.Helper()
	n := 0
	for _, c := range webhookCounts(t, a) {
		n += c
	}
	return n
}

func healthy(t *testing.T, a *apptest.App) {
	t.Helper()
	resp, err := http.Get(a.URL + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: got %d, want 200", resp.StatusCode)
	}
}

// TestWebhookBadInput sends the webhook receiver what an attacker or a broken sender might: each
// gets the contract's answer, none is stored, and the server stays healthy.
func TestWebhookBadInput(t *testing.T) {
	// The sandbox's own webhooks are dropped, so that only this test's reach the inbox.
	a := start(t, apptest.Options{Faults: &sandbox.Faults{DropWebhooks: 1}, ReconcileAfter: time.Minute})
	o := a.SignIn(t).MustCreateOrder(t, "9.99", "Webhook target", a.PayerBanqs(t)[0].GUID)
	secret, err := a.DB.Setting(context.Background(), "webhook_secret")
	if err != nil || secret == "" {
		t.Fatalf("webhook secret: %q, %v", secret, err)
	}
	sign := func(body []byte) string { return banq.Sign(body, secret) }
	webhook := func(id string, mutate func(map[string]any)) []byte {
		w := map[string]any{"id": id, "accountSpaceId": 1, "resourceId": o.PaymentID,
			"resourceType": "Payment", "action": "Created", "createdAtUtc": time.Now().UTC().Format(time.RFC3339Nano)}
		if mutate != nil {
			mutate(w)
		}
		b, _ := json.Marshal(w)
		return b
	}

	// A valid webhook is stored and applied: the baseline the bad ones are measured against.
	valid := webhook("test-webhook-valid", nil)
	if r := postWebhook(t, a, valid, sign(valid)); r.Status != http.StatusOK {
		t.Fatalf("valid webhook: got %d %s, want 200", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, err := a.DB.Webhook(context.Background(), "test-webhook-valid")
		if err == nil && w.Status == checkout.WebhookApplied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("valid webhook not applied within 5s: %+v, %v", w, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	big := webhook("test-webhook-big", func(w map[string]any) { w["padding"] = strings.Repeat("x", 64<<10) })
	truncated := webhook("test-webhook-truncated", nil)
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name string
		body []byte
		sig  func(body []byte) string
		want int
	}{
		{"empty body", []byte{}, sign, http.StatusBadRequest},
		{"no header", webhook("test-webhook-1", nil), func([]byte) string { return "" }, http.StatusUnauthorized},
		{"header not base64", webhook("test-webhook-2", nil), func([]byte) string { return "not base64!" }, http.StatusUnauthorized},
		{"HMAC from another secret", webhook("test-webhook-3", nil), func(b []byte) string { return banq.Sign(b, "another secret") }, http.StatusUnauthorized},
		{"HMAC of a different body", webhook("test-webhook-4", nil), func([]byte) string { return sign(valid) }, http.StatusUnauthorized},
		{"truncated JSON", truncated, sign, http.StatusBadRequest},
		{"JSON array", []byte(`[{"id":"test-webhook-5"}]`), sign, http.StatusBadRequest},
		// A number is an id too (see banq's contract test); an object is not.
		{"id of the wrong type", webhook("", func(w map[string]any) { w["id"] = map[string]any{"v": 5} }), sign, http.StatusBadRequest},
		{"trailing data", append(webhook("test-webhook-6", nil), '}'), sign, http.StatusBadRequest},
		{"missing id", webhook("", func(w map[string]any) { delete(w, "id") }), sign, http.StatusBadRequest},
		// Signed deliveries of an unknown type or action are kept: TestSignedWebhooksOfAnyKindAreKept.
		{"missing resource id", webhook("test-webhook-9", func(w map[string]any) { delete(w, "resourceId") }), sign, http.StatusBadRequest},
		{"body past the limit", big, sign, http.StatusRequestEntityTooLarge},
		{"body past the limit, unsigned", big, func([]byte) string { return "" }, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := inboxRows(t, a)
			if r := postWebhook(t, a, tt.body, tt.sig(tt.body)); r.Status != tt.want {
				t.Errorf("got %d %s, want %d", r.Status, r.Body, tt.want)
			}
			if after := inboxRows(t, a); after != before {
				t.Errorf("inbox rows: got %d, want %d (unchanged)", after, before)
			}
			healthy(t, a)
		})
	}

	t.Run("duplicate id", func(t *testing.T) {
		before, events := inboxRows(t, a), timeline(t, a, o.ID)
		orderBefore, _ := a.DB.Order(context.Background(), o.ID)
		if r := postWebhook(t, a, valid, sign(valid)); r.Status < 200 || r.Status > 299 {
			t.Fatalf("got %d %s, want 2xx", r.Status, r.Body)
		}
		time.Sleep(300 * time.Millisecond) // give a wrongly stored duplicate time to be applied
		if after := inboxRows(t, a); after != before {
			t.Errorf("inbox rows: got %d, want %d (unchanged)", after, before)
		}
		w, _ := a.DB.Webhook(context.Background(), "test-webhook-valid")
		if w.Status != checkout.WebhookApplied || w.Duplicates != 1 {
			t.Errorf("inbox row: status %s duplicates %d, want applied, 1", w.Status, w.Duplicates)
		}
		if got := timeline(t, a, o.ID); len(got) != len(events) {
			t.Errorf("timeline: got %d events, want %d (unchanged)", len(got), len(events))
		}
		if got, _ := a.DB.Order(context.Background(), o.ID); got.LastSeq != orderBefore.LastSeq || got.State != orderBefore.State {
			t.Errorf("order: got %s seq %d, want %s seq %d (unchanged)", got.State, got.LastSeq, orderBefore.State, orderBefore.LastSeq)
		}
	})

	t.Run("body at the limit", func(t *testing.T) {
		body := webhook("test-webhook-at-limit", nil)
		body = append(body[:len(body)-1], append(bytes.Repeat([]byte{' '}, 64<<10-len(body)), '}')...)
		if len(body) != 64<<10 {
			t.Fatalf("built a body of %d bytes, want %d", len(body), 64<<10)
		}
		before := inboxRows(t, a)
		if r := postWebhook(t, a, body, sign(body)); r.Status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.Status, r.Body)
		}
		if after := inboxRows(t, a); after != before+1 {
			t.Fatalf("inbox rows: got %d, want %d", after, before+1)
		}
	})
	healthy(t, a)
}

// formField reads a field of the new-order form as the browser would show it: the input's value,
// the textarea's text, or the value of the checked customer radio.
func formField(t *testing.T, doc, name string) string {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	var found *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			if id, _ := attr(n, "data-testid"); id == "order-form" {
				form = n
			}
			if form != nil && (n.Data == "input" || n.Data == "textarea") {
				nm, _ := attr(n, "name")
				typ, _ := attr(n, "type")
				_, checked := attr(n, "checked")
				if nm == name && (typ != "radio" || checked) {
					found = n
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	switch {
	case found == nil:
		return ""
	case found.Data == "textarea":
		if found.FirstChild == nil {
			return ""
		}
		return found.FirstChild.Data
	}
	v, _ := attr(found, "value")
	return v
}

// TestOrderFormBadInput submits the new-order form with what merchants get wrong. Each mistake
// gets a message next to its field, and everything typed comes back as typed.
func TestOrderFormBadInput(t *testing.T) {
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payer := a.PayerBanqs(t)[0].GUID
	const htmlText = `<script>alert("x")</script><b>bold</b> & "quoted"`
	longLatin := strings.Repeat("Coffee beans ", 40)               // 520 characters
	longOther := strings.Repeat("咖啡豆と紅茶、Кофе ☕ ", 40)              // 560 characters, 1,000+ bytes
	withinOther := strings.Repeat("咖啡", checkout.MaxDescription/2) // exactly the limit
	tests := []struct {
		name                          string
		amount, description, customer string
		errs                          []string // the fields that must have a message
	}{
		{"empty form", "", "", "", []string{"amount", "description", "customer"}},
		{"empty amount", "", "Lunch", payer, []string{"amount"}},
		{"blank amount", "   ", "Lunch", payer, []string{"amount"}},
		{"negative amount", "-5.00", "Lunch", payer, []string{"amount"}},
		{"zero", "0", "Lunch", payer, []string{"amount"}},
		{"zero with decimals", "0.00", "Lunch", payer, []string{"amount"}},
		{"too many decimals", "12.345", "Lunch", payer, []string{"amount"}},
		{"huge amount", "1000000000", "Lunch", payer, []string{"amount"}},
		{"absurd amount", strings.Repeat("9", 400), "Lunch", payer, []string{"amount"}},
		{"words for an amount", "twelve", "Lunch", payer, []string{"amount"}},
		{"exponent", "1e3", "Lunch", payer, []string{"amount"}},
		{"HTML as the amount", `<b>5</b>`, "Lunch", payer, []string{"amount"}},
		{"empty description", "12.50", "", payer, []string{"description"}},
		{"blank description", "12.50", " \t ", payer, []string{"description"}},
		{"very long description", "12.50", longLatin, payer, []string{"description"}},
		{"very long non-Latin description", "12.50", longOther, payer, []string{"description"}},
		{"non-Latin description kept with another mistake", "", withinOther, payer, []string{"amount"}},
		{"HTML description kept with another mistake", "0", htmlText, payer, []string{"amount"}},
		{"no customer", "12.50", "Lunch", "", []string{"customer"}},
		{"customer that is no banq", "12.50", "Lunch", strings.Repeat("x", 101), []string{"customer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.CreateOrder(t, tt.amount, tt.description, tt.customer)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("got %d (to %q), want 422 with the form again", r.Status, r.Location)
			}
			wantErr := map[string]bool{}
			for _, f := range tt.errs {
				wantErr[f] = true
			}
			for _, field := range []string{"amount", "description", "customer"} {
				msg := apptest.Text(r.Body, field+"-error")
				switch {
				case wantErr[field] && msg == "":
					t.Errorf("no message next to %s", field)
				case !wantErr[field] && msg != "":
					t.Errorf("unexpected message next to %s: %q", field, msg)
				}
			}
			for _, field := range []string{"amount", "description"} {
				if got, _ := apptest.Attr(r.Body, field, "aria-invalid"); (got == "true") != wantErr[field] {
					t.Errorf("%s aria-invalid: got %q, want %v", field, got, wantErr[field])
				}
			}
			for field, typed := range map[string]string{"amount": tt.amount, "description": tt.description, "customer": tt.customer} {
				if got := formField(t, r.Body, field); got != typed {
					t.Errorf("%s after the error: got %q, want %q as typed", field, got, typed)
				}
			}
			if n := strings.Count(r.Body, "<script"); n != 1 {
				t.Errorf("the page has %d script elements, want only app.js", n)
			}
		})
	}

	t.Run("HTML description is shown escaped everywhere", func(t *testing.T) {
		o := m.MustCreateOrder(t, "4.20", htmlText, payer)
		pages := map[string]string{
			"order page":   m.Get(t, "/orders/"+strconv.FormatInt(o.ID, 10)).Body,
			"payment page": get(t, a.URL+"/pay/"+o.Token).Body,
			"payer's app":  get(t, a.SandboxURL+"/sandbox/pay/"+o.PaymentID).Body,
			"order search": m.Get(t, "/orders?q="+url.QueryEscape(htmlText)).Body,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
		if err != nil {
			t.Fatal(err)
		}
		ev := <-stream.Events
		stream.Close()
		pages["payment page stream"] = ev.Data
		for name, body := range pages {
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>bold") {
				t.Errorf("%s: the description's HTML reached the page unescaped", name)
			}
		}
		for name, id := range map[string]string{"order page": "order-description", "payment page": "description"} {
			if got := apptest.Text(pages[name], id); got != htmlText {
				t.Errorf("%s: description shown as %q, want %q", name, got, htmlText)
			}
		}
		if !strings.Contains(pages["payer's app"], "&lt;script&gt;alert") {
			t.Error("payer's app: the description is not shown (escaped)")
		}
	})
}
