// Command shop runs the example web shop (package shop) beside the checkout.
//
//	SHOP_ADDR             where the shop listens (127.0.0.1:8090)
//	CHECKOUT_URL          the checkout (http://localhost:8080)
//	SHOP_API_KEY          an API key with orders:write and orders:read
//	SHOP_WEBHOOK_SECRET   the signing secret of the shop's notification endpoint (whsec_…)
//
// `make shop` sets all of them up against `make run`'s sandbox checkout.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/banq-checkout/checkout/examples/shop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg := shop.Config{
		Checkout: getenv("CHECKOUT_URL"), APIKey: getenv("SHOP_API_KEY"), Secret: getenv("SHOP_WEBHOOK_SECRET"),
	}
	addr := getenv("SHOP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	if cfg.Checkout == "" {
		cfg.Checkout = "http://localhost:8080"
	}
	if cfg.APIKey == "" || cfg.Secret == "" {
		return errors.New("set SHOP_API_KEY and SHOP_WEBHOOK_SECRET (make shop does it for the sandbox)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	cfg.Public = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: shop.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	slog.Info("the example shop", "url", cfg.Public, "checkout", cfg.Checkout,
		"notifications", cfg.Public+"/checkout-events")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
