package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// overflowJS gives "" when the page fits its viewport sideways, or else the page's width and
// the elements that stick out, to say what to fix.
//
// It measures against the layout viewport (clientWidth, the device's width with
// width=device-width), not innerWidth, which a phone widens by zooming out to show a wide page.
const overflowJS = `(function () {
  var w = document.documentElement.clientWidth, sw = document.documentElement.scrollWidth;
  if (sw <= w) return "";
  var out = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > w + 0.5 && out.length < 6) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") + " to " + Math.round(r.right));
  });
  return "scrollWidth " + sw + " > " + w + ": " + out.join(", ");
})()`

// squeezedJS gives "" unless a timeline's time is squeezed onto more than two lines.
const squeezedJS = `(function () {
  var bad = "";
  document.querySelectorAll(".timeline time").forEach(function (el) {
    var line = parseFloat(getComputedStyle(el).lineHeight) || 24;
    if (!bad && el.getBoundingClientRect().height > 2.5 * line) bad = "a timeline time is " + Math.round(el.getBoundingClientRect().width) + " px wide and " + Math.round(el.getBoundingClientRect().height) + " px tall: " + el.textContent;
  });
  return bad;
})()`

// TestBrowserMerchantPagesFitPhones opens every merchant page, with the content that makes
// them wide (long names, states with badges, webhook links on the timeline, refused
// deliveries), at 360 and 390 px: none may scroll the page sideways.
func TestBrowserMerchantPagesFitPhones(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	payers := a.PayerBanqs(t)
	paid := m.MustCreateOrder(t, "1234567.89", "A long description of what was bought, with words like Wiederverwendungsmöglichkeiten", payers[0].GUID)
	a.Act(t, paid.PaymentID, "approve", "")
	failed := m.MustCreateOrder(t, "7.05", "Sandwich", payers[1].GUID)
	a.Act(t, failed.PaymentID, "fail", banq.FailInsufficientBalance)
	waiting := m.MustCreateOrder(t, "3.20", "Espresso", payers[2].GUID)
	a.WaitOrder(t, paid.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	a.WaitOrder(t, failed.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StateFailed })
	// A refused delivery shows on the webhooks page.
	resp, err := http.Post(a.URL+"/webhooks/banq", "application/json", strings.NewReader(`{"not":"a webhook from Banq at all, with a long body that does not wrap by itself"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hooks, _, err := a.DB.ListWebhooks(context.Background(), checkout.WebhookFilter{OrderID: paid.ID, Limit: 1})
	if err != nil || len(hooks) == 0 {
		t.Fatalf("webhooks received: %d (%v), want some", len(hooks), err)
	}
	id := func(o checkout.Order) string { return strconv.FormatInt(o.ID, 10) }
	pages := []string{
		"/orders", "/orders?state=paid", "/orders/new", "/orders/new?q=" + strings.Fields(payers[0].Name)[0],
		"/orders/" + id(paid), "/orders/" + id(failed), "/orders/" + id(waiting),
		"/webhook-log", "/webhook-log?order=" + id(paid), "/webhook-log/" + hooks[0].ID,
		"/account", "/orders/999999",
	}
	var tabs []*tab
	for _, width := range []int64{360, 390} {
		tb := b.newTab(fmt.Sprintf("phone-%d", width), width, 800, true)
		tabs = append(tabs, tb)
		tb.load(t, "open the sign-in page", 200, chromedp.Navigate(a.URL+"/login"))
		if got := run(t, tb, "read the layout width", chromedp.Evaluate[int64](`document.documentElement.clientWidth`)); got != width {
			t.Fatalf("layout viewport: got %d px wide, want %d", got, width)
		}
		if got := tb.eval(t, overflowJS); got != "" {
			t.Errorf("/login at %d px: %s", width, got)
		}
	}
	signInInBrowser(t, a, tabs[0]) // the other tab shares the session
	for i, width := range []int64{360, 390} {
		tb := tabs[i]
		for _, p := range pages {
			want := int64(200)
			if p == "/orders/999999" {
				want = 404
			}
			tb.load(t, "open "+p, want, chromedp.Navigate(a.URL+p))
			if got := tb.eval(t, overflowJS); got != "" {
				t.Errorf("%s at %d px: %s", p, width, got)
			}
			if got := tb.eval(t, squeezedJS); got != "" {
				t.Errorf("%s at %d px: %s", p, width, got)
			}
		}
		// The form's errors, after sending it empty.
		tb.load(t, "open the order form", 200, chromedp.Navigate(a.URL+"/orders/new"))
		tb.load(t, "send the empty order form", 422, chromedp.Click(byTestID("create-order")))
		if got := tb.eval(t, overflowJS); got != "" {
			t.Errorf("the new-order form with errors at %d px: %s", width, got)
		}
	}
}
