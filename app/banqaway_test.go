package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
)

// With real Banq away at start, the app still starts; orders taken meanwhile wait, and once Banq
// answers they are sent, to the banq Banq named, with their original keys.
func TestBanqAwayAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	banqURL := "http://" + addr
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.BanqAPIURL, c.BanqAuthURL = banqURL, banqURL
		c.BanqClientID, c.BanqUsername, c.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
		c.SessionKey = strings.Repeat("s", 32)
	}})
	if resp, err := http.Get(a.URL + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with Banq away: got %v, %v; want 503", resp.StatusCode, err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("a long password"), bcrypt.MinCost)
	if _, err := a.DB.CreateUser(context.Background(), checkout.User{Email: "staff@shop.test", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	m := a.NewMerchant()
	if r := m.PostForm(t, "/login", "/login", url.Values{"email": {"staff@shop.test"}, "password": {"a long password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("sign in: got %d", r.Status)
	}
	// The sandbox that will play Banq, seeded now so we know a payer's banq, then stopped.
	sbDB := filepath.Join(t.TempDir(), "banq.db")
	seed, err := sandbox.New(sandbox.Config{DBPath: sbDB})
	if err != nil {
		t.Fatal(err)
	}
	payers, err := seed.PayerBanqs(context.Background())
	if err != nil || len(payers) == 0 {
		t.Fatalf("payers: %v", err)
	}
	merchant := seed.MerchantBanq().GUID
	seed.Close()

	r := m.CreateOrder(t, "9.00", "Waits for Banq", payers[0].GUID)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("create with Banq away: got %d, want 503 and the form again", r.Status)
	}
	orders, _, err := a.DB.ListOrders(context.Background(), checkout.OrderFilter{})
	if err != nil || len(orders) != 1 || orders[0].State != checkout.StateCreating {
		t.Fatalf("got %+v, %v; want one order still being sent", orders, err)
	}

	sb, err := sandbox.Start(context.Background(), addr, sandbox.Config{DBPath: sbDB, StepDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	o := a.WaitOrder(t, orders[0].ID, 15*time.Second, func(o checkout.Order) bool { return o.State != checkout.StateCreating })
	if o.State != checkout.StateWaiting {
		t.Fatalf("after Banq came back: got %s (%s), want waiting", o.State, o.CreateError)
	}
	p, err := sb.Payment(context.Background(), o.PaymentID)
	if err != nil || p.Destination.BanqGUID != merchant || p.ExternalOrderCode != o.Number() {
		t.Fatalf("payment: got %+v, %v; want to %s with the order's number as its code", p, err, merchant)
	}
	if resp, err := http.Get(a.URL + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz with Banq back: got %v, %v; want 200", resp.StatusCode, err)
	}
}
