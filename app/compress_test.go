package app_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/banq-checkout/checkout/app/apptest"
)

// getEncoded fetches path from the app as a browser would, accepting gzip, with the merchant's cookies
// when m is set, and returns the answer's Content-Encoding, Content-Type and body (inflated).
// An event stream is read only up to its headers.
func getEncoded(t *testing.T, a *apptest.App, m *apptest.Merchant, path string) (encoding, ctype, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	// The transport would otherwise ask for gzip itself and hide the header it answered.
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	if m != nil {
		c.Jar = m.Client.Jar
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got %d, want 200", path, resp.StatusCode)
	}
	encoding, ctype = resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type")
	if strings.HasPrefix(ctype, "text/event-stream") {
		return encoding, ctype, ""
	}
	var r io.Reader = resp.Body
	if encoding == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: gzip: %v", path, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return encoding, ctype, string(b)
}

// Pages, CSS and JS go out gzipped to a client that accepts it; event streams and the CSV
// export never do.
func TestCompressesPagesNotStreams(t *testing.T) {
	t.Parallel()
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "4.20", "Compressed coffee", a.PayerBanqs(t)[0].GUID)
	for _, tc := range []struct {
		path, wantEncoding, wantIn string
		merchant                   bool
	}{
		{"/pay/" + url.PathEscape(o.Token), "gzip", `data-testid="pay-state"`, false},
		{"/static/app.css", "gzip", ".qr", false},
		{"/static/app.js", "gzip", "EventSource", false},
		{"/static/pay.css", "gzip", ".handoff", false},
		{"/static/pay.js", "gzip", "EventSource", false},
		{"/orders", "gzip", `data-testid="order-row"`, true},
		{"/orders/" + strconv.FormatInt(o.ID, 10), "gzip", "Compressed coffee", true},
		{"/orders.csv", "", "Compressed coffee", true},
		{"/pay/" + url.PathEscape(o.Token) + "/events", "", "", false},
		{"/orders/events", "", "", true},
	} {
		var mm *apptest.Merchant
		if tc.merchant {
			mm = m
		}
		enc, ctype, body := getEncoded(t, a, mm, tc.path)
		if enc != tc.wantEncoding {
			t.Errorf("GET %s (%s): Content-Encoding %q, want %q", tc.path, ctype, enc, tc.wantEncoding)
		}
		if !strings.Contains(body, tc.wantIn) {
			t.Errorf("GET %s: body does not contain %q", tc.path, tc.wantIn)
		}
	}
}

// A phone hides the pay page's hand-off to another device, so it must not download its QR
// code either; a computer shows and downloads it.
func TestBrowserPhoneDoesNotFetchHiddenQR(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	a := start(t, apptest.Options{})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "3.10", "Espresso", a.PayerBanqs(t)[0].GUID)
	fetchedQR := `performance.getEntriesByType("resource").some(function (e) { return e.name.indexOf("/qr.svg") >= 0 })`
	for _, tc := range []struct {
		name          string
		width, height int64
		mobile        bool
		wantQR        bool
	}{
		{"phone", 390, 844, true, false},
		{"computer", 1280, 800, false, true},
	} {
		tb := b.newTab(tc.name, tc.width, tc.height, tc.mobile)
		tb.load(t, "open the payment page", 200, chromedp.Navigate(a.URL+"/pay/"+url.PathEscape(o.Token)))
		if !tb.waitJS(`document.readyState === "complete"`, 10*time.Second) {
			t.Fatalf("%s: the payment page did not finish loading", tc.name)
		}
		if tc.wantQR && !tb.waitJS(fetchedQR, 5*time.Second) {
			t.Errorf("%s: the QR code was not downloaded, want it shown", tc.name)
		}
		if !tc.wantQR && run(t, tb, "list what was downloaded", chromedp.Evaluate[bool](fetchedQR)) {
			t.Errorf("%s: the hidden QR code was downloaded", tc.name)
		}
	}
}
