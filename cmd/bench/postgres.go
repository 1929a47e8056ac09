package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// The PostgreSQL part (issue 17, item 4): the app on a PostgreSQL cluster the bench starts
// itself, with one instance and then with two behind the load generator, on the same data sizes.
// Webhooks are sent to the instances in turn; in the fan-out, each order's streams are on one
// instance and half of the orders' webhooks go to the other, so their change reaches the streams
// only through PostgreSQL (NOTIFY, then the other instance's feeder reading the order).

// pgResult is the PostgreSQL part of results.json.
type pgResult struct {
	Skipped string      `json:"skipped,omitempty"`
	Version string      `json:"version,omitempty"`
	Healthz *loadResult `json:"healthz,omitempty"` // on the one instance, before anything else
	One     *pgRun      `json:"one_instance,omitempty"`
	Two     *pgRun      `json:"two_instances,omitempty"`
}

// pgRun is one run: n instances on a fresh database.
type pgRun struct {
	Instances    int      `json:"instances"`
	InstanceCPUs []string `json:"instance_cpus,omitempty"`
	Seed         pgSeed   `json:"seed"`

	Accepted       loadResult     `json:"accepted"`
	ByStatus       map[string]int `json:"by_status"`
	Processed      int            `json:"processed"`
	ProcessSeconds float64        `json:"process_seconds"`
	ProcessedPerS  float64        `json:"processed_per_second"`
	Drained        bool           `json:"drained"`
	// AppliedBy is, per instance, how many webhooks its worker applied (its metrics, before and
	// after the run); their sum beyond the webhooks applied is work done twice.
	AppliedBy      []int `json:"applied_by_instance"`
	AppliedTwice   int   `json:"applied_twice"`
	ClaimsLost     int   `json:"claims_lost"` // "left to the worker that took its claim over" in the logs
	NotApplied     int   `json:"not_applied"` // webhooks sent and answered that did not end applied
	DuplicateCount int   `json:"duplicate_deliveries"`
	// CPUms is the CPU time each part used from the first webhook sent until the inbox was
	// drained, per webhook processed: app (all instances), postgres, sandbox, load generator.
	CPUms map[string]float64 `json:"cpu_ms_per_webhook"`
	// XactPerWebhook is the database's transactions (each statement outside a transaction is
	// one) per webhook processed over the same span: unlike CPU time, a count the machine's other
	// load does not disturb.
	XactPerWebhook float64 `json:"db_transactions_per_webhook"`

	Fanout *pgFanout `json:"fanout,omitempty"`
}

type pgSeed struct {
	Created     int     `json:"created"`
	Failed      int     `json:"failed"`
	Seconds     float64 `json:"seconds"`
	OrdersPerS  float64 `json:"orders_per_second"`
	Concurrency int     `json:"concurrency_per_instance"`
}

// pgFanout is the webhook → SSE run: Cross are the orders whose webhook was applied by the
// instance their streams are not on (its change reached them through PostgreSQL), Same the
// others. Either instance's worker may claim a webhook, whichever instance received it; the
// instance that applied it is read from the instances' logs.
type pgFanout struct {
	Streams    int       `json:"streams"`
	Orders     int       `json:"orders"`
	Rate       float64   `json:"rate_per_second"`
	Sent       int       `json:"sent"`
	SendFailed int       `json:"send_failed"`
	Lost       int       `json:"lost"`
	Wrong      int       `json:"wrong"`
	Ended      int       `json:"ended"`
	All        latencies `json:"latency"`
	Cross      latencies `json:"latency_across_instances"`
	Same       latencies `json:"latency_same_instance"`
	// SentAcross counts the webhooks sent to the instance their order's streams are not on
	// (half), AppliedAcross those applied there.
	SentAcross    int `json:"sent_across"`
	AppliedAcross int `json:"applied_across"`
	// ByStreams is the latency of the orders whose streams each instance holds: which core's
	// queue the tail came from.
	ByStreams []latencies `json:"latency_by_streams_instance"`
}

// streamInstance is the instance that order i's streams are opened on.
func streamInstance(i, n int) int { return i % n }

// webhookInstance is the instance that order i's webhook is sent to: with two instances, the
// other one than its streams' for half the orders (i = 1, 2 mod 4), each instance receiving half.
func webhookInstance(i, n int) int { return (i / 2) % n }

// pgInstanceCPUs returns the CPU list of each of n instances: the i-th of list, or none (unpinned).
func pgInstanceCPUs(list string, n int) []string {
	cpus := strings.Split(list, ",")
	out := make([]string, n)
	for i := range out {
		if list != "" {
			out[i] = strings.TrimSpace(cpus[i%len(cpus)])
		}
	}
	return out
}

// postgres runs the PostgreSQL part into b.res.Postgres.
func (b *bench) postgres(ctx context.Context) error {
	pr := &pgResult{}
	b.res.Postgres = pr
	if !b.o.postgres {
		pr.Skipped = b.o.pgSkip
		b.step("PostgreSQL, one and two instances: skipped: %s", pr.Skipped)
		b.res.Notes = append(b.res.Notes, "PostgreSQL part skipped: "+pr.Skipped)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	b.step("PostgreSQL: starting a throwaway cluster (%s)", b.o.pgBin)
	cl, err := startPGCluster(ctx, b.o.pgBin, filepath.Join(b.dir, "postgres.log"), b.o.keep)
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	defer cl.stop()
	pr.Version = cl.Version
	dbCPUs := b.o.pgDBCPUs
	if dbCPUs == "" {
		dbCPUs = b.loadCPUs
	}
	if !b.o.pin {
		dbCPUs = ""
	}
	cpus, err := parseCPUs(dbCPUs)
	if err != nil {
		return err
	}
	if err := cl.pin(cpus); err != nil {
		return err
	}
	instanceCPUs := ""
	if b.o.pin {
		instanceCPUs = b.o.pgInstanceCPUs
	}
	b.res.Settings["postgres"] = map[string]any{
		"version": cl.Version, "settings": strings.Join(pgSettings, " ") + " (no disk flushes: CPU and round trips are measured, not the disk)",
		"db_cpus": dbCPUs, "instance_cpus": instanceCPUs, "webhooks": b.o.pgWebhooks, "ingest_conc": b.o.ingestConc,
		"streams": b.o.pgStreams, "stream_orders": b.o.pgStreamOrders, "fanout_rate": b.o.fanoutRate,
	}
	admin, err := sql.Open("pgx", cl.dsn("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, n := range []int{1, 2} {
		name := fmt.Sprintf("bench_%d", n)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		run, err := b.pgRun(ctx, cl, n, cl.dsn(name), pgInstanceCPUs(instanceCPUs, n), pr)
		if n == 1 {
			pr.One = run
		} else {
			pr.Two = run
		}
		if err != nil {
			return fmt.Errorf("PostgreSQL, %d instance(s): %w", n, err)
		}
	}
	return nil
}

// pgRun starts n instances on the database at dsn and measures them.
func (b *bench) pgRun(ctx context.Context, cl *pgCluster, n int, dsn string, cpus []string, pr *pgResult) (*pgRun, error) {
	run := &pgRun{Instances: n, InstanceCPUs: cpus, ByStatus: map[string]int{}, CPUms: map[string]float64{}}
	apps := make([]*child, n)
	for k := range n {
		b.step("PostgreSQL: starting instance %d of %d (CPUs %q)", k+1, n, cpus[k])
		c, err := startChild(ctx, "app", filepath.Join(b.dir, fmt.Sprintf("app-pg%d-%d.log", n, k+1)), "child-app",
			"-dir", b.dir, "-db", dsn, "-cpus", cpus[k], "-banq", b.sandbox.info.URL, "-payers", strings.Join(b.sandbox.info.Payers, ","))
		if err != nil {
			return run, err
		}
		defer c.stop(15 * time.Second)
		if err := waitHealthy(ctx, c.info.URL); err != nil {
			return run, err
		}
		apps[k] = c
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return run, err
	}
	defer db.Close()
	var secret string
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'webhook_secret'`).Scan(&secret); err != nil {
		return run, fmt.Errorf("read the webhook secret: %w", err)
	}
	if n == 1 {
		saved := b.res.Healthz
		b.healthz(ctx, apps[0])
		h := b.res.Healthz
		pr.Healthz, b.res.Healthz = &h, saved
	}

	// Orders and their payments: seeded through the service on every instance at once (each
	// order a call to the sandbox), then approved in the sandbox.
	need := b.o.pgStreamOrders + b.o.pgWebhooks
	b.step("PostgreSQL: seeding %d orders over %d instance(s)", need, n)
	run.Seed.Concurrency = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seedErr error
	start := time.Now()
	for k, a := range apps {
		share := need / n
		if k == 0 {
			share += need % n
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct {
				Created int `json:"created"`
				Failed  int `json:"failed"`
			}
			err := postJSON(ctx, a.info.DebugURL+"/bench/seed?conc="+strconv.Itoa(run.Seed.Concurrency)+"&n="+strconv.Itoa(share), &out)
			mu.Lock()
			defer mu.Unlock()
			run.Seed.Created += out.Created
			run.Seed.Failed += out.Failed
			if err != nil && seedErr == nil {
				seedErr = err
			}
		}()
	}
	wg.Wait()
	run.Seed.Seconds = round3(time.Since(start).Seconds())
	run.Seed.OrdersPerS = float64(int(float64(run.Seed.Created) / time.Since(start).Seconds()))
	if seedErr != nil {
		return run, fmt.Errorf("seed orders: %w", seedErr)
	}
	var approved map[string]int
	if err := postJSON(ctx, b.sandbox.info.DebugURL+"/bench/approve", &approved); err != nil {
		return run, fmt.Errorf("approve payments: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, pay_token, payment_id FROM orders
		WHERE state = 'waiting' AND payment_id IS NOT NULL ORDER BY id LIMIT $1`, need)
	if err != nil {
		return run, err
	}
	var all []benchOrder
	for rows.Next() {
		var bo benchOrder
		if err := rows.Scan(&bo.id, &bo.token, &bo.payment); err != nil {
			rows.Close()
			return run, err
		}
		all = append(all, bo)
	}
	rows.Close()
	if len(all) < need {
		return run, fmt.Errorf("got %d waiting orders with a payment, want %d", len(all), need)
	}
	fanOrders, ingestOrders := all[:b.o.pgStreamOrders], all[b.o.pgStreamOrders:]

	if err := b.pgIngest(ctx, cl, run, apps, db, secret, ingestOrders); err != nil {
		return run, err
	}
	fr, err := b.pgFanout(ctx, apps, secret, fanOrders)
	run.Fanout = fr
	if err != nil {
		return run, err
	}
	for _, a := range apps {
		if err := a.stop(15 * time.Second); err != nil {
			return run, err
		}
	}
	return run, nil
}

// pgIngest sends one webhook per payment to the instances in turn, 16 in flight, and waits for
// the inbox to drain; then checks that each was applied exactly once.
func (b *bench) pgIngest(ctx context.Context, cl *pgCluster, run *pgRun, apps []*child, db *sql.DB, secret string, orders []benchOrder) error {
	n := len(orders)
	kind := fmt.Sprintf("pg%d-ingest", len(apps))
	bodies, sigs := make([][]byte, n), make([]string, n)
	for i := range n {
		bodies[i], sigs[i] = signedWebhook(secret, fmt.Sprintf("bench-%s-%s-%d", kind, b.runID, i), orders[i].payment)
	}
	before := make([]float64, len(apps))
	for k, a := range apps {
		v, err := scrapeMetric(ctx, a.info.Metrics, appliedSeries)
		if err != nil {
			return err
		}
		before[k] = v
	}
	clients := make([]*http.Client, len(apps))
	for k := range apps {
		clients[k] = newClient(b.o.ingestConc)
	}
	b.step("PostgreSQL, %d instance(s): webhook ingest, %d webhooks, %d in flight", len(apps), n, b.o.ingestConc)
	cpu0 := b.pgCPU(cl, apps)
	x0, err := pgXacts(ctx, db)
	if err != nil {
		return err
	}
	start := time.Now()
	r := closedLoop(ctx, b.o.ingestConc, n, b.o.ingestDur, func(ctx context.Context, _, i int) (int, error) {
		k := i % len(apps)
		return post(ctx, clients[k], apps[k].info.URL+"/webhooks/banq", bodies[i], sigs[i])
	})
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	run.Accepted = r
	b.step("accepted %d in %.1fs; waiting for the workers to drain the inbox", r.OK, r.Seconds)
	run.Drained = waitDrained(ctx, db, 90*time.Second) == nil
	cpu1 := b.pgCPU(cl, apps)
	// Backends report their counts when idle, at most a second late.
	sleepCtx(ctx, 1500*time.Millisecond)
	x1, err := pgXacts(ctx, db)
	if err != nil {
		return err
	}

	pattern := "bench-" + kind + "-" + b.runID + "-%"
	rows, err := db.QueryContext(ctx, `SELECT status, count(*), COALESCE(sum(duplicates), 0) FROM webhooks WHERE id LIKE $1 GROUP BY status`, pattern)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var k, dup int
		rows.Scan(&s, &k, &dup)
		run.ByStatus[s] = k
		run.DuplicateCount += dup
	}
	rows.Close()
	run.Processed = run.ByStatus["applied"]
	run.NotApplied = r.OK - run.Processed
	var last sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT max(processed_at) FROM webhooks WHERE id LIKE $1 AND status = 'applied'`, pattern).Scan(&last); err != nil {
		return err
	}
	if t, err := time.Parse("2006-01-02T15:04:05.000000000Z", last.String); err == nil && run.Processed > 0 {
		run.ProcessSeconds = round3(t.Sub(start).Seconds())
		run.ProcessedPerS = float64(int(float64(run.Processed) / t.Sub(start).Seconds()))
	}
	sum := 0
	for k, a := range apps {
		v, err := scrapeMetric(ctx, a.info.Metrics, appliedSeries)
		if err != nil {
			return err
		}
		run.AppliedBy = append(run.AppliedBy, int(v-before[k]))
		sum += int(v - before[k])
		run.ClaimsLost += countInFile(a.logPath, "took its claim over")
	}
	run.AppliedTwice = max(sum-run.Processed, 0)
	if run.Processed > 0 {
		per := func(d time.Duration) float64 { return round3(float64(d) / 1e6 / float64(run.Processed)) }
		for part, d := range cpu1.sub(cpu0) {
			run.CPUms[part] = per(d)
		}
		run.XactPerWebhook = round3(float64(x1-x0) / float64(run.Processed))
	}
	if !run.Drained {
		return fmt.Errorf("the inbox was not drained within 90s: %v", run.ByStatus)
	}
	return nil
}

// pgXacts is the count of transactions committed and rolled back in db's database so far.
func pgXacts(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}

// pgCPUSample is the CPU time used so far by each part of the PostgreSQL runs.
type pgCPUSample map[string]time.Duration

func (b *bench) pgCPU(cl *pgCluster, apps []*child) pgCPUSample {
	s := pgCPUSample{"postgres": cl.cpuTime(), "sandbox": processCPU(b.sandbox.info.PID)}
	for _, a := range apps {
		s["app"] += processCPU(a.info.PID)
	}
	var self syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	s["load generator"] = time.Duration(self.Utime.Nano() + self.Stime.Nano())
	return s
}

func (s pgCPUSample) sub(earlier pgCPUSample) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, v := range s {
		out[k] = v - earlier[k]
	}
	return out
}

// pgFanout opens the streams of each order on its instance, then sends one webhook per order at
// the fan-out rate, to the instance webhookInstance says, and times it to its event's arrival on
// every stream of the order.
func (b *bench) pgFanout(ctx context.Context, apps []*child, secret string, orders []benchOrder) (*pgFanout, error) {
	n := len(apps)
	perOrder := max(b.o.pgStreams/len(orders), 1)
	fr := &pgFanout{Streams: perOrder * len(orders), Orders: len(orders), Rate: b.o.fanoutRate}
	// Per instance, the orders whose streams it holds; a stream's group indexes that list.
	local := make([][]int, n)
	for i := range orders {
		k := streamInstance(i, n)
		local[k] = append(local[k], i)
	}
	b.step("PostgreSQL, %d instance(s): opening %d streams over %d orders", n, fr.Streams, len(orders))
	sets := make([]*streamSet, n)
	for k, a := range apps {
		paths := make([]string, len(local[k]))
		for j, i := range local[k] {
			paths[j] = "/pay/" + url.PathEscape(orders[i].token) + "/events"
		}
		set, err := openStreams(ctx, a.info.URL, paths, perOrder, 64, `data-state="accepted"`, time.Now().Add(60*time.Second))
		if err != nil {
			return fr, err
		}
		defer set.close()
		sets[k] = set
	}
	clients := make([]*http.Client, n)
	for k := range clients {
		clients[k] = newClient(64)
	}
	b.step("PostgreSQL, %d instance(s): one webhook per order at %.0f/s", n, b.o.fanoutRate)
	sent := make([]int64, len(orders))
	failed := sendAtRate(ctx, len(orders), b.o.fanoutRate, func(i int) error {
		k := webhookInstance(i, n)
		body, sig := signedWebhook(secret, fmt.Sprintf("bench-pg%d-fanout-%s-%d", n, b.runID, i), orders[i].payment)
		sent[i] = time.Now().UnixNano()
		_, err := post(ctx, clients[k], apps[k].info.URL+"/webhooks/banq", body, sig)
		return err
	})
	fr.Sent, fr.SendFailed = len(orders), failed
	waitArrivals(ctx, 10*time.Second, sets...)
	worst := make([]time.Duration, len(orders))
	complete := make([]bool, len(orders))
	for i := range complete {
		complete[i] = sent[i] != 0
	}
	for k, set := range sets {
		for _, s := range set.streams {
			i := local[k][s.group]
			at := s.arrival.Load()
			switch {
			case at == 0:
				fr.Lost++
				complete[i] = false
				if s.ended.Load() {
					fr.Ended++
				}
				continue
			case !s.match.Load():
				fr.Wrong++
			}
			worst[i] = max(worst[i], time.Duration(at-sent[i]))
		}
	}
	logs := make([]string, n)
	for k, a := range apps {
		logs[k] = a.logPath
	}
	prefix := fmt.Sprintf("bench-pg%d-fanout-%s-", n, b.runID)
	appliedBy := appliedOn(logs, prefix)
	var all, cross, same []time.Duration
	byStreams := make([][]time.Duration, n)
	for i := range orders {
		applier, ok := appliedBy[prefix+strconv.Itoa(i)]
		if !ok {
			applier = webhookInstance(i, n)
		}
		if streamInstance(i, n) != webhookInstance(i, n) {
			fr.SentAcross++
		}
		if streamInstance(i, n) != applier {
			fr.AppliedAcross++
		}
		if !complete[i] {
			continue
		}
		all = append(all, worst[i])
		byStreams[streamInstance(i, n)] = append(byStreams[streamInstance(i, n)], worst[i])
		if streamInstance(i, n) != applier {
			cross = append(cross, worst[i])
		} else {
			same = append(same, worst[i])
		}
	}
	fr.All, fr.Cross, fr.Same = summarize(all), summarize(cross), summarize(same)
	for _, l := range byStreams {
		fr.ByStreams = append(fr.ByStreams, summarize(l))
	}
	b.step("PostgreSQL, %d instance(s): fan-out p99 %.1fms (across instances %.1fms), lost %d", n, fr.All.P99, fr.Cross.P99, fr.Lost)
	return fr, nil
}

// signedWebhook is a signed Payment/Accepted webhook about payment with the given id.
func signedWebhook(secret, id, payment string) ([]byte, string) {
	body, _ := json.Marshal(banq.Webhook{
		AccountSpaceID: 1, Action: banq.ActionAccepted, ID: id,
		ResourceID: payment, ResourceType: banq.ResourcePayment, CreatedAtUTC: time.Now().UTC(),
	})
	return body, banq.Sign(body, secret)
}

// appliedSeries counts the webhooks an instance's worker applied.
const appliedSeries = `checkout_webhook_processing_seconds_count{result="applied"}`

// scrapeMetric reads one series from a Prometheus text page; a series not yet there is 0.
func scrapeMetric(ctx context.Context, u, series string) (float64, error) {
	if u == "" {
		return 0, fmt.Errorf("the app has no metrics listener")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return metricValue(resp.Body, series)
}

// metricValue finds series (name and labels, as Prometheus writes them) in a text exposition.
func metricValue(r io.Reader, series string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(strings.TrimSpace(rest), " ") // a timestamp may follow
		return strconv.ParseFloat(v, 64)
	}
	return 0, sc.Err()
}

// countInFile counts the lines of a file holding s.
func countInFile(path, s string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// pgFigures are the PostgreSQL part's lines of the table. Its baselines are the same run's:
// healthz on the PostgreSQL instance, and the one-instance run for the two-instance figures.
func pgFigures(r *results) []figure {
	pr := r.Postgres
	if pr == nil || pr.One == nil {
		return nil
	}
	var out []figure
	add := func(name string, v float64, unit string, base float64, baseName, target string, met *bool) {
		f := figure{Name: "PostgreSQL: " + name, Value: v, Unit: unit, Target: target, Met: met}
		if baseName != "" {
			f.Baseline, f.BaseName = ptr(base), baseName
			if base != 0 {
				f.Ratio = ptr(round3(v / base))
			}
		}
		out = append(out, f)
	}
	h := r.Healthz
	if pr.Healthz != nil {
		h = *pr.Healthz
		add("healthz requests/s", h.PerSec, "req/s", 0, "", "", nil)
		add("healthz p99", h.Latency.P99, "ms", 0, "", "", nil)
	}
	one, two := pr.One, pr.Two
	fanMet := func(l latencies) *bool {
		return ptr(l.N > 0 && l.P99 < 100 && h.Latency.P99 > 0 && l.P99 <= 10*h.Latency.P99)
	}
	const fanTarget = "< 100 ms and ≤ 10 × healthz p99"
	add("orders created/s, 1 instance", one.Seed.OrdersPerS, "/s", h.PerSec, "healthz req/s", "", nil)
	add("webhooks accepted/s, 1 instance", one.Accepted.PerSec, "req/s", h.PerSec, "healthz req/s", "", nil)
	sqlite := 0.0
	if r.Ingest != nil {
		sqlite = r.Ingest.ProcessedPerS
	}
	add("webhooks processed/s, 1 instance", one.ProcessedPerS, "/s", sqlite, "SQLite processed/s", "", nil)
	if f := one.Fanout; f != nil {
		add("webhook → SSE p99, 1 instance", f.All.P99, "ms", h.Latency.P99, "healthz p99", fanTarget, fanMet(f.All))
	}
	if two != nil {
		add("orders created/s, 2 instances", two.Seed.OrdersPerS, "/s", one.Seed.OrdersPerS, "1 instance", "", nil)
		add("webhooks accepted/s, 2 instances", two.Accepted.PerSec, "req/s", one.Accepted.PerSec, "1 instance", "", nil)
		add("webhooks processed/s, 2 instances", two.ProcessedPerS, "/s", one.ProcessedPerS, "1 instance", "≥ 1.6 × 1 instance",
			ptr(one.ProcessedPerS > 0 && two.ProcessedPerS >= 1.6*one.ProcessedPerS && one.Drained && two.Drained))
		add("database transactions per webhook, 2 instances", two.XactPerWebhook, "", one.XactPerWebhook, "1 instance", "", nil)
		for _, part := range []string{"app", "postgres"} {
			if v, ok := two.CPUms[part]; ok {
				add(part+" CPU per webhook, 2 instances", v, "ms", one.CPUms[part], "1 instance", "", nil)
			}
		}
		if f := two.Fanout; f != nil {
			add("webhook → SSE p50 across instances", f.Cross.P50, "ms", f.Same.P50, "same instance p50", "", nil)
			add("webhook → SSE p99 across instances", f.Cross.P99, "ms", h.Latency.P99, "healthz p99", fanTarget, fanMet(f.Cross))
			add("webhook → SSE max across instances", f.Cross.Max, "ms", f.Same.Max, "same instance max", "", nil)
			add("webhook → SSE p99, same instance of 2", f.Same.P99, "ms", h.Latency.P99, "healthz p99", fanTarget, fanMet(f.Same))
		}
	}
	lost, sent, wrong := 0, 0, 0
	twice, missed := 0, 0
	for _, run := range []*pgRun{one, two} {
		if run == nil {
			continue
		}
		if f := run.Fanout; f != nil {
			lost += f.Lost
			wrong += f.Wrong + f.SendFailed
			sent += f.Sent
		}
		twice += run.AppliedTwice + run.ClaimsLost
		missed += run.NotApplied + run.Accepted.Failed
	}
	add("events lost (both runs)", float64(lost+wrong), "", 0, "", "0", ptr(lost == 0 && wrong == 0 && sent > 0))
	add("webhooks not applied (both runs)", float64(missed), "", 0, "", "0", ptr(missed == 0 && one.Processed > 0))
	add("webhooks processed twice (both runs)", float64(twice), "", 0, "", "0", ptr(twice == 0 && one.Processed > 0))
	return out
}

// appliedOn reads, from the instances' JSON logs, which instance applied each webhook whose id
// starts with prefix.
func appliedOn(logs []string, prefix string) map[string]int {
	out := map[string]int{}
	for k, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !strings.Contains(string(line), prefix) {
				continue
			}
			var l struct {
				Msg       string `json:"msg"`
				WebhookID string `json:"webhook_id"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "webhook applied" && strings.HasPrefix(l.WebhookID, prefix) {
				out[l.WebhookID] = k
			}
		}
		f.Close()
	}
	return out
}
