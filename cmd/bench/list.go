package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/banq-checkout/checkout/store"
)

// listResult is what the merchant list scenario measured over a seeded shop of many orders.
type listResult struct {
	Orders      int                   `json:"orders"`
	SeedSeconds float64               `json:"seed_seconds"`
	Pages       map[string]loadResult `json:"first_pages"`
	Queries     map[string]string     `json:"queries"`
	Export      exportResult          `json:"export"`
}

type exportResult struct {
	Rows          int     `json:"rows"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RowsPerSec    float64 `json:"rows_per_second"`
	RSSBeforeByte int64   `json:"rss_before_bytes"`
	RSSMaxByte    int64   `json:"rss_max_bytes"`
	Error         string  `json:"error,omitempty"`
}

// Names and descriptions in several scripts, so that the search index holds what a shop's does.
var (
	firstNames = []string{"Anna", "Ada", "Jonas", "Mia", "Lukas", "Sofia", "Mateo", "Élodie", "Zoë", "François",
		"Аня", "Дмитрий", "Ольга", "Сергей", "Νίκος", "Μαρία", "Γιώργος", "Ελένη", "Łukasz", "Søren", "Ümit", "Çağla"}
	lastNames = []string{"Novak", "Schmidt", "García", "Müller", "Dupré", "Kowalski", "Jensen", "Rossi", "Öztürk",
		"Петрова", "Иванов", "Смирнова", "Παπαδόπουλος", "Οικονόμου", "Nagy", "Horváth", "Brontë", "Lovelace"}
	descWords = []string{"coffee", "beans", "espresso", "grinder", "filter", "mug", "tea", "kettle", "subscription",
		"chocolate", "crème", "brûlée", "café", "чай", "кофе", "подарок", "καφές", "τσάι", "δώρο", "gift", "box", "delivery"}
	// Orders end within their time to pay: only the newest are still open.
	finalStates = []string{"paid", "paid", "paid", "paid", "paid", "paid", "expired", "expired", "canceled",
		"declined", "failed", "rejected"}
	openStates = []string{"waiting", "waiting", "accepted", "creating", "paid"}
)

// openOrders is how many of the newest seeded orders are still open (a busy hour's worth).
const openOrders = 500

// seedList writes n orders spread over the two years before now into a fresh database at path,
// straight through SQL (the app's triggers index them for search, as they would be one by one),
// and returns the probes the scenario searches for.
func seedList(ctx context.Context, path string, n int, now time.Time) (map[string]string, error) {
	db, err := store.Open(ctx, path) // the app's migrations, search index included
	if err != nil {
		return nil, err
	}
	db.Close()
	w, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	rng := rand.New(rand.NewPCG(17, 2026))
	span := 2 * 365 * 24 * time.Hour
	start := now.Add(-span)
	step := span / time.Duration(n)
	const batch = 20_000
	for done := 0; done < n; {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO orders(id, pay_token, idempotency_key, amount_cents, description,
			customer_banq, customer_name, state, payment_id, created_at, updated_at, paid_at)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		for i := done; i < min(done+batch, n); i++ {
			id := i + 1
			at := start.Add(step * time.Duration(i)).UTC().Format("2006-01-02T15:04:05.000000000Z")
			state := finalStates[rng.IntN(len(finalStates))]
			if i >= n-openOrders {
				state = openStates[rng.IntN(len(openStates))]
			}
			paid := ""
			if state == "paid" {
				paid = at
			}
			name := firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))]
			desc := descWords[rng.IntN(len(descWords))] + " " + descWords[rng.IntN(len(descWords))] + " ×" + strconv.Itoa(1+rng.IntN(5))
			var payment any
			if state != "creating" && state != "rejected" {
				payment = "seed-pay-" + strconv.Itoa(id)
			}
			if _, err := st.ExecContext(ctx, id, "seed-tok-"+strconv.Itoa(id), "seed-key-"+strconv.Itoa(id),
				100+rng.IntN(100_000), desc, "seed-banq-"+strconv.Itoa(rng.IntN(5000)), name, state, payment, at, at, paid); err != nil {
				tx.Rollback()
				return nil, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		done = min(done+batch, n)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	// Banq's webhooks about the open orders, so that the list's "webhooks look broken" check
	// sees a shop whose webhooks arrive.
	if _, err := w.ExecContext(ctx, `INSERT INTO webhooks(id, received_at, resource_type, action, resource_id,
		body, status, processed_at, order_id) SELECT 'seed-wh-' || id, created_at, 'Payment', 'Accepted',
		payment_id, '{}', 'applied', created_at, id FROM orders WHERE id > ? AND payment_id IS NOT NULL`, n-openOrders); err != nil {
		return nil, err
	}
	if _, err := w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, err
	}
	if _, err := w.ExecContext(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	mid := start.Add(span / 2)
	return map[string]string{
		"no filter": "",
		// A rare name (one surname of one first name) and a word of a description.
		"search customer name": "q=" + url.QueryEscape("ольга петров"),
		"search description":   "q=" + url.QueryEscape("ΚΑΦΈ"),
		"search number":        "q=" + url.QueryEscape("#"+strconv.Itoa(n/3)),
		"date range (a month)": "from=" + mid.Format(time.DateOnly) + "&to=" + mid.AddDate(0, 1, 0).Format(time.DateOnly),
	}, nil
}

// signIn returns a client signed in as the bench's merchant, and a CSRF token for its forms.
func signIn(ctx context.Context, a *child) (*http.Client, error) {
	c := newClient(4)
	c.Jar, _ = cookiejar.New(nil)
	tok, err := csrfToken(ctx, c, a.info.URL+"/login")
	if err != nil {
		return nil, err
	}
	status, loc, err := postForm(ctx, c, a.info.URL+"/login", url.Values{"_csrf": {tok}, "email": {a.info.Login}, "password": {a.info.Password}})
	if err != nil || status != http.StatusSeeOther || loc != "/orders" {
		return nil, fmt.Errorf("sign in: got %d to %q (%v), want 303 to /orders", status, loc, err)
	}
	return c, nil
}

// list seeds a shop of b.o.listOrders orders, starts an app on it, and times the merchant list's
// first page for each filter, then the CSV export of every order with the app's RSS sampled.
func (b *bench) list(ctx context.Context) error {
	dir := filepath.Join(b.dir, "list")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.step("seeding %d orders for the merchant list", b.o.listOrders)
	t0 := time.Now()
	queries, err := seedList(ctx, filepath.Join(dir, "checkout.db"), b.o.listOrders, time.Now())
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, s := range []string{"creating", "waiting", "accepted", "paid", "declined", "expired", "canceled", "failed", "rejected"} {
		queries["state "+s] = "state=" + s
	}
	lr := &listResult{Orders: b.o.listOrders, SeedSeconds: round3(time.Since(t0).Seconds()), Pages: map[string]loadResult{}, Queries: queries}
	b.res.List = lr
	a, err := b.startAppIn(ctx, 3, dir)
	if err != nil {
		return err
	}
	defer a.stop(15 * time.Second)
	if b.res.Healthz.OK == 0 { // -list-only: the baseline on this app
		b.healthz(ctx, a)
	}
	c, err := signIn(ctx, a)
	if err != nil {
		return err
	}
	b.profile(ctx, a, "list")
	for name, q := range queries {
		b.step("list: first page, %s", name)
		u := a.info.URL + "/orders?" + q
		lr.Pages[name] = closedLoop(ctx, 2, b.o.listRequests, b.o.listDur, func(ctx context.Context, _, _ int) (int, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := c.Do(req)
			if err != nil {
				return 0, err
			}
			drain(resp)
			if resp.StatusCode != http.StatusOK {
				return resp.StatusCode, fmt.Errorf("GET %s: got %d, want 200", u, resp.StatusCode)
			}
			return resp.StatusCode, nil
		})
	}
	// The shop API's list: the same store query under another handler and JSON.
	tok, err := csrfToken(ctx, c, a.info.URL+"/orders/new")
	if err != nil {
		return err
	}
	key, err := apiKey(ctx, c, a.info.URL, tok)
	if err != nil {
		return err
	}
	mid := time.Now().AddDate(-1, 0, 0).UTC().Truncate(24 * time.Hour)
	for name, q := range map[string]string{
		"API no filter":        "",
		"API state paid":       "state=paid",
		"API state declined":   "state=declined",
		"API created, a month": "created_after=" + mid.Format(time.RFC3339) + "&created_before=" + mid.AddDate(0, 1, 0).Format(time.RFC3339),
	} {
		b.step("list: first page, %s", name)
		lr.Queries[name] = q
		u := a.info.URL + "/api/v1/orders?" + q
		lr.Pages[name] = closedLoop(ctx, 2, b.o.listRequests, b.o.listDur, func(ctx context.Context, _, _ int) (int, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := c.Do(req)
			if err != nil {
				return 0, err
			}
			drain(resp)
			if resp.StatusCode != http.StatusOK {
				return resp.StatusCode, fmt.Errorf("GET %s: got %d, want 200", u, resp.StatusCode)
			}
			return resp.StatusCode, nil
		})
	}
	b.stopProfile(ctx, a)
	b.step("list: CSV export of all %d orders", b.o.listOrders)
	b.profile(ctx, a, "export")
	lr.Export = exportAll(ctx, c, a)
	b.stopProfile(ctx, a)
	return nil
}

// exportAll downloads /orders.csv, counting rows, while the app's RSS is sampled every 50 ms.
func exportAll(ctx context.Context, c *http.Client, a *child) (r exportResult) {
	r.RSSBeforeByte, _ = rssBytes(a.info.PID)
	var peak atomic.Int64
	peak.Store(r.RSSBeforeByte)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v, err := rssBytes(a.info.PID); err == nil && v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	defer func() { close(done); r.RSSMaxByte = peak.Load() }()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	export := &http.Client{Transport: c.Transport, Jar: c.Jar} // no overall timeout: the deadline is ctx's
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.info.URL+"/orders.csv", nil)
	t0 := time.Now()
	resp, err := export.Do(req)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.Error = fmt.Sprintf("GET /orders.csv: got %d, want 200", resp.StatusCode)
		return r
	}
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		r.Bytes += int64(len(line))
		if len(line) > 0 && line[len(line)-1] == '\n' {
			r.Rows++
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.Error = err.Error()
			}
			break
		}
	}
	r.Rows-- // the header
	el := time.Since(t0)
	r.Seconds = round3(el.Seconds())
	r.RowsPerSec = float64(int(float64(r.Rows) / el.Seconds()))
	return r
}
