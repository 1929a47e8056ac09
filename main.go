// Command checkout is the Banq merchant checkout: merchants create orders, customers follow a
// payment link that updates live as Banq's webhooks arrive. `checkout help` lists its
// subcommands, flags and environment variables.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/banq/sandbox"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "checkout:", err)
		os.Exit(1)
	}
}

// version is the release, stamped at build time (-ldflags "-X main.version=v1.2.3"); without
// it, the module version Go recorded is shown.
var version string

// usage lists the subcommands; app.WriteUsage adds the flags and variables.
const usage = `Banq merchant checkout.

Usage:
  checkout serve [flags]       serve the checkout (the default; on the built-in sandbox without
                               Banq credentials)
  checkout sandbox             run the Banq sandbox alone
  checkout sandbox trigger ACTION --order N
                               drive an order's sandbox payment (approve, decline, ...)
  checkout user add EMAIL      add a merchant user (password from the terminal or stdin)
  checkout endpoint add URL    add a notification endpoint of the shop's; prints its signing secret
  checkout endpoint list       list the notification endpoints
  checkout key create NAME [-scopes orders:read,orders:write,endpoints:write]
                               make an API key for the shop's software; prints it, once
  checkout key list            list the API keys by their prefix
  checkout backup FILE         write a consistent copy of the database while it runs
  checkout healthcheck         exit 0 if the checkout on this machine answers /healthz (containers)
  checkout version             print the version and the revision it was built from
  checkout help                print this help (also -h)

`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	err := dispatch(ctx, cmd, args, getenv, stdin, stdout, stderr)
	if !errors.Is(err, flag.ErrHelp) {
		return err
	}
	// Asked for help: not a failure. A subcommand with flags of its own has listed them.
	switch cmd {
	case "", "serve", "help":
		fmt.Fprint(stdout, usage)
		app.WriteUsage(stdout)
	}
	return nil
}

func dispatch(ctx context.Context, cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch cmd {
	case "help":
		return flag.ErrHelp
	case "version":
		bi, _ := debug.ReadBuildInfo()
		printVersion(stdout, version, bi)
		return nil
	case "", "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "sandbox":
		if len(args) > 0 && args[0] == "trigger" {
			return sandboxTrigger(ctx, args[1:], getenv, stdout, stderr)
		}
		return sandbox.Run(ctx, args, getenv, stdout, stderr)
	case "user":
		return userCommand(ctx, args, getenv, stdin, stdout, stderr)
	case "endpoint":
		return endpointCommand(ctx, args, getenv, stdout, stderr)
	case "key":
		return keyCommand(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (want serve, sandbox, user add, endpoint, key, backup, healthcheck, version or help)", cmd)
}

// printVersion prints the version (stamped, else the module's), the VCS revision and time the
// binary was built from when Go recorded them (a build inside a git checkout), and Go's version.
func printVersion(w io.Writer, stamped string, bi *debug.BuildInfo) {
	v, rev, at, modified := stamped, "", "", false
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	fmt.Fprintf(w, "checkout %s\n", cmp.Or(v, "(devel)"))
	if rev != "" {
		if modified {
			rev += " (modified)"
		}
		fmt.Fprintf(w, "revision %s %s\n", rev, at)
	}
	fmt.Fprintln(w, runtime.Version())
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := app.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// openDB opens the database named by CHECKOUT_DB (or -db in args).
func openDB(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (*store.DB, error) {
	cfg, err := app.ParseConfig(args, getenv, stderr)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, cfg.DB)
}

// userCommand adds a merchant user: `checkout user add EMAIL`.
func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "add" || !strings.Contains(args[1], "@") {
		return errors.New("usage: checkout user add EMAIL (the password is read from the terminal or stdin)")
	}
	email := args[1]
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	if len([]rune(password)) < 10 || len(password) > 72 {
		return errors.New("the password must have 10 to 72 characters")
	}
	db, err := openDB(ctx, args[2:], getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	u, err := db.CreateUser(ctx, checkout.User{Email: email, PasswordHash: hash})
	if checkout.ErrorCode(err) == checkout.EConflict {
		return fmt.Errorf("a user %s exists already", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added user %d: %s\n", u.ID, u.Email)
	return nil
}

func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// backup writes a consistent copy of the database: `checkout backup FILE`.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: checkout backup FILE")
	}
	db, err := openDB(ctx, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", db.Path(), args[0])
	return nil
}

// healthcheck asks the checkout listening on CHECKOUT_ADDR (or -addr) on this machine for
// /healthz and returns an error unless it answers 200 in time: `checkout healthcheck`. It is the
// container's HEALTHCHECK, so the runtime image needs no curl.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checkout healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", cmp.Or(strings.TrimSpace(getenv("CHECKOUT_ADDR")), ":8080"), "the checkout's listen address (CHECKOUT_ADDR)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("healthcheck: CHECKOUT_ADDR=%q is not host:port", *addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: loopback is one of them
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
