package app_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/banq-checkout/checkout/app/apptest"
)

// Every field error is tied to its field for screen readers: the invalid field names the
// error's element in aria-describedby, and no error is left unnamed.
func TestFieldErrorsDescribeTheirFields(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	forms := map[string]string{
		"new order sent empty": m.CreateOrder(t, "", "", "").Body,
		"new order with a wrong expiry": m.PostForm(t, "/orders/new", "/orders", url.Values{
			"amount": {"1.00"}, "description": {"Tea"}, "customer": {a.PayerBanqs(t)[0].GUID}, "expires": {"0"}}).Body,
		"order list with bad dates":     m.Get(t, "/orders?from=2026-13-45&to=yesterday").Body,
		"password change":               m.PostForm(t, "/account", "/account/password", url.Values{"current": {"wrong"}, "new": {"short"}}).Body,
		"API key without name or scope": m.PostForm(t, "/account/api-keys", "/account/api-keys", url.Values{"name": {""}}).Body,
	}
	for name, doc := range forms {
		root, err := html.Parse(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		ids, described, errorsShown := map[string]string{}, map[string]bool{}, 0
		var invalid []*html.Node
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if id := attr(n, "id"); id != "" {
					ids[id] = textOf(n)
				}
				if attr(n, "aria-invalid") == "true" {
					invalid = append(invalid, n)
				}
				if strings.Contains(" "+attr(n, "class")+" ", " field-error ") {
					errorsShown++
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(root)
		if errorsShown == 0 {
			t.Errorf("%s: no field error shown; the test needs some", name)
		}
		for _, n := range invalid {
			ref := attr(n, "aria-describedby")
			if text, ok := ids[ref]; ref == "" || !ok || text == "" {
				t.Errorf("%s: invalid <%s id=%q> has aria-describedby %q, want the id of its error's text", name, n.Data, attr(n, "id"), ref)
			}
			described[ref] = true
		}
		for id := range ids {
			if strings.HasSuffix(id, "-error") && !described[id] {
				t.Errorf("%s: error %q (%s) describes no field", name, id, ids[id])
			}
		}
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
