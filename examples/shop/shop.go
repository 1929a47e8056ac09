// Package shop is an example web shop that takes payment through the Banq checkout the way a
// real shop does: "Pay with Banq" creates an order over the checkout's API and sends the customer
// to its pay_url; the customer comes back to the shop's order page, where the shop waits for the
// checkout's signed notification and only then says "paid, ship it". A shop must not trust the
// return alone: a customer may never come back, or come back by hand. cmd/shop runs it.
package shop

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what the shop needs to know.
type Config struct {
	Checkout string // the checkout's base URL
	APIKey   string // Bearer key for the checkout's API
	Secret   string // the notification endpoint's signing secret
	Public   string // the shop's own base URL, for return URLs
	Client   *http.Client
	Logger   *slog.Logger // slog's default when nil
}

// Order is one purchase, as the shop keeps it.
type Order struct {
	ID        string
	Product   string
	Amount    string
	State     string // new, waiting, paid, late, unpaid
	CheckoutN string // the checkout's order number
	PayURL    string
	Seq       int64 // the last notification applied
	Returned  bool  // the customer came back through the return URL
}

// Shop is the example shop's HTTP handler and its in-memory orders.
type Shop struct {
	cfg    Config
	mu     sync.Mutex
	orders map[string]*Order
	seen   map[string]bool // webhook-ids already handled
	mux    *http.ServeMux
}

// New returns the shop.
func New(cfg Config) *Shop {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Shop{cfg: cfg, orders: map[string]*Order{}, seen: map[string]bool{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.product)
	s.mux.HandleFunc("POST /buy", s.buy)
	s.mux.HandleFunc("GET /orders/{id}", s.order)
	s.mux.HandleFunc("POST /checkout-events", s.notification)
	return s
}

func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="2">{{end}}
<title>The Mug Shop</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
.card{border:1px solid #d9dee3;border-radius:10px;padding:1rem 1.25rem}button{font:inherit;padding:.6rem 1.2rem;border-radius:8px;border:0;background:#0b5cad;color:#fff}
h1 a{color:inherit;text-decoration:none}.ok{color:#137333}.bad{color:#b3261e}.muted{color:#5b6570}</style></head><body>
<h1><a href="/">The Mug Shop</a></h1>
{{if .Order}}{{with .Order}}<div class="card" data-testid="shop-order" data-state="{{.State}}">
<p>Order {{.ID}}: {{.Product}}, ${{.Amount}}</p>
{{if eq .State "paid"}}<p class="ok" data-testid="shop-paid"><strong>Paid.</strong> Ship it! We are packing your mug.</p>
{{else if eq .State "late"}}<p class="ok" data-testid="shop-paid-late"><strong>Paid late.</strong> Your payment arrived after the order had ended; we will write to you.</p>
{{else if eq .State "unpaid"}}<p class="bad" data-testid="shop-unpaid">Not paid. Nothing was charged. <a href="/">Try again</a>.</p>
{{else}}<p data-testid="shop-waiting">Waiting for confirmation of your payment from the checkout…</p>
<p class="muted">This page looks again every two seconds. {{if .PayURL}}<a href="{{.PayURL}}">Back to the payment page</a>{{end}}</p>{{end}}
</div>{{end}}{{else}}
<div class="card"><h2>Banq mug</h2><p>A mug for your morning coffee. $12.50</p>
<form method="post" action="/buy"><button type="submit" data-testid="shop-buy">Pay with Banq</button></form></div>
{{if .Error}}<p class="bad" role="alert">{{.Error}}</p>{{end}}{{end}}
</body></html>`))

func (s *Shop) render(w http.ResponseWriter, status int, data map[string]any) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Shop) product(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, map[string]any{})
}

func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "S-" + strings.ToUpper(hex.EncodeToString(b))
}

// checkoutOrder is the part of the checkout's order that the shop reads.
type checkoutOrder struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	State     string `json:"state"`
	PayURL    string `json:"pay_url"`
	Late      bool   `json:"late"`
	Seq       int64  `json:"seq"`
}

// buy creates the order at the checkout and sends the customer to pay it.
func (s *Shop) buy(w http.ResponseWriter, r *http.Request) {
	o := &Order{ID: newID(), Product: "Banq mug", Amount: "12.50", State: "new"}
	body, _ := json.Marshal(map[string]any{
		"amount": o.Amount, "description": "Banq mug", "reference": o.ID,
		"metadata":   map[string]string{"product": "mug"},
		"return_url": s.cfg.Public + "/orders/" + o.ID, "cancel_url": s.cfg.Public + "/orders/" + o.ID,
	})
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, s.cfg.Checkout+"/api/v1/orders", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	// The shop's own order id as the key: a retry after a lost answer creates nothing twice.
	req.Header.Set("Idempotency-Key", o.ID)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		s.render(w, http.StatusBadGateway, map[string]any{"Error": "The checkout did not answer; please try again."})
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var co checkoutOrder
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &co) != nil || co.PayURL == "" {
		s.cfg.Logger.Error("create order at the checkout", "status", resp.StatusCode, "body", string(raw))
		s.render(w, http.StatusBadGateway, map[string]any{"Error": "The checkout refused the order: " + string(raw)})
		return
	}
	o.State, o.CheckoutN, o.PayURL = "waiting", co.ID, co.PayURL
	s.mu.Lock()
	s.orders[o.ID] = o
	s.mu.Unlock()
	http.Redirect(w, r, co.PayURL, http.StatusSeeOther)
}

// order is the shop's order page, where the checkout sends the customer back. The state shown
// is the one the notifications set: the return itself proves nothing.
func (s *Shop) order(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("id")]
	var cp Order
	if ok {
		if r.URL.Query().Has("order_id") {
			o.Returned = true
		}
		cp = *o
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.render(w, http.StatusOK, map[string]any{"Order": cp, "Refresh": cp.State == "waiting"})
}

// notification receives the checkout's signed notifications.
func (s *Shop) notification(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	if err := verify(s.cfg.Secret, r.Header, body, time.Now()); err != nil {
		s.cfg.Logger.Warn("notification refused", "err", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n struct {
		Type string        `json:"type"`
		Data checkoutOrder `json:"data"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[id] {
		w.WriteHeader(http.StatusNoContent) // a repeat: delivery is at least once
		return
	}
	s.seen[id] = true
	o, ok := s.orders[n.Data.Reference]
	if !ok || n.Data.Seq <= o.Seq {
		w.WriteHeader(http.StatusNoContent) // not ours, or older than what was applied
		return
	}
	o.Seq = n.Data.Seq
	switch n.Type {
	case "order.paid":
		o.State = "paid"
	case "order.late_payment":
		o.State = "late"
	case "order.declined", "order.failed", "order.canceled", "order.expired":
		o.State = "unpaid"
	}
	s.cfg.Logger.Info("notification", "type", n.Type, "order", o.ID, "state", o.State)
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a Standard Webhooks signature: HMAC-SHA256 of "{id}.{timestamp}.{body}" with the
// base64 key after "whsec_", any of the space-separated "v1,<base64>" values, and a timestamp
// within five minutes (any Standard Webhooks library does the same).
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing headers")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is too far from now", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}
