package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/handlers"
	"github.com/banq-checkout/checkout/notify"
)

// benchEnv is the configuration the bench gives the app, on top of the environment. Every other
// CHECKOUT_* variable passes through, so a limit added later can be set from the command line.
func benchEnv(dir string) map[string]string {
	return map[string]string{
		"CHECKOUT_ADDR":       "127.0.0.1:0",
		"CHECKOUT_DB":         filepath.Join(dir, "checkout.db"),
		"CHECKOUT_PUBLIC_URL": "",
		// The reconciler is for webhooks that never came; here every one comes.
		"CHECKOUT_RECONCILE_AFTER":  "1h",
		"CHECKOUT_LOG_FORMAT":       "json",
		"CHECKOUT_LOG_LEVEL":        "info",
		"CHECKOUT_SHUTDOWN_TIMEOUT": "5s",
		// Metrics stay on (their cost is the app's), on a port of their own.
		"CHECKOUT_METRICS_ADDR": "127.0.0.1:0",
		// Never real Banq: the bench creates thousands of payments. The sandbox child is set
		// below as Banq, after the configuration is read (its URL is known only then).
		"BANQ_CLIENT_ID": "", "BANQ_USERNAME": "", "BANQ_PASSWORD": "",
		"BANQ_API_URL": "", "BANQ_AUTH_URL": "", "BANQ_WEBHOOK_SECRET": "", "BANQ_WEBHOOK_SECRET_PREVIOUS": "",
	}
}

// benchLogin is the merchant user the bench signs in as (the demo login exists only in sandbox
// mode, and here the sandbox is another process, used as Banq).
const benchLogin = "bench@checkout.test"

// serveApp is the hidden `child-app` subcommand: the real checkout, started through app.New as
// main does, with the sandbox child at -banq as its Banq, plus a debug listener for pprof and the
// bench's setup calls.
func serveApp(args []string) error {
	fs := flag.NewFlagSet("child-app", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory")
	banqURL := fs.String("banq", "", "base URL of the sandbox child, used as Banq")
	payerList := fs.String("payers", "", "comma-separated payer banq GUIDs for seeded orders")
	dbURL := fs.String("db", "", "CHECKOUT_DB instead of a SQLite file in -dir (a postgres:// URL)")
	ctx, stop, pinned, err := childStart(fs, args)
	if err != nil {
		return err
	}
	defer stop()
	if *banqURL == "" || *payerList == "" {
		return errors.New("child-app: -banq and -payers are required")
	}

	over := benchEnv(*dir)
	if *dbURL != "" {
		over["CHECKOUT_DB"] = *dbURL
	}
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
	cfg.BanqAPIURL, cfg.BanqAuthURL = *banqURL, *banqURL
	cfg.BanqClientID, cfg.BanqUsername, cfg.BanqPassword = sandbox.DefaultClientID, sandbox.DefaultUsername, sandbox.DefaultPassword
	cfg.SessionKey = rand.Text() + rand.Text() // 52 characters; 32 are required
	// Every webhook comes from one address here; the per-address limit against floods would
	// answer 429 to the bench, so it is lifted.
	cfg.WebhookRate = handlers.Rate{PerSecond: 1e9, Burst: 1 << 30}
	// Likewise every stream: the fan-out run opens thousands from one address, several per link.
	cfg.StreamLimits = handlers.StreamLimits{PerAddress: 1 << 30, PerLink: 1 << 30}
	// The API's per-key limit likewise: the bench's shop sends with one key as fast as it can.
	cfg.APIRate = handlers.Rate{PerSecond: 1e9, Burst: 1 << 30}
	// So do the caps on live streams per address and per link: the fan-out opens thousands.
	cfg.StreamLimits = handlers.StreamLimits{PerAddress: 1 << 30, PerLink: 1 << 30}
	// The shop's notification endpoint is the load generator's, on loopback.
	cfg.NotifyAllowPrivate = true
	log := app.NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		return err
	}
	if err := quietWebhooks(ctx, a); err != nil {
		return err
	}
	password, err := benchUser(ctx, a, cfg.PasswordCost)
	if err != nil {
		return err
	}
	d := &debugServer{a: a, log: log, payers: strings.Split(*payerList, ",")}
	dln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dsrv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	go dsrv.Serve(dln)
	defer dsrv.Close()

	info := childInfo{PID: os.Getpid(), URL: a.URL(), DebugURL: "http://" + dln.Addr().String(),
		DB: cfg.DB, Metrics: a.MetricsURL(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: pinned, Login: benchLogin, Password: password}
	line, _ := json.Marshal(info)
	fmt.Println(string(line))
	err = a.Run(ctx)
	d.stopProfile()
	return err
}

// benchUser makes sure the bench's merchant user exists with a fresh password, and returns it.
func benchUser(ctx context.Context, a *app.App, cost int) (string, error) {
	password := rand.Text()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	u, err := a.DB.UserByEmail(ctx, benchLogin)
	switch {
	case checkout.ErrorCode(err) == checkout.ENotFound:
		_, err = a.DB.CreateUser(ctx, checkout.User{Email: benchLogin, PasswordHash: hash})
	case err == nil:
		err = a.DB.SetPassword(ctx, u.ID, hash, "")
	}
	return password, err
}

// quietWebhooks turns Banq's own webhook delivery to the app off: the bench sends every webhook
// itself (signed like Banq's) and times it, and no background delivery competes with it.
func quietWebhooks(ctx context.Context, a *app.App) error {
	secret, err := a.DB.Setting(ctx, "webhook_secret")
	if err != nil {
		return err
	}
	me, err := a.Banq.Me(ctx)
	if err != nil {
		return err
	}
	if len(me.AccountSpaces) == 0 {
		return errors.New("users/me names no account space")
	}
	return a.Banq.SetWebhookConfig(ctx, me.AccountSpaces[0].ID, banq.WebhookConfig{
		URL: a.URL() + "/webhooks/banq", Enabled: false, RetryCount: 0,
		WebHookTypes: []banq.ResourceType{banq.ResourcePayment, banq.ResourceTransaction}, SharedSecret: secret,
	})
}

// debugServer serves pprof and the bench's setup calls on a listener of its own.
type debugServer struct {
	a      *app.App
	log    *slog.Logger
	payers []string

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
	mux.HandleFunc("POST /bench/endpoint", d.addEndpoint)
	mux.HandleFunc("POST /bench/endpoint/delete", d.deleteEndpoint)
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
	payers := d.payers
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
					Description: "Bench seed order " + strconv.FormatInt(i, 10), CustomerBanq: p,
					CustomerName: "Bench payer " + strconv.Itoa(int(i)%len(payers))})
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

// addEndpoint adds a notification endpoint for the order.created of the orders seed makes, and
// answers its id and secret.
func (d *debugServer) addEndpoint(w http.ResponseWriter, r *http.Request) {
	e, err := d.a.Notify.Create(r.Context(), notify.Input{URL: r.URL.Query().Get("url"), Types: []string{notify.OrderCreated}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": e.ID, "secret": e.Secret})
}

func (d *debugServer) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err := d.a.Notify.Delete(r.Context(), id); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
