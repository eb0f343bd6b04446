package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/examples"
	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/controlplane"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

func newDemoCmd(g *globals) *cobra.Command {
	var keep bool
	var listen, proxyListen string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop on the example app: deploy, promote, a failed deploy, a good one, rollback, a canary aborted for a new error",
		Long: `demo starts a control plane with an embedded SQLite store in a temporary data dir, builds the
bundled example app (examples/hello, needs the go toolchain), deploys release 1 to staging,
promotes that same artifact to production, deploys a build whose health check fails (it never
gets traffic), deploys a good release, presses the undo button, and rolls out a canary whose
instances report a new error through the Sentry SDK: the error tracker aborts it. A client sends requests to
production through the proxy the whole time; the demo fails if any request fails.`,
		Args: exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, listen, proxyListen, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the server, proxy and app running to explore (Ctrl-C to stop)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "API address (port 0 picks a free one)")
	cmd.Flags().StringVar(&proxyListen, "proxy-listen", "", "proxy address (default: a free port on 127.0.0.1)")
	return cmd
}

// demo holds the demo's moving parts.
type demo struct {
	g         *globals
	c         *api.Client
	proxyAddr string
	work      string
	app       spec.App
	step      int
	steps     int
	failures  []string
}

func runDemo(ctx context.Context, g *globals, listen, proxyListen string, keep bool) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	total := time.Now()
	if proxyListen == "" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		proxyListen = addr
	}
	if listen == "127.0.0.1:0" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		listen = addr
	}
	dataDir, err := os.MkdirTemp("", "slipway-demo-*")
	if err != nil {
		return err
	}
	work := filepath.Join(dataDir, "src", "hello")
	if err := examples.UnpackHello(work); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dataDir, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	rs, err := startServer(ctx, serverConfig{dataDir: dataDir, listen: listen, proxyListen: proxyListen,
		logger: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	token, err := controlplane.ReadToken(dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Slipway demo: control plane on http://%s, proxy on %s, data in %s\n", rs.addr, proxyListen, dataDir)
	app, _, err := loadSpec(filepath.Join(work, "slipway.yaml"))
	if err != nil {
		return err
	}
	d := &demo{g: g, c: api.NewClient("http://"+rs.addr, token), proxyAddr: proxyListen, work: work, app: app, steps: 6}

	load := newLoad(proxyListen, app.Environments["production"].Host)
	err = d.run(ctx, load)
	load.stop()
	sent, failed, lastErr := load.result()
	fmt.Fprintf(g.stdout, "\nTraffic: %d requests to production through the proxy during the demo, %d failed", sent, failed)
	if lastErr != "" {
		fmt.Fprintf(g.stdout, " (last error: %s)", lastErr)
	}
	fmt.Fprintln(g.stdout)
	if failed > 0 {
		d.failures = append(d.failures, fmt.Sprintf("%d requests failed during deploys", failed))
	}
	if err == nil && len(d.failures) == 0 {
		fmt.Fprintf(g.stdout, "Demo passed: %d steps in %s.\n", d.steps, time.Since(total).Round(time.Millisecond))
	}
	if keep && err == nil {
		fmt.Fprintf(g.stdout, "\nEverything keeps running (Ctrl-C to stop). Try:\n  export SLIPWAY_SERVER=http://%s SLIPWAY_DATA=%s\n"+
			"  go run ./cmd/slipway status hello --env production\n  go run ./cmd/slipway releases hello --env production\n"+
			"  go run ./cmd/slipway errors list hello --env production\n"+
			"  curl -H 'Host: %s' http://%s/\n", rs.addr, dataDir, app.Environments["production"].Host, proxyListen)
		<-ctx.Done()
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	terr := rs.cp.Teardown(tctx)
	serr := rs.stop()
	if !keep {
		os.RemoveAll(dataDir)
	}
	if err != nil {
		return err
	}
	if len(d.failures) > 0 {
		return fmt.Errorf("demo failed: %s", strings.Join(d.failures, "; "))
	}
	return errors.Join(terr, serr)
}

func (d *demo) run(ctx context.Context, load *load) error {
	prod, staging := d.app.Environments["production"].Host, d.app.Environments["staging"].Host

	if err := d.do(ctx, "deploy v1 to staging", staging, "v1", true, func() (store.Rollout, error) {
		return d.deploy(ctx, "staging", "v1", true)
	}); err != nil {
		return err
	}
	if err := d.do(ctx, "promote the same artifact to production", prod, "v1", true, func() (store.Rollout, error) {
		res, err := d.c.Promote(ctx, "hello", "staging", "production")
		if err == nil && res.Rollout == nil {
			err = fmt.Errorf("promotion %d waits for approvals", res.Pending.ID)
		}
		if err != nil {
			return store.Rollout{}, err
		}
		return *res.Rollout, nil
	}); err != nil {
		return err
	}
	load.start()
	if err := d.do(ctx, "deploy a build whose health check fails", prod, "v1", false, func() (store.Rollout, error) {
		return d.deploy(ctx, "production", "v2-broken", false)
	}); err != nil {
		return err
	}
	if err := d.do(ctx, "deploy v2 to production", prod, "v2", true, func() (store.Rollout, error) {
		return d.deploy(ctx, "production", "v2", true)
	}); err != nil {
		return err
	}
	if err := d.do(ctx, "undo: slipway rollback hello --env production", prod, "v1", true, func() (store.Rollout, error) {
		return d.c.Rollback(ctx, "hello", "production", 0)
	}); err != nil {
		return err
	}
	return d.do(ctx, "canary v3 raises a new error: aborted", prod, "v1", false, func() (store.Rollout, error) {
		return d.deployWithError(ctx)
	})
}

// deployWithError deploys v3 to production as a canary whose instances
// report a new kind of error through the Sentry SDK (while answering every
// request): the error tracker's judge aborts it, naming the issue.
func (d *demo) deployWithError(ctx context.Context) (store.Rollout, error) {
	app := d.app
	app.Environments = maps.Clone(d.app.Environments)
	prod := app.Environments["production"]
	prod.Config = maps.Clone(prod.Config)
	if prod.Config == nil {
		prod.Config = map[string]string{}
	}
	prod.Config["HELLO_ERROR_RATE"], prod.Config["HELLO_ERROR_KIND"] = "0.2", "checkout"
	weight := 50
	prod.Rollout = spec.Rollout{Strategy: spec.StrategyCanary,
		Steps:    []spec.Step{{Weight: &weight}, {Analysis: spec.Duration(30 * time.Second)}},
		Analysis: spec.Analysis{Interval: spec.Duration(250 * time.Millisecond), MinRequests: 20}}
	app.Environments["production"] = prod
	src := "package main\n\nconst version = \"v3\"\n\nconst healthy = true\n"
	if err := os.WriteFile(filepath.Join(d.work, "release.go"), []byte(src), 0o644); err != nil {
		return store.Rollout{}, err
	}
	return deploy(ctx, d.c, app, d.work, "production", io.Discard)
}

// do runs one step, waits for its rollout, checks the outcome and what the
// proxy serves, and prints one line.
func (d *demo) do(ctx context.Context, name, host, wantVersion string, wantSuccess bool, fn func() (store.Rollout, error)) error {
	d.step++
	started := time.Now()
	ro, err := fn()
	if err != nil {
		return fmt.Errorf("step %d (%s): %w", d.step, name, err)
	}
	res, err := wait(ctx, d.c, ro, started)
	if err != nil {
		return fmt.Errorf("step %d (%s): %w", d.step, name, err)
	}
	ro = res.Rollout
	body, gerr := get(d.proxyAddr, host)
	mark, note := "✓", ""
	switch {
	case wantSuccess && ro.State != store.RolloutSucceeded:
		mark, note = "✗", "expected success, got "+ro.State+": "+ro.Reason
	case !wantSuccess && ro.State != store.RolloutFailed && ro.State != store.RolloutAborted:
		mark, note = "✗", "expected the deploy to fail, got "+ro.State
	case gerr != nil:
		mark, note = "✗", "request through the proxy failed: "+gerr.Error()
	case !strings.Contains(body, "["+wantVersion+"]"):
		mark, note = "✗", fmt.Sprintf("expected %s to serve %s, got %q", host, wantVersion, strings.TrimSpace(body))
	case !wantSuccess:
		note = "failed as expected: " + ro.Reason + "; " + wantVersion + " kept serving"
	default:
		note = fmt.Sprintf("release %d live, serving %s", ro.ToRelease, wantVersion)
	}
	fmt.Fprintf(d.g.stdout, "%s [%d/%d] %-48s %7s  %s\n      curl -H 'Host: %s' http://%s/\n", mark, d.step, d.steps, name,
		res.Elapsed.Round(time.Millisecond), note, host, d.proxyAddr)
	if mark != "✓" {
		d.failures = append(d.failures, fmt.Sprintf("step %d (%s): %s", d.step, name, note))
	}
	return nil
}

// deploy edits the example's release.go as a developer would, then builds
// and deploys it.
func (d *demo) deploy(ctx context.Context, env, version string, healthy bool) (store.Rollout, error) {
	src := fmt.Sprintf("package main\n\nconst version = %q\n\nconst healthy = %v\n", version, healthy)
	if err := os.WriteFile(filepath.Join(d.work, "release.go"), []byte(src), 0o644); err != nil {
		return store.Rollout{}, err
	}
	return deploy(ctx, d.c, d.app, d.work, env, io.Discard)
}

// freeAddr finds a free loopback port below the kernel's ephemeral range
// (32768 and up on Linux), so that neither an outgoing connection nor
// another listener on port 0 takes it between now and its use.
func freeAddr() (string, error) {
	for range 50 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mrand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free port on 127.0.0.1 between 20000 and 32000")
}

var demoClient = &http.Client{Timeout: 5 * time.Second}

func get(proxyAddr, host string) (string, error) {
	req, err := http.NewRequest("GET", "http://"+proxyAddr+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	resp, err := demoClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(body), fmt.Errorf("status %s", resp.Status)
	}
	return string(body), err
}

// load sends requests to one host through the proxy, counting failures.
type load struct {
	proxyAddr, host string
	sent, failed    atomic.Int64
	mu              sync.Mutex
	lastErr         string
	cancel          context.CancelFunc
	wg              sync.WaitGroup
}

func newLoad(proxyAddr, host string) *load { return &load{proxyAddr: proxyAddr, host: host} }

func (l *load) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				_, err := get(l.proxyAddr, l.host)
				l.sent.Add(1)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.lastErr = err.Error()
					l.mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
}

func (l *load) stop() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

func (l *load) result() (sent, failed int64, lastErr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent.Load(), l.failed.Load(), l.lastErr
}
