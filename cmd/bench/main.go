// Command bench measures the checkout's hot paths on this machine, over loopback, against the
// real app and its Banq sandbox, each a child process: webhook ingestion, live fan-out to open
// payment pages, memory per open stream, and order creation, each beside a baseline measured in
// the same run (GET /healthz on the same server; a bare echo v4 SSE broadcaster written here).
// It prints a table and writes bench/results.json.
//
//	go run -tags sqlite_fts5 ./cmd/bench      (or make bench)
//	go run -tags sqlite_fts5 ./cmd/bench -h   flags: scenario sizes, pinning, CPU profiles of the app
//
// The hidden subcommands child-app and child-bare are the servers under test, and child-sandbox
// is the Banq the app talks to; the bench starts them itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	var err error
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "child-app":
			err = serveApp(os.Args[2:])
			exit(err)
			return
		case "child-sandbox":
			err = serveSandbox(os.Args[2:])
			exit(err)
			return
		case "child-bare":
			err = serveBare(os.Args[2:])
			exit(err)
			return
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[1:])
	stop()
	stopAllChildren()
	exit(err)
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the bench's knobs; the defaults are the scenarios of the issue.
type options struct {
	out          string
	timeout      time.Duration
	pin          bool
	serverCPUs   string
	loadCPUs     string
	profileDir   string
	keep         bool
	healthzDur   time.Duration
	ordersDur    time.Duration
	ordersConc   int
	ingestN      int
	ingestConc   int
	ingestDur    time.Duration
	streams      int
	streamOrders int
	fanoutRate   float64
	settle       time.Duration
	memGC        bool
	markdown     bool
	listOrders   int
	listRequests int
	listDur      time.Duration
	openDur      time.Duration
	listOnly     bool
	phone        bool
	notifyRate   float64
	notifyDur    time.Duration
	notifyBurst  int

	postgres       bool // the PostgreSQL part (postgres.go)
	pgOnly         bool
	pgSkip         string // why it is skipped
	pgBin          string
	pgWebhooks     int
	pgStreams      int
	pgStreamOrders int
	pgInstanceCPUs string
	pgDBCPUs       string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "bench/results.json", "where to write the results")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	fs.BoolVar(&o.pin, "pin", runtime.NumCPU() >= 2, "pin the server and the load generator to different CPUs")
	fs.StringVar(&o.serverCPUs, "server-cpus", "0", "CPUs of the server under test when pinned")
	fs.StringVar(&o.loadCPUs, "load-cpus", "1", "CPUs of the load generator when pinned")
	fs.StringVar(&o.profileDir, "profile", "", "write a CPU profile of the app per scenario into this directory")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory (databases, server logs)")
	fs.DurationVar(&o.healthzDur, "healthz-duration", 3*time.Second, "length of the GET /healthz baseline")
	fs.DurationVar(&o.ordersDur, "orders-duration", 5*time.Second, "length of the order-creation run")
	fs.IntVar(&o.ordersConc, "orders-conc", 8, "signed-in merchants posting orders at once")
	fs.IntVar(&o.ingestN, "ingest-n", 10_000, "webhooks sent in the ingest run, one per distinct payment")
	fs.IntVar(&o.ingestConc, "ingest-conc", 16, "webhooks in flight at once (and /healthz requests in its baseline)")
	fs.DurationVar(&o.ingestDur, "ingest-duration", 20*time.Second, "bound on the ingest run")
	fs.IntVar(&o.streams, "streams", 5000, "open SSE streams in the fan-out and memory runs")
	fs.IntVar(&o.streamOrders, "stream-orders", 1000, "orders (topics) the streams watch")
	fs.Float64Var(&o.fanoutRate, "fanout-rate", 200, "state changes per second pushed during the fan-out run")
	fs.Float64Var(&o.notifyRate, "notify-rate", 200, "order changes per second in the steady notification run")
	fs.DurationVar(&o.notifyDur, "notify-duration", 3*time.Second, "length of the steady notification run")
	fs.IntVar(&o.notifyBurst, "notify-burst", 1000, "order changes queued for the notification burst (made within the sender's 15 s timeout)")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "idle time before reading RSS")
	fs.BoolVar(&o.markdown, "md", false, "also print the table as Markdown (for the README)")
	fs.BoolVar(&o.memGC, "mem-gc", false, "after reading RSS, collect garbage in the servers and report their Go memory (diagnosis)")
	fs.IntVar(&o.listOrders, "list-orders", 1_000_000, "seed a shop of this many orders (a shop after a few years) and time the merchant list and CSV export on it; 0 skips it")
	fs.IntVar(&o.listRequests, "list-requests", 300, "requests per filter of the merchant list")
	fs.DurationVar(&o.listDur, "list-duration", 4*time.Second, "bound per filter of the merchant list")
	fs.DurationVar(&o.openDur, "open-duration", 3*time.Second, "length of each open-loop (constant rate) run")
	fs.BoolVar(&o.listOnly, "list-only", false, "run only the healthz baseline and the merchant list scenario (with -list-orders)")
	fs.BoolVar(&o.phone, "phone", true, "load the payment page in headless Chromium as a phone on slow 4G (needs chromium)")
	pgBin := findPGBin(pgBinGlob)
	fs.BoolVar(&o.postgres, "postgres", pgBin != "", "run the scenarios on a throwaway PostgreSQL cluster with one and two instances (default on when PostgreSQL's binaries are found)")
	fs.BoolVar(&o.pgOnly, "postgres-only", false, "run only the PostgreSQL part (its own healthz baseline included)")
	fs.StringVar(&o.pgBin, "postgres-bin", pgBin, "directory of PostgreSQL's initdb and postgres")
	fs.IntVar(&o.pgWebhooks, "pg-webhooks", 3000, "webhooks sent in each PostgreSQL ingest run, one per distinct payment")
	fs.IntVar(&o.pgStreams, "pg-streams", 1000, "open SSE streams in each PostgreSQL fan-out run")
	fs.IntVar(&o.pgStreamOrders, "pg-stream-orders", 200, "orders the PostgreSQL fan-out's streams watch (one webhook each)")
	fs.StringVar(&o.pgInstanceCPUs, "pg-instance-cpus", "0,1", "CPUs of the PostgreSQL runs' instances when pinned: the first instance on the first, the second on the second")
	fs.StringVar(&o.pgDBCPUs, "pg-db-cpus", "", "CPUs of the PostgreSQL cluster when pinned (default: the load generator's)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	if o.listOrders > 0 && !timeoutSet {
		o.timeout += 4 * time.Minute // seeding a million orders takes a minute or two on a shared core
	}
	switch {
	case o.listOnly:
		o.postgres, o.pgSkip = false, "-list-only"
	case !o.postgres && o.pgBin == "":
		o.pgSkip = "no PostgreSQL binaries (initdb, postgres) under " + pgBinGlob + " or on PATH; install postgresql or pass -postgres-bin"
	case !o.postgres:
		o.pgSkip = "-postgres=false"
	case o.pgBin == "":
		return o, fmt.Errorf("-postgres: no PostgreSQL binaries found; pass -postgres-bin")
	}
	if o.pgOnly && (!o.postgres || o.listOnly) {
		return o, fmt.Errorf("-postgres-only needs -postgres and PostgreSQL's binaries, and not -list-only")
	}
	if o.postgres && !timeoutSet {
		o.timeout += 3 * time.Minute // two runs on PostgreSQL, about a minute each
	}
	if o.postgres && (o.pgWebhooks < 1 || o.pgStreamOrders < 1 || o.pgStreams < o.pgStreamOrders) {
		return o, fmt.Errorf("-pg-webhooks and -pg-stream-orders must be positive, -pg-streams at least -pg-stream-orders")
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.streamOrders < 1 || o.streams < o.streamOrders || o.streams%o.streamOrders != 0 {
		return o, fmt.Errorf("-streams (%d) must be a multiple of -stream-orders (%d)", o.streams, o.streamOrders)
	}
	if o.listOnly && o.listOrders < 1 {
		return o, fmt.Errorf("-list-only needs -list-orders")
	}
	if o.fanoutRate <= 0 || o.ingestConc < 1 || o.ordersConc < 1 || o.ingestN < 1 {
		return o, fmt.Errorf("rates, counts and concurrencies must be positive")
	}
	return o, nil
}
