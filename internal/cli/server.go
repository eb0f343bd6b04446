package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/controlplane"
	"github.com/slipway-dev/slipway/internal/driver/process"
	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/proxy"
)

// serverConfig is what `slipway server` and `slipway demo` start.
type serverConfig struct {
	dataDir      string
	listen       string
	proxyListen  string
	proxyMetrics string
	secretsKey   string
	publicURL    string
	errors       errortrack.Options
	logger       *slog.Logger
}

// runningServer is a control plane serving its API.
type runningServer struct {
	cp     *controlplane.ControlPlane
	http   *http.Server
	addr   string
	served chan error
}

// startServer wires the process driver and the control plane, recovers, and
// serves the API. The proxy and shims are this same binary, re-executed.
func startServer(ctx context.Context, cfg serverConfig) (*runningServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	drv, err := process.New(process.Options{
		Dir:         cfg.dataDir,
		ShimCommand: []string{exe, "process-shim"},
		Logger:      cfg.logger,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("listen for the API on %s: %w (is another server running? pick another --listen)", cfg.listen, err)
	}
	publicURL := cfg.publicURL
	if publicURL == "" {
		publicURL = "http://" + reachableAddr(ln.Addr())
	}
	cp, err := controlplane.Open(ctx, controlplane.Options{
		DataDir: cfg.dataDir, ProxyListen: cfg.proxyListen, ProxyMetricsListen: cfg.proxyMetrics,
		ProxyCommand: []string{exe, "proxy"}, Driver: drv, Logger: cfg.logger, SecretsKey: cfg.secretsKey,
		PublicURL: publicURL, Errors: cfg.errors,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := cp.Start(ctx); err != nil {
		ln.Close()
		cp.Close()
		return nil, err
	}
	rs := &runningServer{cp: cp, addr: ln.Addr().String(), served: make(chan error, 1),
		http: &http.Server{Handler: cp.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { rs.served <- rs.http.Serve(ln) }()
	return rs, nil
}

// reachableAddr is addr as a client dials it: a wildcard listen address
// (0.0.0.0, ::) becomes loopback.
func reachableAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// stop shuts the API down and closes the control plane; the proxy and the
// instances keep running.
func (rs *runningServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := rs.http.Shutdown(ctx)
	return errors.Join(err, rs.cp.Close())
}

func newServerCmd(g *globals) *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API, rollouts) and start the proxy if it is not running",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.dataDir = g.dataDir
			if cfg.errors.RateLimit <= 0 || cfg.errors.Retention <= 0 || cfg.errors.Samples < 1 {
				return usagef("--errors-rate and --errors-retention must be greater than 0 and --errors-samples at least 1")
			}
			cfg.logger = slog.New(slog.NewTextHandler(g.stderr, nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			rs, err := startServer(ctx, cfg)
			if err != nil {
				return err
			}
			cfg.logger.Info("slipway server ready", "api", "http://"+rs.addr, "proxy", cfg.proxyListen,
				"data", cfg.dataDir, "token_file", filepath.Join(cfg.dataDir, controlplane.TokenFile))
			select {
			case <-ctx.Done():
			case err := <-rs.served:
				return err
			}
			cfg.logger.Info("shutting down; the proxy and instances keep serving")
			return rs.stop()
		},
	}
	cmd.Flags().StringVar(&cfg.listen, "listen", "127.0.0.1:7070", "address of the API")
	cmd.Flags().StringVar(&cfg.proxyListen, "proxy-listen", "127.0.0.1:8080", "address the proxy serves apps on")
	cmd.Flags().StringVar(&cfg.proxyMetrics, "proxy-metrics-listen", "", "address where the proxy serves GET /metrics for Prometheus (default: only on its control socket)")
	cmd.Flags().StringVar(&cfg.publicURL, "public-url", "", "URL apps and browsers reach this server at, used in the DSNs instances get as SENTRY_DSN (default: http:// and the --listen address)")
	cmd.Flags().Float64Var(&cfg.errors.RateLimit, "errors-rate", 500, "error events per second each DSN may send before getting 429")
	cmd.Flags().DurationVar(&cfg.errors.Retention, "errors-retention", 30*24*time.Hour, "how long error events, and issues not seen again, are kept")
	cmd.Flags().IntVar(&cfg.errors.Samples, "errors-samples", 100, "events kept per error issue (the newest)")
	cmd.Flags().StringVar(&cfg.secretsKey, "secrets-key", "", "file holding the key that encrypts secrets at rest (default DATA/secrets.key, created on first start; back it up apart from the database)")
	return cmd
}

func newProxyCmd() *cobra.Command {
	var opts proxy.ServeOptions
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the data plane: the reverse proxy (started by the server when not running)",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ControlSocket == "" || opts.StatePath == "" {
				return usagef("slipway proxy needs --control and --state")
			}
			opts.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return proxy.Serve(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address to serve apps on")
	cmd.Flags().StringVar(&opts.ControlSocket, "control", "", "unix socket the control plane feeds routes on")
	cmd.Flags().StringVar(&opts.StatePath, "state", "", "file that keeps the last routing table across restarts")
	cmd.Flags().StringVar(&opts.MetricsListen, "metrics-listen", "", "also serve GET /metrics (Prometheus format) on this TCP address, for your Prometheus")
	return cmd
}

func newShimCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "process-shim",
		Short:              "Supervise one instance (run by the process driver)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return process.RunShim(cmd.Context(), args)
		},
	}
}
