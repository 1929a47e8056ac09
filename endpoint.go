package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/store"
)

// endpointCommand keeps the shop's notification endpoints from the command line, as operators
// and `make shop` want: `checkout endpoint add URL [-types t1,t2] [-description text]` prints
// the new endpoint's id and its signing secret (shown only here); `checkout endpoint list`.
func endpointCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: checkout endpoint add URL [-types order.paid,...] [-description TEXT], or checkout endpoint list"
	if len(args) == 0 {
		return errors.New(usage)
	}
	verb, args := args[0], args[1:]
	var url string
	if verb == "add" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return errors.New(usage)
		}
		url, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("checkout endpoint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	types := fs.String("types", "", "comma-separated event types (default: all)")
	desc := fs.String("description", "", "what the endpoint is")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := app.ParseConfig(fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	m := notify.NewManager(db, app.NotifyPolicy(cfg), nil, nil)
	switch verb {
	case "add":
		in := notify.Input{URL: url, Description: *desc}
		if *types != "" {
			in.Types = strings.Split(*types, ",")
		}
		e, err := m.Create(ctx, in)
		if err != nil {
			return invalidInput(err)
		}
		fmt.Fprintf(stdout, "endpoint %d %s\nsecret %s\n", e.ID, e.URL, e.Secret)
		return nil
	case "list":
		eps, err := m.Endpoints(ctx)
		if err != nil {
			return err
		}
		for _, e := range eps {
			state := "enabled"
			if !e.Enabled {
				state = "disabled " + e.DisabledReason
			}
			types := "all"
			if len(e.Types) > 0 {
				types = strings.Join(e.Types, ",")
			}
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\n", e.ID, e.URL, types, state)
		}
		return nil
	}
	return errors.New(usage)
}

// invalidInput spells out an EInvalid error's fields, which a form would show beside its inputs.
func invalidInput(err error) error {
	var ce *checkout.Error
	if !errors.As(err, &ce) || len(ce.Fields) == 0 {
		return err
	}
	var parts []string
	for f, msg := range ce.Fields {
		parts = append(parts, f+": "+msg)
	}
	sort.Strings(parts)
	return errors.New(strings.Join(parts, "; "))
}
