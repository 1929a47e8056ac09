package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

const triggerUsage = `usage: checkout sandbox trigger ACTION (--order N | --payment ID) [--reason REASON]
  ACTION is one of %s; fail needs --reason (e.g. InsufficientBalance).
  --order N reads order N's Banq payment from the checkout's database (CHECKOUT_DB, -db);
  the sandbox is reached at SANDBOX_URL (-sandbox-url), default http://127.0.0.1:8081`

// sandboxTrigger is `checkout sandbox trigger ACTION --order N`: it plays the payer (or Banq)
// from the command line, driving the sandbox payment of an order through an action, like a
// payment provider's CLI does in test mode.
func sandboxTrigger(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var (
		orderID            int64
		paymentID, reason  string
		dbPath, sandboxURL string
		action             string
		usage              = fmt.Errorf(triggerUsage, strings.Join(sandbox.Actions, ", "))
		fs                 = flag.NewFlagSet("sandbox trigger", flag.ContinueOnError)
	)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	fs.Int64Var(&orderID, "order", 0, "the checkout order whose payment to drive")
	fs.StringVar(&paymentID, "payment", "", "the sandbox payment id to drive")
	fs.StringVar(&reason, "reason", "", "the fail reason, for fail")
	fs.StringVar(&dbPath, "db", env("CHECKOUT_DB", "./data/checkout.db"), "the checkout's SQLite file (CHECKOUT_DB)")
	fs.StringVar(&sandboxURL, "sandbox-url", env("SANDBOX_URL", "http://127.0.0.1:8081"), "the sandbox's base URL (SANDBOX_URL)")
	// ACTION may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return usage
	}
	if fs.NArg() > 0 {
		action = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil || fs.NArg() > 0 {
			return usage
		}
	}
	if action == "" || (orderID == 0) == (paymentID == "") {
		return usage
	}
	if orderID != 0 {
		o, err := orderFromDB(ctx, dbPath, orderID)
		if err != nil {
			return err
		}
		if o.PaymentID == "" {
			return fmt.Errorf("order %d has no Banq payment yet (it is %s)", orderID, o.State.Label())
		}
		paymentID = o.PaymentID
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := sandbox.Trigger(ctx, &http.Client{}, sandboxURL, paymentID, action, banq.FailReason(reason))
	if err != nil {
		return err
	}
	who := "payment " + p.ID
	if orderID != 0 {
		who = fmt.Sprintf("order %d (payment %s)", orderID, p.ID)
	}
	fmt.Fprintf(stdout, "%s: %s done; the payment is now %s.\n", who, action, p.Status)
	if action == "approve" || action == "fail" {
		fmt.Fprintln(stdout, "The sandbox makes the transaction and completes the payment in a moment; webhooks follow.")
	}
	return nil
}

// orderFromDB reads one order from the checkout's database, which must exist already.
func orderFromDB(ctx context.Context, path string, id int64) (checkout.Order, error) {
	if _, err := os.Stat(path); err != nil {
		return checkout.Order{}, fmt.Errorf("no checkout database at %s (CHECKOUT_DB): %w", path, err)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return checkout.Order{}, err
	}
	defer db.Close()
	o, err := db.Order(ctx, id)
	if checkout.ErrorCode(err) == checkout.ENotFound {
		return o, errors.New("no order " + fmt.Sprint(id) + " in " + path)
	}
	return o, err
}
