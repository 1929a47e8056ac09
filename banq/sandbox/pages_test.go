package sandbox_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/banq-checkout/checkout/banq"
)

// byTestID returns the elements with data-testid id, in document order.
func byTestID(tb testing.TB, page []byte, id string) []*html.Node {
	tb.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		tb.Fatal(err)
	}
	var out []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && attr(n, "data-testid") == id {
			out = append(out, n)
		}
	}
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// browserPost posts a form as a browser does.
func browserPost(tb testing.TB, u string, form url.Values) *http.Response {
	tb.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := noRedirects.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestPayerPages(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payer := c.payers()[0]
	hostile := `<script>alert("x")</script> & "quotes"`
	body := directBody(sb.MerchantBanq().GUID, payer.GUID, "order-page")
	body["comment"] = hostile
	resp, b := c.do("POST", banq.PathGetPaidDirect, body)
	wantStatus(t, resp, b, http.StatusCreated)
	p := mustDecode[banq.Payment](t, b)

	resp, page := call(t, "GET", sb.URL+"/sandbox/", "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if n := len(byTestID(t, page, "payer")); n < 12 {
		t.Errorf("got %d payers on /sandbox/, want 12+", n)
	}
	if !bytes.Contains(page, []byte("Banq sandbox</title>")) {
		t.Errorf("the title does not say it is the sandbox")
	}

	resp, page = call(t, "GET", sb.URL+"/sandbox/banqs/"+payer.GUID, "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if bytes.Contains(page, []byte("<script>")) {
		t.Errorf("the comment was not escaped")
	}
	cards := byTestID(t, page, "payment")
	if len(cards) != 1 || attr(cards[0], "data-payment-id") != p.ID {
		t.Fatalf("got %d payment cards, want the one of %s", len(cards), p.ID)
	}
	for _, id := range []string{"approve", "decline", "fail", "fail-reason", "payment-status"} {
		if len(byTestID(t, page, id)) != 1 {
			t.Errorf("no single data-testid=%q on the banq page", id)
		}
	}
	if opts := byTestID(t, page, "fail-reason")[0]; countChildren(opts, "option") != len(banq.FailReasons) {
		t.Errorf("the fail select has %d options, want %d", countChildren(opts, "option"), len(banq.FailReasons))
	}

	// The form posts redirect back (303) to the page that sent them.
	back := "/sandbox/banqs/" + payer.GUID
	resp = browserPost(t, sb.URL+"/sandbox/payments/"+p.ID+"/fail", url.Values{"reason": {"LimitsExceeded"}, "return": {back}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), back+"?") {
		t.Fatalf("got %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), back)
	}
	resp, page = call(t, "GET", sb.URL+resp.Header.Get("Location"), "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if st := byTestID(t, page, "payment-status"); len(st) != 1 || attr(st[0], "data-status") == string(banq.PaymentPending) {
		t.Errorf("status after fail: %v", st)
	}
	if len(byTestID(t, page, "approve")) != 0 {
		t.Errorf("approve still offered after the payer answered")
	}

	// Another action now is illegal: the browser goes back with an error notice; the return
	// path cannot leave the sandbox.
	resp = browserPost(t, sb.URL+"/sandbox/payments/"+p.ID+"/approve", url.Values{"return": {"//evil.example/"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/sandbox/pay/"+p.ID+"?err=illegal") {
		t.Fatalf("got %d to %q, want 303 to the pay page with an error", resp.StatusCode, loc)
	}
	resp, page = call(t, "GET", sb.URL+"/sandbox/pay/"+p.ID+"?err=illegal", "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if n := byTestID(t, page, "notice"); len(n) != 1 || text(n[0]) == "" {
		t.Errorf("no error notice on the pay page")
	}

	resp, page = call(t, "GET", sb.URL+"/sandbox/pay/nope", "", nil)
	wantStatus(t, resp, page, http.StatusNotFound)
	resp, page = call(t, "GET", sb.URL+"/sandbox/static/sandbox.css", "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	resp, page = call(t, "GET", sb.URL+"/sandbox/deliveries", "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("deliveries page has Content-Type %q", ct)
	}
}

func countChildren(n *html.Node, tag string) int {
	count := 0
	for c := range n.ChildNodes() {
		if c.Type == html.ElementNode && c.Data == tag {
			count++
		}
	}
	return count
}

// TestLinkPageAsksWhoPays: a payment link's page first asks which payer opened it; the answer
// then names that payer as the payment's source.
func TestLinkPageAsksWhoPays(t *testing.T) {
	t.Parallel()
	sb := mustStart(t, fastConfig())
	c := newClient(t, sb.URL)
	payer := c.payers()[1]
	body := directBody(sb.MerchantBanq().GUID, "", "link-order")
	delete(body, "source")
	resp, b := c.do("POST", banq.PathGetPaidLink, body)
	wantStatus(t, resp, b, http.StatusCreated)
	p := mustDecode[banq.Payment](t, b)
	if p.PaymentLink != sb.URL+"/sandbox/pay/"+p.ID || p.Source != nil {
		t.Fatalf("got link %q and source %v, want the pay page and no source", p.PaymentLink, p.Source)
	}

	resp, page := call(t, "GET", p.PaymentLink, "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if len(byTestID(t, page, "link-payer")) < 12 || len(byTestID(t, page, "approve")) != 0 {
		t.Fatal("the link page does not ask who pays first")
	}
	resp, page = call(t, "GET", p.PaymentLink+"?as="+payer.GUID, "", nil)
	wantStatus(t, resp, page, http.StatusOK)
	if len(byTestID(t, page, "approve")) != 1 || !strings.Contains(text(byTestID(t, page, "paying-as")[0]), payer.Name) {
		t.Fatalf("the link page as %s does not offer to approve as them", payer.Name)
	}
	if resp := browserPost(t, sb.URL+"/sandbox/payments/"+p.ID+"/approve", url.Values{"payer": {"nobody"}}); !strings.Contains(resp.Header.Get("Location"), "err=payer") {
		t.Fatalf("an unknown payer: got %d to %q, want an error notice", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = browserPost(t, sb.URL+"/sandbox/payments/"+p.ID+"/approve", url.Values{"payer": {payer.GUID}, "return": {"/sandbox/pay/" + p.ID}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=approve") {
		t.Fatalf("approve: got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, b = c.do("GET", "/api/v1/payments/"+p.ID, nil)
	wantStatus(t, resp, b, http.StatusOK)
	got := mustDecode[banq.Payment](t, b)
	if got.Source == nil || got.Source.BanqGUID != payer.GUID || got.Status == banq.PaymentPending {
		t.Fatalf("got source %v, status %s; want %s's approval", got.Source, got.Status, payer.GUID)
	}
}
