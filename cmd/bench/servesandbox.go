package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
)

// serveSandbox is the hidden `child-sandbox` subcommand: the Banq sandbox in a process of its own,
// pinned beside the load generator, so that Banq's side of every call is not counted on the
// app's core (real Banq runs on other machines). Its debug listener approves payments.
func serveSandbox(args []string) error {
	fs := flag.NewFlagSet("child-sandbox", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory")
	ctx, stop, pinned, err := childStart(fs, args)
	if err != nil {
		return err
	}
	defer stop()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	sb, err := sandbox.Start(ctx, "127.0.0.1:0", sandbox.Config{
		DBPath: filepath.Join(*dir, "sandbox.db"),
		// No approval flow runs in the background: the bench changes payments itself, so the
		// sandbox's step delays never count as the app's time.
		StepDelay: time.Hour,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	payers, err := sb.PayerBanqs(ctx)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /bench/approve", func(w http.ResponseWriter, r *http.Request) { approveAll(w, r, sb.Sandbox) })
	dln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go dsrv.Serve(dln)
	defer dsrv.Close()

	info := childInfo{PID: os.Getpid(), URL: sb.URL, DebugURL: "http://" + dln.Addr().String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: pinned}
	for _, p := range payers {
		info.Payers = append(info.Payers, p.GUID)
	}
	line, _ := json.Marshal(info)
	fmt.Println(string(line))
	<-ctx.Done()
	return nil
}

// approveAll accepts, in the sandbox, every payment still pending, as payers would in their Banq
// app (the flow's later steps wait for the 1h step delay). The app learns of it only from the
// bench's webhooks.
func approveAll(w http.ResponseWriter, r *http.Request, sb *sandbox.Sandbox) {
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	ps, err := sb.Payments(ctx, "", "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	approved, failed := 0, 0
	for _, p := range ps {
		if p.Status != banq.PaymentPending {
			continue
		}
		if _, err := sb.Approve(ctx, p.ID); err != nil {
			failed++
			continue
		}
		approved++
	}
	writeJSON(w, map[string]int{"approved": approved, "failed": failed})
}
