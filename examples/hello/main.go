// Command hello is Slipway's example app: a small HTTP service that says
// which release it is, answers a health check, and shuts down gracefully so
// in-flight requests finish when Slipway stops it.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/getsentry/sentry-go"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello"
	}
	// HELLO_STARTUP_DELAY makes the app slow to start (e.g. "3s"), to
	// exercise deploys that are interrupted before they switch.
	if d, err := time.ParseDuration(os.Getenv("HELLO_STARTUP_DELAY")); err == nil && d > 0 {
		time.Sleep(d)
	}
	// Switches to misbehave on purpose, for canary analysis:
	//   HELLO_FAIL_RATE=0.5   answer 500 to that fraction of requests
	//   HELLO_DELAY=20ms      add that latency to every request
	//   HELLO_CRASH_AFTER=3s  exit(1) that long after starting
	//   HELLO_PRINT_SECRET=K  print the value of variable K at startup
	//                         (its logs must show it redacted)
	failRate, _ := strconv.ParseFloat(os.Getenv("HELLO_FAIL_RATE"), 64)
	delay, _ := time.ParseDuration(os.Getenv("HELLO_DELAY"))
	if d, err := time.ParseDuration(os.Getenv("HELLO_CRASH_AFTER")); err == nil && d > 0 {
		time.AfterFunc(d, func() {
			log.Printf("hello %s: crashing on purpose (HELLO_CRASH_AFTER=%s)", version, d)
			os.Exit(1)
		})
	}
	printSecret(os.Getenv("HELLO_PRINT_SECRET"))
	// Errors go to Slipway's error tracker through the official Sentry
	// SDK: Slipway gives every instance SENTRY_DSN, SENTRY_RELEASE and
	// SENTRY_ENVIRONMENT, which the SDK reads by itself.
	//   HELLO_ERROR_RATE=0.2     report an error on that fraction of
	//                            requests (the answer stays 200)
	//   HELLO_ERROR_KIND=K       which error: checkout, inventory or panic
	//                            (a recovered panic, answered 500)
	if os.Getenv("SENTRY_DSN") != "" {
		if err := sentry.Init(sentry.ClientOptions{}); err != nil {
			log.Printf("hello %s: sentry: %v", version, err)
		}
		defer sentry.Flush(2 * time.Second)
	}
	errorRate, _ := strconv.ParseFloat(os.Getenv("HELLO_ERROR_RATE"), 64)
	errorKind := os.Getenv("HELLO_ERROR_KIND")
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/secret", debugSecret)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil && d > 0 && d <= 30*time.Second {
			time.Sleep(d)
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		if errorRate > 0 && rand.Float64() < errorRate {
			if !reportError(w, errorKind) {
				return
			}
		}
		if failRate > 0 && rand.Float64() < failRate {
			http.Error(w, fmt.Sprintf("%s [%s] failing on purpose", greeting, version), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s [%s] pid %d\n", greeting, version, os.Getpid())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy {
			http.Error(w, "not healthy: this build is broken on purpose", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Printf("hello %s: shutting down, finishing in-flight requests", version)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	log.Printf("hello %s listening on %s", version, srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
		sentry.Flush(2 * time.Second)
		os.Exit(1)
	}
}

// checkoutError and inventoryError are two kinds of failure the app
// reports; each groups into an issue of its own.
type checkoutError struct{ order int }

func (e *checkoutError) Error() string {
	return fmt.Sprintf("checkout of order %d failed: card declined", e.order)
}

type inventoryError struct{ sku string }

func (e *inventoryError) Error() string {
	return fmt.Sprintf("inventory lookup for %s timed out", e.sku)
}

// reportError reports one error of kind to the tracker; it returns false
// when it answered the request itself (a recovered panic: 500).
func reportError(w http.ResponseWriter, kind string) (ok bool) {
	switch kind {
	case "inventory":
		sentry.CaptureException(lookupInventory(fmt.Sprintf("SKU-%d", rand.IntN(1000))))
	case "panic":
		defer func() {
			if v := recover(); v != nil {
				sentry.CurrentHub().Recover(v)
				http.Error(w, "internal error", http.StatusInternalServerError)
				ok = false
			}
		}()
		applyDiscount(nil)
	default:
		sentry.CaptureException(checkout(rand.IntN(100000)))
	}
	return true
}

func checkout(order int) error { return &checkoutError{order: order} }

func lookupInventory(sku string) error { return &inventoryError{sku: sku} }

// applyDiscount dereferences a nil map entry on purpose.
func applyDiscount(prices map[string]*float64) float64 { return *prices["total"] * 0.9 }

// debugSecret says whether a secret reached the app and its sha256, never
// its value: ?name=K for environment variable K, ?file=P for file P
// (relative to the working directory).
func debugSecret(w http.ResponseWriter, r *http.Request) {
	if name := r.URL.Query().Get("name"); name != "" {
		v, ok := os.LookupEnv(name)
		if !ok {
			fmt.Fprintf(w, "env %s: unset\n", name)
			return
		}
		fmt.Fprintf(w, "env %s: set sha256:%x\n", name, sha256.Sum256([]byte(v)))
		return
	}
	path := r.URL.Query().Get("file")
	fi, err := os.Stat(path)
	if path == "" || err != nil {
		fmt.Fprintf(w, "file %s: missing\n", path)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		http.Error(w, fmt.Sprintf("file %s: unreadable", path), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "file %s: mode %#o sha256:%x\n", path, fi.Mode().Perm(), sha256.Sum256(data))
}

// printSecret prints the value of variable name to stderr, on purpose, in
// two writes a little apart, so that Slipway's log redaction is tested on
// a value that arrives in pieces.
func printSecret(name string) {
	v := os.Getenv(name)
	if name == "" || v == "" {
		return
	}
	fmt.Fprintf(os.Stderr, "hello %s: printing secret %s on purpose: %s", version, name, v[:len(v)/2])
	time.Sleep(50 * time.Millisecond)
	fmt.Fprintf(os.Stderr, "%s (end)\n", v[len(v)/2:])
}
