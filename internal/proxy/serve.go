package proxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// ServeOptions configure the proxy process.
type ServeOptions struct {
	// Listen is the TCP address for app traffic, e.g. ":80".
	Listen string
	// Listener, if set, is used for app traffic instead of Listen (tests
	// pass one on port 0). Serve closes it.
	Listener net.Listener
	// ControlSocket is the unix socket path of the control API.
	ControlSocket string
	// StatePath is where the routing table is kept across restarts; empty
	// keeps it in memory only.
	StatePath string
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
	// MetricsListen, if set, is a TCP address serving GET /metrics (the
	// Prometheus text format, as on the control socket) for a user's
	// Prometheus; nothing else is served there.
	MetricsListen string
	// MetricsListener, if set, is used instead of MetricsListen (tests
	// pass one on port 0). Serve closes it.
	MetricsListener net.Listener
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish when ctx ends; 0 means 30s.
	ShutdownTimeout time.Duration
}

// Serve runs the proxy process until ctx ends: it loads the last table
// from StatePath, serves app traffic on Listen, the control API on
// ControlSocket (mode 0600) and, if set, metrics on MetricsListen; it
// saves every accepted table, runs health checks, and on ctx's end stops accepting and lets in-flight requests
// finish for up to ShutdownTimeout. It returns nil after a clean
// shutdown.
func Serve(ctx context.Context, opts ServeOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ControlSocket == "" {
		return errors.New("proxy: no control socket path; set ServeOptions.ControlSocket")
	}
	shutdownTimeout := opts.ShutdownTimeout
	if shutdownTimeout <= 0 {
		shutdownTimeout = 30 * time.Second
	}

	// Listeners passed in are Serve's to close, whatever happens.
	ln, metricsLn := opts.Listener, opts.MetricsListener
	var ctl net.Listener
	ok := false
	defer func() {
		if !ok {
			for _, l := range []net.Listener{ln, metricsLn, ctl} {
				if l != nil {
					_ = l.Close()
				}
			}
		}
	}()
	p, err := New(Options{Logger: log, StatePath: opts.StatePath})
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", opts.Listen); err != nil {
			return fmt.Errorf("listen for app traffic: %w", err)
		}
	}
	if ctl, err = listenControl(opts.ControlSocket); err != nil {
		return err
	}
	if metricsLn == nil && opts.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", opts.MetricsListen); err != nil {
			return fmt.Errorf("listen for metrics on %s: %w; choose a free address or leave it empty", opts.MetricsListen, err)
		}
	}
	ok = true

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	data := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
	}
	control := &http.Server{
		Handler:           p.ControlHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}

	servers := []*http.Server{data, control}
	var metrics *http.Server
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", p.MetricsHandler())
		metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		servers = append(servers, metrics)
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(runCtx) })
	failed := make(chan error, len(servers))
	serve := func(srv *http.Server, l net.Listener, what string) {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("serve %s on %s: %w", what, l.Addr(), err)
		}
	}
	wg.Go(func() { serve(data, ln, "app traffic") })
	wg.Go(func() { serve(control, ctl, "control API") })
	attrs := []any{"listen", ln.Addr().String(), "control", opts.ControlSocket, "version", p.snap.Load().table.Version}
	if metrics != nil {
		wg.Go(func() { serve(metrics, metricsLn, "metrics") })
		attrs = append(attrs, "metrics", metricsLn.Addr().String())
	}
	log.Info("proxy serving", attrs...)

	var result error
	select {
	case <-ctx.Done():
		log.Info("proxy shutting down", "cause", context.Cause(ctx))
	case result = <-failed:
		log.Error("proxy stopping", "err", result)
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := data.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing them", "timeout", shutdownTimeout, "err", err)
		_ = data.Close()
	}
	for _, srv := range servers[1:] {
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	stopRun()
	wg.Wait()
	return result
}

// listenControl listens on the unix socket at path with mode 0600; closing
// the listener removes the file. A socket file left by a dead proxy is
// removed; a live proxy answering on it is an error.
func listenControl(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: a file that is not a socket is in the way; remove it or choose another path", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("control socket %s: another proxy is running and answering on it; stop it first", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale control socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("restrict control socket %s to its owner: %w", path, err)
	}
	return ln, nil
}
