package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/app/apptest/sse"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
	"github.com/banq-checkout/checkout/store/pgtest"
)

func fetch(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func orderPath(o checkout.Order) string { return "/orders/" + strconv.FormatInt(o.ID, 10) }

func openPayStream(t *testing.T, a *apptest.App, o checkout.Order) *sse.Stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := sse.Open(ctx, nil, a.URL+"/pay/"+o.Token+"/events", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// merchantTools is the app the tests of the features beyond the core share (starting one takes
// seconds under the race detector), with its signed-in merchant and its database's DSN.
type merchantTools struct {
	a   *apptest.App
	m   *apptest.Merchant
	dsn string
}

// runMerchantTools runs those tests on one app. The CSV export, which adds 10,000 orders, runs last.
func runMerchantTools(t *testing.T, dsn string) {
	a := apptest.Start(t, apptest.Options{DB: dsn})
	if dsn == "" {
		dsn = filepath.Join(a.Dir, "checkout.db")
	}
	x := merchantTools{a: a, m: a.SignIn(t), dsn: dsn}
	for _, tt := range []struct {
		name string
		run  func(*testing.T, merchantTools)
	}{
		{"QRHandOffAndReceipt", testQRHandOffAndReceipt},
		{"CancelThenLatePayment", testCancelThenLatePayment},
		{"ExpiryEndToEnd", testExpiryEndToEnd},
		{"WebhookLogAndReprocess", testWebhookLogAndReprocess},
		{"CSVExportOf10000Orders", testCSVExportOf10000Orders},
	} {
		if !t.Run(tt.name, func(t *testing.T) { tt.run(t, x) }) {
			return
		}
	}
}

func TestMerchantTools(t *testing.T) { runMerchantTools(t, "") }

func TestMerchantToolsPostgres(t *testing.T) { runMerchantTools(t, pgtest.DSN(t)) }

// The order page and the customer's page show the payment link as a QR code that a phone reads
// back to exactly that link; once paid, the customer page is a receipt instead.
func testQRHandOffAndReceipt(t *testing.T, x merchantTools) {
	a, m := x.a, x.m
	o := m.MustCreateOrder(t, "9.90", "Pot of tea", a.PayerBanqs(t)[0].GUID)

	page := m.Get(t, orderPath(o)).Body
	link, _ := apptest.Attr(page, "pay-link", "value")
	src, ok := apptest.Attr(page, "order-qr", "src")
	if !ok || link == "" {
		t.Fatalf("order page: QR %q, link %q; want both", src, link)
	}
	resp, svg := fetch(t, a.URL+src)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("GET %s: %s %s", src, resp.Status, resp.Header.Get("Content-Type"))
	}
	got, err := apptest.DecodeQRSVG(svg, 4)
	if err != nil || got != link {
		t.Fatalf("the QR code reads %q (%v), want the payment link %q", got, err, link)
	}

	// The customer's page offers the same code to continue on a phone (hidden on phones by CSS).
	_, body := fetch(t, a.URL+"/pay/"+o.Token)
	if paySrc, _ := apptest.Attr(string(body), "pay-qr", "src"); paySrc != src {
		t.Fatalf("customer page QR: got %q, want %q", paySrc, src)
	}
	_, css := fetch(t, a.URL+"/static/pay.css")
	if !regexp.MustCompile(`@media \(max-width: [^)]+\) \{ \.handoff \{ display: none; \} \}`).Match(css) {
		t.Fatal("pay.css does not hide the hand-off block on narrow screens")
	}
	if resp, _ := fetch(t, a.URL+"/pay/"+strings.Repeat("x", 32)+"/qr.svg"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("QR of an unknown link: got %d, want 404", resp.StatusCode)
	}

	a.Act(t, o.PaymentID, "approve", "")
	paid := a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	_, body = fetch(t, a.URL+"/pay/"+o.Token)
	doc := string(body)
	if apptest.Find(doc, "pay-qr") != nil {
		t.Fatal("the paid page still shows the hand-off QR")
	}
	for id, want := range map[string]string{
		"receipt-merchant":    "Demo Shop",
		"receipt-amount":      "$9.90",
		"receipt-description": "Pot of tea",
		"receipt-payment":     paid.PaymentID,
		"receipt-transaction": paid.TransactionID,
		"receipt-paid-at":     paid.PaidAt.In(time.Local).Format("2006-01-02 15:04:05 MST"), // the shop's zone: CHECKOUT_TIMEZONE unset
	} {
		if got := apptest.Text(doc, id); got != want {
			t.Errorf("receipt %s: got %q, want %q", id, got, want)
		}
	}
	if !bytes.Contains(css, []byte("@media print")) {
		t.Error("pay.css has no print stylesheet for the receipt")
	}
}

// A merchant cancels a waiting order: the customer's open page says so at once. The payer
// approves in the Banq app anyway (Banq's API cannot withdraw the request): the money is kept,
// and the merchant pages flag the order as paid late.
func testCancelThenLatePayment(t *testing.T, x merchantTools) {
	a, m := x.a, x.m
	o := m.MustCreateOrder(t, "25.00", "Concert ticket", a.PayerBanqs(t)[1].GUID)
	stream := openPayStream(t, a, o)
	watch(t, stream, checkout.StateWaiting, 2*time.Second)
	// Banq's Created webhook is applied first, so that only the cancel itself can change the page.
	waitWebhooks(t, a, o.ID, 1)

	r := m.PostForm(t, orderPath(o), orderPath(o)+"/cancel", url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("cancel: got %d, want 303: %s", r.Status, r.Body)
	}
	watch(t, stream, checkout.StateCanceled, 2*time.Second)
	_, body := fetch(t, a.URL+"/pay/"+o.Token)
	if detail := apptest.Text(string(body), "detail"); !strings.Contains(detail, "canceled") || !strings.Contains(detail, "don't approve") {
		t.Fatalf("customer page after cancel says %q", detail)
	}
	if r := m.PostForm(t, orderPath(o), orderPath(o)+"/cancel", url.Values{}); r.Status != http.StatusConflict {
		t.Fatalf("cancel twice: got %d, want 409", r.Status)
	}

	a.Act(t, o.PaymentID, "approve", "")
	watch(t, stream, checkout.StatePaid, 5*time.Second)
	late := a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	if !late.Late {
		t.Fatal("paid after cancel but not flagged late")
	}
	page := m.Get(t, orderPath(o)).Body
	if apptest.Find(page, "late") == nil {
		t.Fatal("the order page does not flag the late payment")
	}
	list := m.Get(t, "/orders").Body
	if n := apptest.Count(list, "late-badge"); n != 1 {
		t.Fatalf("the order list shows %d late badges, want 1", n)
	}
}

// An order's time to pay comes from the form; when it runs out the reconciler expires the order
// and its page says so; a payment made after that is kept and flagged late.
func testExpiryEndToEnd(t *testing.T, x merchantTools) {
	a, m := x.a, x.m
	payer := a.PayerBanqs(t)[2].GUID

	r := m.PostForm(t, "/orders/new", "/orders", url.Values{"amount": {"5.00"}, "description": {"Cake"},
		"customer": {payer}, "expires": {"0"}})
	if r.Status != http.StatusUnprocessableEntity || apptest.Find(r.Body, "expires-error") == nil {
		t.Fatalf("expires=0: got %d, want 422 with the field's error", r.Status)
	}
	before := time.Now()
	r = m.PostForm(t, "/orders/new", "/orders", url.Values{"amount": {"5.00"}, "description": {"Cake"},
		"customer": {payer}, "expires": {"5"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create with expires=5: got %d: %s", r.Status, r.Body)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(r.Location, "/orders/"), 10, 64)
	o, _ := a.DB.Order(context.Background(), id)
	if d := o.ExpiresAt.Sub(before); d < 5*time.Minute-time.Second || d > 5*time.Minute+5*time.Second {
		t.Fatalf("expires %v after creation, want 5m", d)
	}

	// One with a second to pay, made directly through the service.
	short, err := a.Service.CreateOrder(context.Background(), checkout.NewOrder{Amount: 500, Description: "Quick",
		CustomerBanq: payer, CustomerName: "Payer", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stream := openPayStream(t, a, short)
	watch(t, stream, checkout.StateExpired, 4*time.Second)
	a.Act(t, short.PaymentID, "approve", "")
	got := a.WaitOrder(t, short.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	if !got.Late {
		t.Fatal("paid after expiry but not flagged late")
	}
}

// The CSV export of the filtered list round-trips through encoding/csv, on 10,000 orders.
func testCSVExportOf10000Orders(t *testing.T, x merchantTools) {
	a, m := x.a, x.m
	ctx := context.Background()
	// A second handle on the app's database, with a clock of its own, to insert fast.
	db, err := store.Open(ctx, x.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return at }
	descriptions := []string{
		"Coffee", `Cake, "large"`, "Two lines\nof text", "Crème brûlée ☕", "=SUM(A1:A9)", "  padded  ", "semi;colon",
	}
	names := []string{"Ada", "Bob, Jr.", "-Eve", "@handle", "Zoë"}
	states := []checkout.State{checkout.StateWaiting, checkout.StatePaid, checkout.StateDeclined, checkout.StateExpired}
	want := map[string]checkout.Order{}
	start := time.Now()
	for i := 0; i < 10000; i++ {
		at = at.Add(5 * time.Minute) // ten thousand orders over about 35 days
		o, err := db.CreateOrder(ctx, checkout.Order{
			Token: fmt.Sprintf("csv-token-%06d-xxxxxxxxxx", i), IdempotencyKey: fmt.Sprintf("csv-key-%d", i),
			Amount: banq.Money(i*7 + 1), Description: descriptions[i%len(descriptions)], CustomerBanq: "banq-" + strconv.Itoa(i%13),
			CustomerName: names[i%len(names)], State: states[i%len(states)], ExpiresAt: at.Add(30 * time.Minute),
		}, checkout.Event{Kind: checkout.EventCreated, Message: "imported"})
		if err != nil {
			t.Fatal(err)
		}
		want[o.Number()] = o
	}
	t.Logf("inserted 10,000 orders in %v", time.Since(start).Round(time.Millisecond))

	export := func(query string) ([][]string, http.Header) {
		t.Helper()
		start := time.Now()
		resp, err := m.Client.Get(a.URL + "/orders.csv" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("export %s: %s %s", query, resp.Status, resp.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatalf("export %s does not parse as CSV: %v", query, err)
		}
		t.Logf("export %q: %d rows in %v", query, len(rows)-1, time.Since(start).Round(time.Millisecond))
		return rows, resp.Header
	}
	rows, hd := export("")
	if !strings.HasPrefix(hd.Get("Content-Disposition"), "attachment;") || hd.Get("Content-Length") != "" {
		t.Fatalf("export headers: disposition %q, length %q; want an attachment, streamed", hd.Get("Content-Disposition"), hd.Get("Content-Length"))
	}
	header := strings.Join(rows[0], ",")
	if header != "order,created_at,state,late,amount,description,customer_name,customer_banq,payment_id,transaction_id,paid_at,expires_at,fail_reason" {
		t.Fatalf("header: %s", header)
	}
	if len(rows)-1 < 10000 {
		t.Fatalf("got %d rows, want at least 10,000", len(rows)-1)
	}
	defuse := func(s string) string {
		if s != "" && strings.ContainsAny(s[:1], "=+-@") {
			return "'" + s
		}
		return s
	}
	checked := 0
	for _, r := range rows[1:] {
		o, ok := want[r[0]]
		if !ok {
			continue // an order of the app's own, none here
		}
		checked++
		wantRow := []string{o.Number(), o.CreatedAt.UTC().Format(time.RFC3339), string(o.State), "false", o.Amount.String(),
			defuse(o.Description), defuse(o.CustomerName), o.CustomerBanq, "", "", "", o.ExpiresAt.UTC().Format(time.RFC3339), ""}
		if strings.Join(r, "\x00") != strings.Join(wantRow, "\x00") {
			t.Fatalf("row %s:\n got %q\nwant %q", r[0], r, wantRow)
		}
	}
	if checked != 10000 {
		t.Fatalf("checked %d rows, want all 10,000", checked)
	}
	for i := 2; i < len(rows); i++ {
		prev, _ := strconv.Atoi(rows[i-1][0])
		if cur, _ := strconv.Atoi(rows[i][0]); cur >= prev {
			t.Fatalf("not newest first: order %d then %d", prev, cur)
		}
	}

	// The filtered list and its export agree with a filter computed here.
	q := url.Values{"state": {"paid"}, "from": {"2026-01-10"}, "to": {"2026-01-20"}, "q": {"cake"}}
	from, to := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)
	var wantIDs []string
	var sum banq.Money
	for _, o := range want {
		if o.State == checkout.StatePaid && !o.CreatedAt.Before(from) && o.CreatedAt.Before(to) &&
			(strings.Contains(strings.ToLower(o.Description), "cake") || strings.Contains(strings.ToLower(o.CustomerName), "cake")) {
			wantIDs = append(wantIDs, o.Number())
			sum += o.Amount
		}
	}
	rows, _ = export("?" + q.Encode())
	var gotIDs []string
	var gotSum banq.Money
	for _, r := range rows[1:] {
		gotIDs = append(gotIDs, r[0])
		amount, err := banq.ParseMoney(r[4])
		if err != nil {
			t.Fatalf("amount %q: %v", r[4], err)
		}
		gotSum += amount
	}
	sort.Strings(wantIDs)
	sort.Strings(gotIDs)
	if len(wantIDs) == 0 || strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") || gotSum != sum {
		t.Fatalf("filtered export: got %d orders summing %s, want %d summing %s", len(gotIDs), gotSum, len(wantIDs), sum)
	}
	list := m.Get(t, "/orders?"+q.Encode()).Body
	if n := apptest.Count(list, "order-row"); n != min(len(wantIDs), 50) {
		t.Fatalf("the filtered list shows %d rows, want %d", n, min(len(wantIDs), 50))
	}
	href, _ := apptest.Attr(list, "export-csv", "href")
	if u, _ := url.Parse(href); u == nil || u.Path != "/orders.csv" || u.Query().Encode() != q.Encode() {
		t.Fatalf("export link %q does not carry the list's filter %q", href, q.Encode())
	}
	if r := m.Get(t, "/orders.csv?from=yesterday"); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("export with a bad day: got %d, want 422", r.Status)
	}
}

// waitWebhooks waits until at least n webhooks were applied to the order, and none applied to it
// is waiting for a retry.
func waitWebhooks(t *testing.T, a *apptest.App, orderID int64, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _, err := a.DB.ListWebhooks(context.Background(), checkout.WebhookFilter{OrderID: orderID})
		if err != nil {
			t.Fatal(err)
		}
		applied := 0
		for _, w := range ws {
			if w.Status == checkout.WebhookApplied {
				applied++
			}
		}
		if applied >= n && applied == len(ws) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks of order %d: %d applied of %d, want at least %d, all applied", orderID, applied, len(ws), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The webhook log lists what Banq sent with its verdicts and outcomes, the order's timeline
// links to it, and reprocessing a webhook changes nothing that was already applied.
func testWebhookLogAndReprocess(t *testing.T, x merchantTools) {
	a, m := x.a, x.m
	ctx := context.Background()
	o := m.MustCreateOrder(t, "3.20", "Espresso", a.PayerBanqs(t)[0].GUID)
	a.Act(t, o.PaymentID, "approve", "")
	a.WaitOrder(t, o.ID, 5*time.Second, func(o checkout.Order) bool { return o.State == checkout.StatePaid })
	waitWebhooks(t, a, o.ID, 4)

	logPage := m.Get(t, "/webhook-log?order="+o.Number()).Body
	rows := apptest.Count(logPage, "webhook-row")
	if rows < 4 || apptest.Count(logPage, "webhook-signature") != rows {
		t.Fatalf("webhook log of the order: %d rows", rows)
	}
	if got := apptest.Text(logPage, "webhook-outcome"); got != "applied" {
		t.Fatalf("newest webhook's outcome: got %q, want applied", got)
	}

	// The timeline links each webhook entry to its page.
	page := m.Get(t, orderPath(o)).Body
	href, ok := apptest.Attr(page, "timeline-webhook", "href")
	if !ok {
		t.Fatal("no timeline entry links to its webhook")
	}
	whPage := m.Get(t, href)
	whID := apptest.Text(whPage.Body, "webhook-id")
	if whPage.Status != http.StatusOK || "/webhook-log/"+url.PathEscape(whID) != href {
		t.Fatalf("GET %s: %d, webhook %q", href, whPage.Status, whID)
	}

	// A forged delivery is refused, and the log shows its verdict.
	secret, _ := a.DB.Setting(ctx, "webhook_secret")
	forged := []byte(`{"accountSpaceId":1,"action":"Completed","id":"forged-1","resourceId":"` + o.PaymentID + `","resourceType":"Payment","createdAtUtc":"2026-01-01T00:00:00Z"}`)
	if status := postWebhook(t, a, forged, banq.Sign(forged, "not-the-secret")).Status; status != http.StatusUnauthorized {
		t.Fatalf("forged webhook: got %d, want 401", status)
	}
	logPage = m.Get(t, "/webhook-log").Body
	if got := apptest.Text(logPage, "rejected-verdict"); got != banq.ErrSignatureInvalid.Error() {
		t.Fatalf("refused delivery's verdict: got %q, want %q", got, banq.ErrSignatureInvalid)
	}
	if _, err := a.DB.Webhook(ctx, "forged-1"); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("the forged webhook reached the inbox: %v", err)
	}

	// Banq delivers one again: it is counted as a duplicate, nothing more.
	w, _ := a.DB.Webhook(ctx, whID)
	if status := postWebhook(t, a, w.Body, banq.Sign(w.Body, secret)).Status; status != http.StatusOK {
		t.Fatalf("duplicate delivery: got %d, want 200", status)
	}
	if got := apptest.Text(m.Get(t, href).Body, "webhook-duplicates"); !strings.HasPrefix(got, "duplicate ×1") {
		t.Fatalf("duplicates shown as %q", got)
	}

	// Reprocess, twice: the order stays as it was.
	before, _ := a.DB.Order(ctx, o.ID)
	eventsBefore, _ := a.DB.Events(ctx, o.ID, 0)
	for i := 0; i < 2; i++ {
		r := m.PostForm(t, href, href+"/reprocess", url.Values{})
		if r.Status != http.StatusSeeOther || r.Location != href+"?reprocessed=applied" {
			t.Fatalf("reprocess: got %d to %q, want 303 to %s?reprocessed=applied", r.Status, r.Location, href)
		}
	}
	after, _ := a.DB.Order(ctx, o.ID)
	eventsAfter, _ := a.DB.Events(ctx, o.ID, 0)
	if after.State != before.State || after.PaidAt != before.PaidAt || after.TransactionID != before.TransactionID || len(eventsAfter) != len(eventsBefore) {
		t.Fatalf("reprocessing changed the order: %s/%d events, was %s/%d", after.State, len(eventsAfter), before.State, len(eventsBefore))
	}
	if msg := apptest.Text(m.Get(t, href+"?reprocessed=applied").Body, "webhook-message"); !strings.HasPrefix(msg, "Reprocessed") {
		t.Fatalf("after reprocess the page says %q", msg)
	}
	if r := m.PostForm(t, href, "/webhook-log/no-such-id/reprocess", url.Values{}); r.Status != http.StatusNotFound {
		t.Fatalf("reprocess an unknown webhook: got %d, want 404", r.Status)
	}
}

// With webhooks lost, the merchant pages warn after a while, naming the URL to check; when
// webhooks arrive again the warning goes.
func TestWebhookGapBannerAppearsAndClears(t *testing.T) {
	a := apptest.Start(t, apptest.Options{
		Faults: &sandbox.Faults{DropWebhooks: 1},
		Config: func(c *app.Config) { c.WebhookGap, c.MetricsAddr = 300*time.Millisecond, "127.0.0.1:0" },
	})
	broken := func() float64 { return scrape(t, a.MetricsURL(), "")[series("checkout_webhooks_broken")] }
	m := a.SignIn(t)
	if b := apptest.Find(m.Get(t, "/orders").Body, "gap-banner"); b != nil || broken() != 0 {
		t.Fatalf("before any order: banner %v, checkout_webhooks_broken %v; want neither", b != nil, broken())
	}
	payers := a.PayerBanqs(t)
	m.MustCreateOrder(t, "1.00", "Lost webhooks", payers[0].GUID)
	var banner string
	deadline := time.Now().Add(5 * time.Second)
	for banner == "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		banner = apptest.Text(m.Get(t, "/orders").Body, "gap-banner")
	}
	if !strings.Contains(banner, "webhooks look broken") || !strings.Contains(banner, "/webhooks/banq") {
		t.Fatalf("banner: %q; want it to say webhooks look broken and name the URL", banner)
	}
	if v := broken(); v != 1 {
		t.Fatalf("checkout_webhooks_broken = %v while the banner shows, want 1", v)
	}

	a.Sandbox.SetFaults(sandbox.Faults{})
	m.MustCreateOrder(t, "1.00", "Webhooks back", payers[1].GUID)
	deadline = time.Now().Add(5 * time.Second)
	for apptest.Find(m.Get(t, "/orders").Body, "gap-banner") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the banner stayed after webhooks arrived again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := broken(); v != 0 {
		t.Fatalf("checkout_webhooks_broken = %v after the banner went, want 0", v)
	}
}

func writePNG(t *testing.T, path string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < 8; i++ {
		img.Set(i, i, color.RGBA{0x1a, 0x7f, 0x5a, 0xff})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The merchant's name, logo and accent colour appear on the customer pages.
func TestBranding(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.png")
	data := writePNG(t, logo)
	a := apptest.Start(t, apptest.Options{Config: func(c *app.Config) {
		c.MerchantName, c.MerchantLogo, c.AccentColor = "Corner Café", logo, "#1a7f5a"
	}})
	m := a.SignIn(t)
	o := m.MustCreateOrder(t, "4.00", "Croissant", a.PayerBanqs(t)[0].GUID)
	_, body := fetch(t, a.URL+"/pay/"+o.Token)
	doc := string(body)
	if got := apptest.Text(doc, "merchant"); got != "Corner Café" {
		t.Fatalf("merchant: got %q", got)
	}
	src, _ := apptest.Attr(doc, "merchant-logo", "src")
	resp, got := fetch(t, a.URL+src)
	if src != "/brand/logo" || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, data) {
		t.Fatalf("logo %q: %s %q, %d bytes; want the configured PNG", src, resp.Status, resp.Header.Get("Content-Type"), len(got))
	}
	href, _ := apptest.Attr(doc, "brand-css", "href")
	resp, css := fetch(t, a.URL+href)
	if resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !bytes.Contains(css, []byte("--accent: #1a7f5a;")) {
		t.Fatalf("brand.css: %s %q", resp.Header.Get("Content-Type"), css)
	}
}

func TestBrandingConfiguration(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "logo.png")
	os.WriteFile(notImage, []byte("hello, not a picture"), 0o600)
	tests := []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"CHECKOUT_ACCENT_COLOR": "#1A7F5A"}, ""},
		{map[string]string{"CHECKOUT_ACCENT_COLOR": "#1a7f5"}, "CHECKOUT_ACCENT_COLOR"},
		{map[string]string{"CHECKOUT_ACCENT_COLOR": "red"}, "CHECKOUT_ACCENT_COLOR"},
		{map[string]string{"CHECKOUT_ACCENT_COLOR": "#1a7f5a; } body { display: none"}, "CHECKOUT_ACCENT_COLOR"},
		{map[string]string{"CHECKOUT_MERCHANT_LOGO": "https://elsewhere.example/logo.png", "CHECKOUT_PUBLIC_URL": "https://pay.example.com"}, "CHECKOUT_MERCHANT_LOGO"},
		{map[string]string{"CHECKOUT_MERCHANT_LOGO": "https://pay.example.com/static/logo.png", "CHECKOUT_PUBLIC_URL": "https://pay.example.com"}, ""},
		{map[string]string{"CHECKOUT_ORDER_TTL": "45m"}, ""},
		{map[string]string{"CHECKOUT_ORDER_TTL": "10s"}, "CHECKOUT_ORDER_TTL"},
		{map[string]string{"CHECKOUT_ORDER_TTL": "400h"}, "CHECKOUT_ORDER_TTL"},
	}
	for _, tt := range tests {
		_, err := app.ParseConfig(nil, func(k string) string { return tt.env[k] }, io.Discard)
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: got %v, want an error naming %q", tt.env, err, tt.wantErr)
		}
	}
	cfg, _ := app.ParseConfig(nil, func(k string) string {
		return map[string]string{"CHECKOUT_MERCHANT_LOGO": notImage, "CHECKOUT_DB": filepath.Join(dir, "c.db"),
			"CHECKOUT_ADDR": "127.0.0.1:0", "SANDBOX_ADDR": "127.0.0.1:0"}[k]
	}, io.Discard)
	if _, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil || !strings.Contains(err.Error(), "CHECKOUT_MERCHANT_LOGO") {
		t.Fatalf("a logo that is no picture: got %v, want an error naming CHECKOUT_MERCHANT_LOGO", err)
	}
}
