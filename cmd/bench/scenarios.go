package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the bench reads the app's database, read-only

	"github.com/banq-checkout/checkout/banq"
)

// results is everything measured in one run; results.json holds it.
type results struct {
	Machine   machine               `json:"machine"`
	Settings  map[string]any        `json:"settings"`
	Figures   []figure              `json:"figures"`
	Healthz   loadResult            `json:"healthz"`
	Orders    *loadResult           `json:"orders,omitempty"`
	APIOrders *loadResult           `json:"api_orders,omitempty"`
	Notify    *notifyResult         `json:"notifications,omitempty"`
	Ingest    *ingestResult         `json:"ingest,omitempty"`
	AppFanout *fanoutResult         `json:"app_fanout,omitempty"`
	Bare      *fanoutResult         `json:"bare_fanout,omitempty"`
	List      *listResult           `json:"list,omitempty"`
	OpenLoop  map[string]openResult `json:"open_loop,omitempty"`
	Phone     *phoneResult          `json:"phone,omitempty"`
	Postgres  *pgResult             `json:"postgres,omitempty"`
	Profiles  []string              `json:"profiles,omitempty"`
	Notes     []string              `json:"notes,omitempty"`
	Errors    []string              `json:"errors,omitempty"`
	Extra     map[string]any        `json:"extra,omitempty"`
}

type ingestResult struct {
	Accepted       loadResult     `json:"accepted"`
	Processed      int            `json:"processed"`
	ByStatus       map[string]int `json:"by_status"`
	ProcessSeconds float64        `json:"process_seconds"`
	ProcessedPerS  float64        `json:"processed_per_second"`
	Drained        bool           `json:"drained"`
}

type fanoutResult struct {
	Server          string            `json:"server"`
	Streams         int               `json:"streams"`
	Topics          int               `json:"topics"`
	OpenSeconds     float64           `json:"open_seconds"`
	RSSIdleBytes    int64             `json:"rss_idle_bytes"`
	RSSStreamsBytes int64             `json:"rss_streams_bytes"`
	PerStreamBytes  float64           `json:"per_stream_bytes"`
	MemIdle         map[string]uint64 `json:"go_mem_idle,omitempty"`
	MemStreams      map[string]uint64 `json:"go_mem_streams,omitempty"`
	MemAfterGC      map[string]uint64 `json:"go_mem_streams_after_gc,omitempty"`
	Sent            int               `json:"sent"`
	SendFailed      int               `json:"send_failed"`
	RatePerSec      float64           `json:"rate_per_second"`
	Answer          latencies         `json:"answer_latency"`
	Latency         latencies         `json:"latency"` // send → arrival on every stream of the topic
	Lost            int               `json:"lost"`    // streams that never got their event
	Wrong           int               `json:"wrong"`   // events that did not say what was expected
	Ended           int               `json:"ended"`   // streams the server closed
	EventBytes      int               `json:"event_bytes"`
	// Broadcast (bare only, for scale): one event to every stream at once, the time until the
	// last stream has it, per round.
	Broadcast *latencies `json:"broadcast_to_all,omitempty"`
}

// run is the whole benchmark: children started and stopped in turn, each scenario bounded.
func run(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if _, err := raiseNoFile(); err != nil {
		return fmt.Errorf("raise the open-file limit: %w", err)
	}
	res := &results{Machine: machineFacts(), Extra: map[string]any{}, OpenLoop: map[string]openResult{}}
	serverCPUs := ""
	if o.pin {
		cpus, err := parseCPUs(o.loadCPUs)
		if err != nil {
			return err
		}
		if _, err := pinSelf(cpus); err != nil {
			return err
		}
		serverCPUs = o.serverCPUs
	}
	res.Settings = map[string]any{
		"pinned": o.pin, "server_cpus": serverCPUs, "load_cpus": map[bool]string{true: o.loadCPUs, false: ""}[o.pin],
		"healthz_seconds": o.healthzDur.Seconds(), "healthz_conc": o.ingestConc,
		"orders_seconds": o.ordersDur.Seconds(), "orders_conc": o.ordersConc,
		"ingest_webhooks": o.ingestN, "ingest_conc": o.ingestConc,
		"streams": o.streams, "stream_orders": o.streamOrders, "fanout_rate": o.fanoutRate,
		"settle_seconds": o.settle.Seconds(), "list_orders": o.listOrders,
		"open_loop_seconds": o.openDur.Seconds(), "open_loop_shares": openShares,
		"app": "sandbox mode; SANDBOX_STEP_DELAY=1h, CHECKOUT_RECONCILE_AFTER=1h, sandbox webhook delivery off, " +
			"per-address webhook rate limit and stream caps lifted, metrics on, logs JSON at info to a file",
	}
	dir, err := os.MkdirTemp("", "checkout-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: data and server logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.profileDir != "" {
		if o.profileDir, err = filepath.Abs(o.profileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	b := &bench{o: o, res: res, dir: dir, serverCPUs: serverCPUs, loadCPUs: map[bool]string{true: o.loadCPUs, false: ""}[o.pin], runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	clock := readCPUClock()
	err = b.all(ctx)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	stopAllChildren() // their CPU time counts once they are waited for
	end := readCPUClock()
	res.Machine.OtherCPU = otherCPUPercent(clock, end)
	res.Machine.Seconds = round3(end.at.Sub(clock.at).Seconds())
	res.Figures = figures(res)
	printTable(os.Stdout, res)
	if o.markdown {
		printMarkdown(os.Stdout, res)
	}
	if err != nil {
		// An interrupted or failed run does not replace the last complete results.
		fmt.Fprintln(os.Stderr, "bench: the run did not complete;", o.out, "left as it was")
		return err
	}
	if err := writeResults(o.out, res); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: wrote", o.out)
	return nil
}

type bench struct {
	o          options
	res        *results
	dir        string
	serverCPUs string
	loadCPUs   string // also the sandbox child's: Banq's work is not the app's
	runID      string
	secret     string
	sandbox    *child
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (b *bench) startApp(ctx context.Context, n int) (*child, error) {
	return b.startAppIn(ctx, n, b.dir)
}

// startAppIn starts an app whose database is in dir.
func (b *bench) startAppIn(ctx context.Context, n int, dir string) (*child, error) {
	b.step("starting the app (run %d)", n)
	c, err := startChild(ctx, "app", filepath.Join(b.dir, fmt.Sprintf("app-%d.log", n)), "child-app", "-dir", dir, "-cpus", b.serverCPUs,
		"-banq", b.sandbox.info.URL, "-payers", strings.Join(b.sandbox.info.Payers, ","))
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, c.info.URL); err != nil {
		c.stop(10 * time.Second)
		return nil, err
	}
	return c, nil
}

func (b *bench) all(ctx context.Context) error {
	b.step("starting the Banq sandbox")
	sb, err := startChild(ctx, "sandbox", filepath.Join(b.dir, "sandbox.log"), "child-sandbox", "-dir", b.dir, "-cpus", b.loadCPUs)
	if err != nil {
		return err
	}
	defer sb.stop(15 * time.Second)
	if len(sb.info.Payers) == 0 {
		return errors.New("the sandbox has no payers")
	}
	b.sandbox = sb
	if b.o.listOnly {
		return b.list(ctx)
	}
	if b.o.pgOnly {
		return b.postgres(ctx)
	}
	a, err := b.startApp(ctx, 1)
	if err != nil {
		return err
	}
	defer a.stop(15 * time.Second)
	db, err := sql.Open("sqlite3", "file:"+a.info.DB+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'webhook_secret'`).Scan(&b.secret); err != nil {
		return fmt.Errorf("read the webhook secret: %w", err)
	}

	// 1. Baseline: GET /healthz on the same server.
	b.healthz(ctx, a)

	// 5. Order creation through the signed-in form.
	if err := b.orders(ctx, a, db); err != nil {
		return fmt.Errorf("order creation: %w", err)
	}

	// 6. The shop's notifications, on the same app.
	if err := b.notifications(ctx, a); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}

	// Setup for 2-4: enough real orders, their payments accepted in the sandbox.
	need := b.o.streamOrders + b.o.ingestN
	var have int
	db.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE state = 'waiting'`).Scan(&have)
	if have < need {
		b.step("seeding %d more orders through the checkout service", need-have)
		var out struct {
			Created int     `json:"created"`
			Failed  int     `json:"failed"`
			Seconds float64 `json:"seconds"`
		}
		if err := postJSON(ctx, a.info.DebugURL+"/bench/seed?conc=8&n="+strconv.Itoa(need-have), &out); err != nil {
			return fmt.Errorf("seed orders: %w", err)
		}
		b.res.Extra["seeded_orders"] = out
	}
	b.step("approving every pending payment in the sandbox")
	var approved map[string]int
	if err := postJSON(ctx, sb.info.DebugURL+"/bench/approve", &approved); err != nil {
		return fmt.Errorf("approve payments: %w", err)
	}
	b.res.Extra["sandbox_approved"] = approved
	rows, err := db.QueryContext(ctx, `SELECT id, pay_token, payment_id FROM orders
		WHERE state = 'waiting' AND payment_id IS NOT NULL ORDER BY id LIMIT ?`, need)
	if err != nil {
		return err
	}
	var all []benchOrder
	for rows.Next() {
		var bo benchOrder
		if err := rows.Scan(&bo.id, &bo.token, &bo.payment); err != nil {
			rows.Close()
			return err
		}
		all = append(all, bo)
	}
	rows.Close()
	if len(all) < need {
		return fmt.Errorf("got %d waiting orders with a payment, want %d", len(all), need)
	}
	fanOrders, ingestOrders := all[:b.o.streamOrders], all[b.o.streamOrders:]

	// 2. Webhook ingest.
	if err := b.ingest(ctx, a, db, ingestOrders); err != nil {
		return fmt.Errorf("webhook ingest: %w", err)
	}
	if err := a.stop(15 * time.Second); err != nil {
		return err
	}

	// 3 and 4 on the app: a fresh process on the same data, so its idle RSS is a clean baseline.
	a2, err := b.startApp(ctx, 2)
	if err != nil {
		return err
	}
	defer a2.stop(15 * time.Second)
	paths := make([]string, len(fanOrders))
	for i, o := range fanOrders {
		paths[i] = "/pay/" + url.PathEscape(o.token) + "/events"
	}
	// The customer's first second, on this fresh app: a waiting order's payment page.
	if b.o.phone {
		b.step("payment page on an emulated phone (slow 4G, CPU 4× slower), %d cold loads each way", phoneLoads)
		pr, err := b.phone(ctx, a2.info.URL+paths[0][:len(paths[0])-len("/events")])
		if err != nil {
			b.res.Notes = append(b.res.Notes, "phone: "+err.Error())
		} else {
			b.res.Phone = pr
		}
	}
	webhookClient := newClient(64)
	fr, err := b.fanout(ctx, "app", a2, paths, `data-state="accepted"`, func(ctx context.Context, i int) (int, error) {
		body, sig := b.webhook("fanout", i, fanOrders[i].payment)
		return post(ctx, webhookClient, a2.info.URL+"/webhooks/banq", body, sig)
	}, nil)
	b.res.AppFanout = fr
	if err != nil {
		return fmt.Errorf("app fan-out: %w", err)
	}
	if err := a2.stop(15 * time.Second); err != nil {
		return err
	}

	// 3 and 4 on the bare broadcaster, with events of the app's size.
	b.step("starting the bare broadcaster")
	bare, err := startChild(ctx, "bare", filepath.Join(b.dir, "bare.log"), "child-bare", "-cpus", b.serverCPUs)
	if err != nil {
		return err
	}
	defer bare.stop(15 * time.Second)
	if err := waitHealthy(ctx, bare.info.URL); err != nil {
		return err
	}
	size := max(fr.EventBytes, 1)
	bareClient := newClient(64)
	bpaths := make([]string, b.o.streamOrders)
	for i := range bpaths {
		bpaths[i] = "/events/" + strconv.Itoa(i)
	}
	br, err := b.fanout(ctx, "bare", bare, bpaths, "xxxx", func(ctx context.Context, i int) (int, error) {
		return post(ctx, bareClient, bare.info.URL+"/publish/"+strconv.Itoa(i)+"?size="+strconv.Itoa(size), []byte("{}"), "")
	}, func(ctx context.Context, set *streamSet, fr *fanoutResult) {
		bc := b.broadcast(ctx, set, func(ctx context.Context) error {
			_, err := post(ctx, bareClient, bare.info.URL+"/broadcast?size="+strconv.Itoa(size), []byte("{}"), "")
			return err
		})
		fr.Broadcast = &bc
	})
	b.res.Bare = br
	if err != nil {
		return fmt.Errorf("bare fan-out: %w", err)
	}
	if err := bare.stop(15 * time.Second); err != nil {
		return err
	}

	// The same on PostgreSQL, one instance and two.
	if err := b.postgres(ctx); err != nil {
		return err
	}

	// 5. The merchant list and export of a shop after a few years.
	if b.o.listOrders > 0 {
		if err := b.list(ctx); err != nil {
			return fmt.Errorf("merchant list: %w", err)
		}
	}
	return nil
}

// healthz measures the baseline, GET /healthz on a, into b.res.Healthz.
func (b *bench) healthz(ctx context.Context, a *child) {
	b.step("healthz baseline, %v", b.o.healthzDur)
	hc := newClient(b.o.ingestConc)
	b.res.Healthz = closedLoop(ctx, b.o.ingestConc, 1<<30, b.o.healthzDur, func(ctx context.Context, _, _ int) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.info.URL+"/healthz", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		drain(resp)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, fmt.Errorf("healthz: got %d, want 200", resp.StatusCode)
		}
		return resp.StatusCode, nil
	})
	hc.CloseIdleConnections()
}

// broadcast sends rounds of one event to every stream, half a second apart, and returns per round
// the time until the last stream had it.
func (b *bench) broadcast(ctx context.Context, set *streamSet, send func(ctx context.Context) error) latencies {
	b.step("bare: broadcasting to all %d streams, %d rounds", len(set.streams), maxRounds)
	var rounds []time.Duration
	for r := range maxRounds {
		if ctx.Err() != nil {
			break
		}
		t := time.Now()
		if err := send(ctx); err != nil {
			break
		}
		deadline := t.Add(10 * time.Second)
		var last int64
		for time.Now().Before(deadline) {
			last = 0
			missing := false
			for _, s := range set.streams {
				at := s.later[r].Load()
				if at == 0 {
					missing = true
					break
				}
				last = max(last, at)
			}
			if !missing {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if last == 0 {
			break
		}
		rounds = append(rounds, time.Duration(last-t.UnixNano()))
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return summarize(rounds)
}

type benchOrder struct {
	id      int64
	token   string
	payment string
}

// webhook returns a signed Payment/Accepted webhook about payment, with an id of its own.
func (b *bench) webhook(kind string, i int, payment string) ([]byte, string) {
	body, _ := json.Marshal(banq.Webhook{
		AccountSpaceID: 1, Action: banq.ActionAccepted, ID: fmt.Sprintf("bench-%s-%s-%d", kind, b.runID, i),
		ResourceID: payment, ResourceType: banq.ResourcePayment, CreatedAtUTC: time.Now().UTC(),
	})
	return body, banq.Sign(body, b.secret)
}

func post(ctx context.Context, c *http.Client, u string, body []byte, sig string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(banq.HeaderWebhookHMAC, sig)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("POST %s: got %d, want 200", u, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// orders signs in ordersConc merchants and has each post the new-order form as fast as it is
// answered: CSRF token, session cookie, the customer lookup and the create call to the sandbox.
func (b *bench) orders(ctx context.Context, a *child, db *sql.DB) error {
	b.step("signing in %d merchants", b.o.ordersConc)
	type merchant struct {
		c    *http.Client
		csrf string
	}
	ms := make([]merchant, b.o.ordersConc)
	for i := range ms {
		c := newClient(1)
		c.Jar, _ = cookiejar.New(nil)
		tok, err := csrfToken(ctx, c, a.info.URL+"/login")
		if err != nil {
			return err
		}
		status, loc, err := postForm(ctx, c, a.info.URL+"/login", url.Values{"_csrf": {tok}, "email": {a.info.Login}, "password": {a.info.Password}})
		if err != nil || status != http.StatusSeeOther || loc != "/orders" {
			return fmt.Errorf("sign in: got %d to %q (%v), want 303 to /orders", status, loc, err)
		}
		if tok, err = csrfToken(ctx, c, a.info.URL+"/orders/new"); err != nil {
			return err
		}
		ms[i] = merchant{c: c, csrf: tok}
	}
	b.profile(ctx, a, "orders")
	defer b.stopProfile(ctx, a)
	b.step("order creation, %v with %d merchants", b.o.ordersDur, b.o.ordersConc)
	payers := b.sandbox.info.Payers[:min(len(b.sandbox.info.Payers), 10)] // the form's first page of customers
	r := closedLoop(ctx, b.o.ordersConc, 1<<30, b.o.ordersDur, func(ctx context.Context, w, i int) (int, error) {
		m := ms[w]
		status, loc, err := postForm(ctx, m.c, a.info.URL+"/orders", url.Values{
			"_csrf": {m.csrf}, "amount": {fmt.Sprintf("%d.%02d", 5+i%90, i%100)},
			"description": {"Bench order " + strconv.Itoa(i)}, "customer": {payers[i%len(payers)]},
		})
		if err != nil {
			return status, err
		}
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/orders/") {
			return status, fmt.Errorf("create order: got %d to %q, want 303 to the order", status, loc)
		}
		return status, nil
	})
	b.res.Orders = &r
	// The same form posts at constant rates below the closed-loop maximum (open loop): each
	// merchant's session on a client of its own that may open as many connections as needed.
	for i := range ms {
		c := newClient(256)
		c.Jar = ms[i].c.Jar
		ms[i].c = c
	}
	for _, share := range openShares {
		rate := share * r.PerSec
		b.step("order creation, open loop at %.0f/s (%.0f%% of the closed-loop maximum) for %v", rate, share*100, b.o.openDur)
		or := openLoop(ctx, rate, b.o.openDur, func(ctx context.Context, i int) (int, error) {
			m := ms[i%len(ms)]
			status, loc, err := postForm(ctx, m.c, a.info.URL+"/orders", url.Values{
				"_csrf": {m.csrf}, "amount": {fmt.Sprintf("%d.%02d", 5+i%90, i%100)},
				"description": {"Open-loop order " + strconv.Itoa(i)}, "customer": {payers[i%len(payers)]},
			})
			if err != nil {
				return status, err
			}
			if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/orders/") {
				return status, fmt.Errorf("create order: got %d to %q, want 303 to the order", status, loc)
			}
			return status, nil
		})
		b.res.OpenLoop[fmt.Sprintf("orders %.0f%%", share*100)] = or
	}
	b.stopProfile(ctx, a)

	// The same orders created by a shop's software over the API, beside the form.
	key, err := apiKey(ctx, ms[0].c, a.info.URL, ms[0].csrf)
	if err != nil {
		return err
	}
	b.profile(ctx, a, "api-orders")
	b.step("order creation over the API, %v with %d clients", b.o.ordersDur, b.o.ordersConc)
	ac := newClient(b.o.ordersConc)
	ar := closedLoop(ctx, b.o.ordersConc, 1<<30, b.o.ordersDur, func(ctx context.Context, w, i int) (int, error) {
		body := fmt.Sprintf(`{"amount": "%d.%02d", "description": "Bench API order %d", "payer_banq": %q}`,
			5+i%90, i%100, i, payers[i%len(payers)])
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.info.URL+"/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := ac.Do(req)
		if err != nil {
			return 0, err
		}
		drain(resp)
		if resp.StatusCode != http.StatusCreated {
			return resp.StatusCode, fmt.Errorf("create order over the API: got %d, want 201", resp.StatusCode)
		}
		return resp.StatusCode, nil
	})
	ac.CloseIdleConnections()
	b.res.APIOrders = &ar
	return nil
}

var newKey = regexp.MustCompile(`data-testid="new-key">([^<]+)<`)

// apiKey makes an API key on the keys page with a signed-in merchant's client.
func apiKey(ctx context.Context, c *http.Client, base, csrf string) (string, error) {
	form := url.Values{"_csrf": {csrf}, "name": {"bench"}, "scopes": {"orders:read", "orders:write"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/account/api-keys", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := newKey.FindSubmatch(body)
	if resp.StatusCode != http.StatusCreated || m == nil {
		return "", fmt.Errorf("create an API key: got %d and no key", resp.StatusCode)
	}
	return string(m[1]), nil
}

// openShares are the constant rates of the open-loop runs, as shares of the closed-loop maximum.
var openShares = []float64{0.5, 0.8}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func csrfToken(ctx context.Context, c *http.Client, u string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no CSRF token on %s (status %d)", u, resp.StatusCode)
	}
	return string(m[1]), nil
}

func postForm(ctx context.Context, c *http.Client, u string, form url.Values) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	drain(resp)
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// ingest sends one signed webhook per payment as fast as the server answers, then waits for the
// worker to drain the inbox.
func (b *bench) ingest(ctx context.Context, a *child, db *sql.DB, orders []benchOrder) error {
	n := min(b.o.ingestN, len(orders))
	bodies, sigs := make([][]byte, n), make([]string, n)
	for i := range n {
		bodies[i], sigs[i] = b.webhook("ingest", i, orders[i].payment)
	}
	c := newClient(b.o.ingestConc)
	b.profile(ctx, a, "ingest")
	defer b.stopProfile(ctx, a)
	b.step("webhook ingest: %d webhooks, %d in flight", n, b.o.ingestConc)
	start := time.Now()
	r := closedLoop(ctx, b.o.ingestConc, n, b.o.ingestDur, func(ctx context.Context, _, i int) (int, error) {
		return post(ctx, c, a.info.URL+"/webhooks/banq", bodies[i], sigs[i])
	})
	c.CloseIdleConnections()
	ir := &ingestResult{Accepted: r, ByStatus: map[string]int{}}
	b.res.Ingest = ir
	b.step("accepted %d in %.1fs; waiting for the worker to drain the inbox", r.OK, r.Seconds)
	ir.Drained = waitDrained(ctx, db, 60*time.Second) == nil
	pattern := "bench-ingest-" + b.runID + "-%"
	rows, err := db.QueryContext(ctx, `SELECT status, count(*) FROM webhooks WHERE id LIKE ? GROUP BY status`, pattern)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var k int
		rows.Scan(&s, &k)
		ir.ByStatus[s] = k
	}
	rows.Close()
	var last sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT max(processed_at) FROM webhooks WHERE id LIKE ? AND status = 'applied'`, pattern).Scan(&last); err != nil {
		return err
	}
	ir.Processed = ir.ByStatus["applied"]
	if t, err := time.Parse("2006-01-02T15:04:05.000000000Z", last.String); err == nil && ir.Processed > 0 {
		ir.ProcessSeconds = round3(t.Sub(start).Seconds())
		ir.ProcessedPerS = float64(int(float64(ir.Processed) / t.Sub(start).Seconds()))
	}
	if !ir.Drained {
		return fmt.Errorf("the inbox was not drained within 60s: %v", ir.ByStatus)
	}
	// Open loop: webhooks at constant rates below the closed-loop maximum, about the same
	// payments again under new ids (as Banq's retries of a lost answer come), each run from an
	// empty inbox. The answer is what is timed: the webhook stored.
	oc := newClient(512)
	for _, share := range openShares {
		rate := share * r.PerSec
		kind := fmt.Sprintf("open%.0f", share*100)
		b.step("webhook ingest, open loop at %.0f/s (%.0f%% of the closed-loop maximum) for %v", rate, share*100, b.o.openDur)
		or := openLoop(ctx, rate, b.o.openDur, func(ctx context.Context, i int) (int, error) {
			body, sig := b.webhook(kind, i, orders[i%n].payment)
			return post(ctx, oc, a.info.URL+"/webhooks/banq", body, sig)
		})
		b.res.OpenLoop[fmt.Sprintf("webhooks %.0f%%", share*100)] = or
		if err := waitDrained(ctx, db, 120*time.Second); err != nil {
			return err
		}
	}
	oc.CloseIdleConnections()
	return nil
}

// waitDrained polls the inbox until no webhook is pending, for at most d.
func waitDrained(ctx context.Context, db *sql.DB, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var pending int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE status = 'pending'`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the inbox was not drained within %v", d)
}

// fanout opens the streams on srv (topics paths, streams/len(paths) each), reads its RSS idle and
// with the streams open, then triggers one event per topic at a steady rate and times its arrival
// on every stream of the topic.
func (b *bench) fanout(ctx context.Context, name string, srv *child, paths []string, want string,
	trigger func(ctx context.Context, i int) (int, error), after func(context.Context, *streamSet, *fanoutResult)) (*fanoutResult, error) {
	perTopic := b.o.streams / len(paths)
	fr := &fanoutResult{Server: name, Streams: b.o.streams, Topics: len(paths), RatePerSec: b.o.fanoutRate}
	time.Sleep(time.Second)
	var err error
	if fr.RSSIdleBytes, err = rssBytes(srv.info.PID); err != nil {
		return fr, err
	}
	fr.MemIdle = getMem(ctx, srv)
	b.step("%s: opening %d streams over %d topics", name, b.o.streams, len(paths))
	t0 := time.Now()
	set, err := openStreams(ctx, srv.info.URL, paths, perTopic, 64, want, time.Now().Add(60*time.Second))
	if err != nil {
		return fr, err
	}
	defer set.close()
	fr.OpenSeconds = round3(time.Since(t0).Seconds())
	b.step("%s: %d streams open in %.1fs; idle %v before reading RSS", name, len(set.streams), fr.OpenSeconds, b.o.settle)
	sleepCtx(ctx, b.o.settle)
	if fr.RSSStreamsBytes, err = rssBytes(srv.info.PID); err != nil {
		return fr, err
	}
	fr.MemStreams = getMem(ctx, srv)
	fr.PerStreamBytes = float64(fr.RSSStreamsBytes-fr.RSSIdleBytes) / float64(len(set.streams))
	b.heapProfile(ctx, srv, name)
	if b.o.memGC {
		base := srv.info.DebugURL
		if base == "" {
			base = srv.info.URL
		}
		postJSON(ctx, base+"/bench/gc", &fr.MemAfterGC)
	}

	if name == "app" {
		b.profile(ctx, srv, "fanout")
		defer b.stopProfile(ctx, srv)
	}
	b.step("%s: one event per topic at %.0f/s", name, b.o.fanoutRate)
	n := len(paths)
	sent := make([]int64, n)
	answers := make([]time.Duration, n)
	failed := sendAtRate(ctx, n, b.o.fanoutRate, func(i int) error {
		t := time.Now()
		sent[i] = t.UnixNano()
		if _, err := trigger(ctx, i); err != nil {
			return err
		}
		answers[i] = time.Since(t)
		return nil
	})
	fr.Sent, fr.SendFailed = n, failed
	waitArrivals(ctx, 10*time.Second, set)
	worst := make([]time.Duration, n)
	complete := make([]bool, n)
	for i := range complete {
		complete[i] = true
	}
	for _, s := range set.streams {
		at := s.arrival.Load()
		switch {
		case at == 0:
			fr.Lost++
			complete[s.group] = false
			if s.ended.Load() {
				fr.Ended++
			}
			continue
		case !s.match.Load():
			fr.Wrong++
		}
		if d := time.Duration(at - sent[s.group]); d > worst[s.group] {
			worst[s.group] = d
		}
		fr.EventBytes = max(fr.EventBytes, int(s.size.Load()))
	}
	var lat, ans []time.Duration
	for i := range n {
		if complete[i] && sent[i] != 0 {
			lat = append(lat, worst[i])
		}
		if answers[i] > 0 {
			ans = append(ans, answers[i])
		}
	}
	fr.Latency, fr.Answer = summarize(lat), summarize(ans)
	b.step("%s: fan-out p50 %.1fms p99 %.1fms, lost %d", name, fr.Latency.P50, fr.Latency.P99, fr.Lost)
	if after != nil {
		after(ctx, set, fr)
	}
	return fr, nil
}

func (b *bench) profile(ctx context.Context, c *child, scenario string) {
	if b.o.profileDir == "" || c.info.DebugURL == "" {
		return
	}
	path := filepath.Join(b.o.profileDir, scenario+".pprof")
	if err := postJSON(ctx, c.info.DebugURL+"/bench/profile/start?path="+url.QueryEscape(path), nil); err != nil {
		b.res.Errors = append(b.res.Errors, "profile "+scenario+": "+err.Error())
		return
	}
	b.res.Profiles = append(b.res.Profiles, path)
}

// heapProfile saves the live heap of a server with its streams open (after RSS was read: the
// profile runs a GC first).
func (b *bench) heapProfile(ctx context.Context, c *child, name string) {
	if b.o.profileDir == "" {
		return
	}
	base := c.info.DebugURL
	if base == "" {
		base = c.info.URL
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.res.Errors = append(b.res.Errors, "heap profile "+name+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	path := filepath.Join(b.o.profileDir, "streams-heap-"+name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err == nil && resp.StatusCode == http.StatusOK {
		b.res.Profiles = append(b.res.Profiles, path)
	}
}

func (b *bench) stopProfile(ctx context.Context, c *child) {
	if b.o.profileDir == "" || c.info.DebugURL == "" {
		return
	}
	postJSON(context.WithoutCancel(ctx), c.info.DebugURL+"/bench/profile/stop", nil)
}

func getMem(ctx context.Context, c *child) map[string]uint64 {
	base := c.info.DebugURL
	if base == "" {
		base = c.info.URL
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/bench/mem", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]uint64
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func postJSON(ctx context.Context, u string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", u, resp.Status, body)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func waitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s/healthz did not answer 200 within 30s", base)
}

// sendAtRate calls send(i) for each i below n at start + i/rate, each in its own goroutine, and
// returns once every call has, with how many failed.
func sendAtRate(ctx context.Context, n int, rate float64, send func(i int) error) int {
	var failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			sleepCtx(ctx, d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if send(i) != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

// waitArrivals waits until every stream of sets has its event, for at most d.
func waitArrivals(ctx context.Context, d time.Duration, sets ...*streamSet) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		missing := 0
		for _, set := range sets {
			for _, s := range set.streams {
				if s.arrival.Load() == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
