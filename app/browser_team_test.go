package app_test

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
)

// In a browser, the owner finds Team and Audit in the menu, invites someone as staff and signs
// out; the invited person opens the link, chooses a password, signs in, and sees neither Team
// nor Audit; the owner's audit page then shows them joining. Each page passes axe-core's check
// when it is at hand (CHECKOUT_AXE_CORE; CI has it).
func TestBrowserTeamInvitation(t *testing.T) {
	a := apptest.Start(t, apptest.Options{})
	b := startBrowser(t)
	tb := b.newTab("team", 1280, 900, false)
	var axe string
	if os.Getenv("CHECKOUT_AXE_CORE") != "" || os.Getenv("CHECKOUT_REQUIRE_BROWSER") == "1" {
		axe = axeSource(t)
	}
	a11y := func(what string) {
		if axe != "" {
			checkA11y(t, tb, axe, what)
		}
	}
	signInInBrowser(t, a, tb)
	tb.load(t, "open Team from the menu", 200, chromedp.Click(byTestID("nav-team")))
	a11y("the team page")
	tb.load(t, "invite", 201,
		chromedp.SendKeys(chromedp.ID("invite-email"), "joiner@shop.test"),
		chromedp.SetValue(chromedp.ID("invite-role"), "staff"),
		chromedp.Click(byTestID("invite")),
	)
	link := run(t, tb, "read the link", chromedp.Text(byTestID("invite-link")))
	a11y("the team page with a new invitation")
	tb.load(t, "sign out", 200, chromedp.Click(byTestID("sign-out")))

	tb.load(t, "open the invitation", 200, chromedp.Navigate(link))
	a11y("the invitation page")
	tb.load(t, "join", 200,
		chromedp.SendKeys(chromedp.ID("password"), "joiner's own password"),
		chromedp.Click(byTestID("accept")),
	)
	tb.load(t, "sign in as the new staff", 200,
		chromedp.SendKeys(chromedp.ID("email"), "joiner@shop.test"),
		chromedp.SendKeys(chromedp.ID("password"), "joiner's own password"),
		chromedp.Click(byTestID("sign-in")),
	)
	tb.do(t, "see the orders", chromedp.WaitVisible(byTestID("nav-new-order")))
	if got := tb.eval(t, `String(!!document.querySelector('[data-testid="nav-team"], [data-testid="nav-audit"]'))`); got != "false" {
		t.Fatalf("staff see Team or Audit in the menu: got %s, want false", got)
	}
	tb.load(t, "open /team as staff", 403, chromedp.Navigate(a.URL+"/team"))

	tb.load(t, "sign out from the error page", 200, chromedp.Click(byTestID("sign-out")))
	signInInBrowser(t, a, tb)
	tb.load(t, "open Audit from the menu", 200, chromedp.Click(byTestID("nav-audit")))
	a11y("the audit page")
	if !tb.waitJS(`[...document.querySelectorAll('[data-testid="audit-row"]')].some(r => r.dataset.action === "joined by invitation" && r.dataset.actor === "joiner@shop.test")`, 5*time.Second) {
		t.Fatal("the audit page does not show the invited person joining")
	}
}
