package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/banq-checkout/checkout/checkout"
)

// keyCommand makes the shop's API keys from the command line, as `make shop` and operators
// want: `checkout key create NAME [-scopes orders:read,orders:write]` prints the key once (only
// its hash is kept); `checkout key list` shows each key by its prefix, never the key.
func keyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: checkout key create NAME [-scopes " + checkout.ScopeOrdersRead + "," + checkout.ScopeOrdersWrite + ",...], or checkout key list"
	if len(args) == 0 {
		return errors.New(usage)
	}
	verb, args := args[0], args[1:]
	var name string
	switch verb {
	case "create":
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return errors.New(usage)
		}
		name, args = args[0], args[1:]
	case "list":
	default:
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("checkout key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scopes := fs.String("scopes", checkout.ScopeOrdersRead+","+checkout.ScopeOrdersWrite,
		"comma-separated scopes: "+strings.Join(checkout.Scopes, ", "))
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openDB(ctx, fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if verb == "list" {
		keys, err := db.APIKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			state := "active"
			if k.Revoked() {
				state = "revoked"
			}
			fmt.Fprintf(stdout, "%s…\t%s\t%s\t%s\n", k.Prefix, k.Name, strings.Join(k.Scopes, ","), state)
		}
		return nil
	}
	key, k, err := checkout.NewAPIKey(name, strings.Split(*scopes, ","))
	if err != nil {
		return invalidInput(err)
	}
	if _, err := db.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %s\n", key)
	return nil
}
