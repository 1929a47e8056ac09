package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/handlers"
)

// benchEnv is the configuration the bench gives the app, on top of the environment. Every other
// CHECKOUT_* variable passes through, so a limit added later can be set from the command line.
func benchEnv(dir string) map[string]string {
	return map[string]string{
		"CHECKOUT_ADDR":       "127.0.0.1:0",
		"CHECKOUT_DB":         filepath.Join(dir, "checkout.db"),
		"CHECKOUT_PUBLIC_URL": "",
		"SANDBOX_ADDR":        "127.0.0.1:0",
		"SANDBOX_DB":          filepath.Join(dir, "sandbox.db"),
		// No approval flow runs in the sandbox's background: the bench changes payments itself,
		// so the sandbox's step delays never count as the app's time.
		"SANDBOX_STEP_DELAY": "1h",
		// The reconciler is for webhooks that never came; here every one comes.
		"CHECKOUT_RECONCILE_AFTER":  "1h",
		"CHECKOUT_LOG_FORMAT":       "json",
		"CHECKOUT_LOG_LEVEL":        "info",
		"CHECKOUT_SHUTDOWN_TIMEOUT": "5s",
		// Metrics stay on (their cost is the app's), on a port of their own.
		"CHECKOUT_METRICS_ADDR": "127.0.0.1:0",
		// Never real Banq: the bench creates thousands of payments.
		"BANQ_CLIENT_ID": "", "BANQ_USERNAME": "", "BANQ_PASSWORD": "",
		"BANQ_API_URL": "", "BANQ_AUTH_URL": "", "BANQ_WEBHOOK_SECRET": "", "BANQ_WEBHOOK_SECRET_PREVIOUS": "",
	}
}

// serveApp is the hidden `child-app` subcommand: the real checkout with its sandbox, started
// through app.New as main does, plus a debug listener for pprof and the bench's setup calls.
func serveApp(args []string) error {
	fs := flag.NewFlagSet("child-app", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory")
	cpus := fs.String("cpus", "", "CPUs to run on, e.g. 0")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop, pinned, err := childStart(*cpus)
	if err != nil {
		return err
	}
	defer stop()

	over := benchEnv(*dir)
	getenv := func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	cfg, err := app.ParseConfig(nil, getenv, os.Stderr)
	if err != nil {
		return err
	}
	// Every webhook comes from one address here; the per-address limit against floods would
	// answer 429 to the bench, so it is lifted.
	cfg.WebhookRate = handlers.Rate{PerSecond: 1e9, Burst: 1 << 30}
	log := app.NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		return err
	}
	if err := quietSandbox(ctx, a); err != nil {
		return err
	}
	payers, err := a.Sandbox.PayerBanqs(ctx)
	if err != nil {
		return err
	}
	d := &debugServer{a: a, log: log}
	dln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dsrv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	go dsrv.Serve(dln)
	defer dsrv.Close()

	info := childInfo{PID: os.Getpid(), URL: a.URL(), SandboxURL: a.Sandbox.URL, DebugURL: "http://" + dln.Addr().String(),
		DB: cfg.DB, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: pinned}
	for _, p := range payers {
		info.Payers = append(info.Payers, p.GUID)
	}
	line, _ := json.Marshal(info)
	fmt.Println(string(line))
	err = a.Run(ctx)
	d.stopProfile()
	return err
}

// quietSandbox turns the sandbox's own webhook delivery off: the bench sends every webhook itself
// (signed like the sandbox's) and times it, and no background delivery competes with it.
func quietSandbox(ctx context.Context, a *app.App) error {
	secret, err := a.DB.Setting(ctx, "webhook_secret")
	if err != nil {
		return err
	}
	return a.Banq.SetWebhookConfig(ctx, a.Sandbox.AccountSpace().ID, banq.WebhookConfig{
		URL: a.URL() + "/webhooks/banq", Enabled: false, RetryCount: 0,
		WebHookTypes: []banq.ResourceType{banq.ResourcePayment, banq.ResourceTransaction}, SharedSecret: secret,
	})
}

// debugServer serves pprof and the bench's setup calls on a listener of its own.
type debugServer struct {
	a   *app.App
	log *slog.Logger

	profMu  sync.Mutex
	profOut *os.File
}

func (d *debugServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /bench/seed", d.seed)
	mux.HandleFunc("POST /bench/approve", d.approve)
	mux.HandleFunc("POST /bench/profile/start", d.startProfile)
	mux.HandleFunc("POST /bench/profile/stop", func(w http.ResponseWriter, r *http.Request) {
		d.stopProfile()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /bench/mem", memStats)
	mux.HandleFunc("POST /bench/gc", gcMemStats)
	return mux
}

// seed creates n orders through the checkout service (each calls the sandbox's create API, as
// the form does), for scenarios that need many real orders and payments.
func (d *debugServer) seed(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	conc, _ := strconv.Atoi(r.URL.Query().Get("conc"))
	n, conc = min(max(n, 0), 100_000), min(max(conc, 1), 64)
	payers, err := d.a.Sandbox.PayerBanqs(r.Context())
	if err != nil || len(payers) == 0 {
		http.Error(w, fmt.Sprintf("payers: %v", err), http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				p := payers[int(i)%len(payers)]
				_, err := d.a.Service.CreateOrder(ctx, checkout.NewOrder{Amount: banq.Money(1250 + i%500),
					Description: "Bench seed order " + strconv.FormatInt(i, 10), CustomerBanq: p.GUID, CustomerName: p.Name})
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	writeJSON(w, map[string]any{"created": min(next.Load(), int64(n)) - failed.Load(), "failed": failed.Load(),
		"seconds": time.Since(start).Seconds()})
}

// approve accepts, in the sandbox, every payment still pending, as payers would in their Banq
// app (the flow's later steps wait for the 1h step delay). The app learns of it only from the
// bench's webhooks.
func (d *debugServer) approve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	ps, err := d.a.Sandbox.Payments(ctx, "", "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	approved, failed := 0, 0
	for _, p := range ps {
		if p.Status != banq.PaymentPending {
			continue
		}
		if _, err := d.a.Sandbox.Approve(ctx, p.ID); err != nil {
			failed++
			continue
		}
		approved++
	}
	writeJSON(w, map[string]int{"approved": approved, "failed": failed})
}

func (d *debugServer) startProfile(w http.ResponseWriter, r *http.Request) {
	d.profMu.Lock()
	defer d.profMu.Unlock()
	if d.profOut != nil {
		http.Error(w, "a profile is running", http.StatusConflict)
		return
	}
	path := r.URL.Query().Get("path")
	if path == "" || !strings.HasSuffix(path, ".pprof") {
		http.Error(w, "path=….pprof required", http.StatusBadRequest)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	d.profOut = f
	w.WriteHeader(http.StatusNoContent)
}

func (d *debugServer) stopProfile() {
	d.profMu.Lock()
	defer d.profMu.Unlock()
	if d.profOut == nil {
		return
	}
	rpprof.StopCPUProfile()
	d.profOut.Close()
	d.profOut = nil
}

// memStats reports the Go runtime's view of memory, to explain RSS figures.
func memStats(w http.ResponseWriter, r *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	writeJSON(w, map[string]uint64{
		"heap_inuse": m.HeapInuse, "heap_idle": m.HeapIdle, "heap_released": m.HeapReleased,
		"stack_inuse": m.StackInuse, "sys": m.Sys, "goroutines": uint64(runtime.NumGoroutine()),
		"num_gc": uint64(m.NumGC),
	})
}

// gcMemStats collects garbage (twice: stacks shrink one step per cycle) and reports memory.
func gcMemStats(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	runtime.GC()
	memStats(w, r)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
