package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
)

// walkthroughBlocks returns the sh code blocks of docs/api.md's section "Use it from your shop",
// in order.
func walkthroughBlocks(t *testing.T) []string {
	t.Helper()
	return docBlocks(t, "Use it from your shop")
}

// docBlocks returns the sh blocks of docs/api.md's section named title, in order.
func docBlocks(t *testing.T, title string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("docs/api.md has no section %q", title)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "\n```sh\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "\n```\n")
		if !ok {
			t.Fatal("an sh block in docs/api.md is not closed")
		}
		blocks, section = append(blocks, block), after
	}
}

// TestDocsWalkthrough runs the curl walkthrough of docs/api.md against the app, as a shop
// developer would: a key from Account → API keys, create an order, follow its pay_url (the
// payer approves in the sandbox), read it back.
func TestDocsWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the walkthrough needs curl: install it (apt-get install curl)")
	}
	blocks := walkthroughBlocks(t)
	if len(blocks) != 3 {
		t.Fatalf("docs/api.md's walkthrough has %d sh blocks, want 3 (create, read by id, read by reference): update this test with it", len(blocks))
	}
	a := apptest.Start(t, apptest.Options{})
	env := append(os.Environ(), "CHECKOUT="+a.URL, "KEY="+a.SignIn(t).CreateAPIKey(t, "web shop", checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite))
	run := func(block string) []byte {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the walkthrough's\n%s\nfailed: %v: %s", block, err, out)
		}
		return out
	}
	var o apptest.APIOrder
	if err := json.Unmarshal(run(blocks[0]), &o); err != nil || o.ID == "" || o.State != "waiting" {
		t.Fatalf("create: got %+v (%v), want a waiting order", o, err)
	}
	env = append(env, "ORDER_ID="+o.ID)

	// Follow pay_url, as the customer's browser would, and pay in the sandbox.
	status, page := getBody(t, o.PayURL)
	if href, _ := apptest.Attr(string(page), "open-in-banq", "href"); status != http.StatusOK || o.PaymentLink == nil || href != *o.PaymentLink {
		t.Fatalf("pay_url: got %d with Open in Banq to %q, want 200 with Banq's link", status, href)
	}
	id, _ := strconv.ParseInt(o.ID, 10, 64)
	stored := a.WaitOrder(t, id, 10*time.Second, func(o checkout.Order) bool { return o.PaymentID != "" })
	a.Act(t, stored.PaymentID, "approve", "")
	a.WaitOrder(t, id, 15*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })

	var got apptest.APIOrder
	if err := json.Unmarshal(run(blocks[1]), &got); err != nil || got.ID != o.ID || got.State != "paid" {
		t.Fatalf("read back: got %+v (%v), want order %s paid", got, err, o.ID)
	}
	var list struct {
		Data []apptest.APIOrder `json:"data"`
	}
	if err := json.Unmarshal(run(blocks[2]), &list); err != nil || len(list.Data) != 1 || list.Data[0].ID != o.ID {
		t.Fatalf("read by reference: got %+v (%v), want order %s", list, err, o.ID)
	}
}
