// Package controlplane is Slipway's composition root: it wires the store,
// the driver, the proxy and the rollout executor, serves the API, recovers
// interrupted rollouts on start, and owns every background goroutine.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/proxy"
	"github.com/slipway-dev/slipway/internal/rollout"
	"github.com/slipway-dev/slipway/internal/store"
)

// Options configure a control plane.
type Options struct {
	// DataDir holds the database, artifacts, the token file, instance
	// files and the proxy's socket and state.
	DataDir string
	// ProxyListen is where the proxy serves traffic (127.0.0.1:8080).
	ProxyListen string
	// ProxyMetricsListen, if set, is where the proxy serves /metrics.
	ProxyMetricsListen string
	// ProxyCommand is the argv that runs `slipway proxy`; the control plane
	// appends --listen, --control and --state.
	ProxyCommand []string
	// RunConcurrency is how many pipeline runs execute at once; the others
	// wait in a queue. Default DefaultRunConcurrency.
	RunConcurrency int
	// Driver runs instances.
	Driver driver.Driver
	Logger *slog.Logger
	// SecretsKey is the file holding the key that encrypts secrets at rest.
	// Default DataDir/secrets.key.
	SecretsKey string
	// PublicURL is where apps reach this server's API (http://127.0.0.1:7700):
	// the host of the DSNs instances get as SENTRY_DSN. Empty: instances
	// get no SENTRY_* variables.
	PublicURL string
	// Errors tunes the error tracker (rate limit, queue, retention);
	// its Store, Logger and Notify are set by the control plane.
	Errors errortrack.Options
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	opts   Options
	store  *store.Store
	driver driver.Driver
	proxy  *proxy.Client
	router *router
	exec   *rollout.Executor
	runs   *runQueue // pipeline runs (runs.go)
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	controls map[int64]*rollout.Control // running rollouts this process executes

	secrets *keyring // the secrets key (secrets.go)

	triggers *triggers // git polling, webhooks and what their runs do (triggers.go)

	errStore *store.ErrorStore   // errors.db (errortrack.go)
	errors   *errortrack.Tracker // Sentry-compatible ingest, issues, the judge's error checks
}

// TokenFile is the name of the admin token file inside the data dir.
const TokenFile = "token"

// Open prepares the data dir, opens the store and makes sure an admin token
// exists. Call Start to recover state and begin serving.
func Open(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Driver == nil {
		return nil, errors.New("control plane: no driver configured")
	}
	for _, dir := range []string{opts.DataDir, filepath.Join(opts.DataDir, "artifacts", "sha256"), filepath.Join(opts.DataDir, "artifacts", "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("prepare data dir: %w", err)
		}
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(opts.DataDir, "slipway.db"))
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{opts: opts, store: st, driver: opts.Driver, log: opts.Logger,
		proxy: proxy.NewClient(filepath.Join(opts.DataDir, "proxy.sock")), controls: map[int64]*rollout.Control{}}
	if err := cp.ensureToken(ctx); err != nil {
		st.Close()
		return nil, err
	}
	cp.router = &router{store: st, proxy: cp.proxy, log: opts.Logger}
	cp.exec = &rollout.Executor{
		Store: st, Runtime: opts.Driver, Router: cp.router, Meter: cp.router, Logger: opts.Logger,
		Gate:     rollout.Gate{Client: &http.Client{}, Status: opts.Driver.Status},
		Smoke:    &rollout.Smoke{ProxyAddr: opts.ProxyListen, Client: &http.Client{}},
		Artifact: cp.artifactPath,
	}
	cp.runs = newRunQueue(st, newPipelineRunner(opts.DataDir, cp, opts.Logger), filepath.Join(opts.DataDir, "runs"), opts.RunConcurrency, opts.Logger)
	cp.triggers = newTriggers(cp)
	cp.OnRunFinished(cp.triggers.runFinished)
	if err := cp.openSecrets(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := cp.openErrors(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return cp, nil
}

// Start makes sure the proxy runs, recovers instances and rollouts left by
// an earlier process, publishes routes and starts the background loops.
func (cp *ControlPlane) Start(ctx context.Context) error {
	cp.ctx, cp.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	if err := cp.ensureProxy(ctx); err != nil {
		return err
	}
	if err := cp.recover(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if err := cp.startRuns(ctx); err != nil {
		return fmt.Errorf("recover runs: %w", err)
	}
	cp.triggers.start()
	cp.wg.Go(func() { cp.errors.Run(cp.ctx) })
	cp.goLoop("proxy watchdog", time.Second, cp.watchProxy)
	cp.goLoop("warm reaper", 2*time.Second, cp.reapWarm)
	return nil
}

// Handler is the API handler.
func (cp *ControlPlane) Handler() http.Handler {
	return cp.ingestHandler(api.NewHandler(cp, cp.log))
}

// Store exposes the store (for tests and the demo's summary).
func (cp *ControlPlane) Store() *store.Store { return cp.store }

// Close stops background work, waits for it, and closes the store. It
// leaves the proxy and the instances running: the data plane outlives the
// control plane. Rollouts in progress are left for the next Start.
func (cp *ControlPlane) Close() error {
	if cp.cancel != nil {
		cp.cancel(errors.New("control plane shutting down"))
	}
	cp.wg.Wait()
	return errors.Join(cp.errStore.Close(), cp.store.Close())
}

// goLoop runs fn every interval until Close.
func (cp *ControlPlane) goLoop(name string, every time.Duration, fn func(context.Context)) {
	cp.wg.Add(1)
	go func() {
		defer cp.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-cp.ctx.Done():
				return
			case <-t.C:
				fn(cp.ctx)
			}
		}
	}()
}

func (cp *ControlPlane) artifactPath(digest string) string {
	return filepath.Join(cp.opts.DataDir, "artifacts", "sha256", strings.TrimPrefix(digest, "sha256:")+".tar.gz")
}

// runRollout executes a rollout in the background, owned by cp, with a
// Control for `slipway rollout promote|pause|resume|abort`.
func (cp *ControlPlane) runRollout(ro store.Rollout, rel store.Release) {
	ctl := rollout.NewControl()
	cp.mu.Lock()
	cp.controls[ro.ID] = ctl
	cp.mu.Unlock()
	cp.wg.Add(1)
	go func() {
		defer cp.wg.Done()
		defer func() {
			cp.mu.Lock()
			delete(cp.controls, ro.ID)
			cp.mu.Unlock()
		}()
		_, err := cp.exec.Run(cp.ctx, ro, rel, ctl)
		if err != nil && !errors.Is(err, rollout.ErrInterrupted) {
			cp.log.Error("rollout", "rollout", ro.ID, "app", ro.App, "env", ro.Env, "err", err)
			if ferr := cp.store.FinishRollout(context.WithoutCancel(cp.ctx), ro.ID, store.RolloutFailed, err.Error()); ferr != nil {
				cp.log.Error("record failed rollout", "rollout", ro.ID, "err", ferr)
			}
		}
	}()
}

// control finds the Control of the running rollout of (app, env).
func (cp *ControlPlane) control(ctx context.Context, app, env string) (store.Rollout, *rollout.Control, error) {
	ro, err := cp.store.RunningRollout(ctx, app, env)
	if err != nil {
		return ro, nil, err
	}
	cp.mu.Lock()
	ctl := cp.controls[ro.ID]
	cp.mu.Unlock()
	if ctl == nil {
		return ro, nil, fmt.Errorf("rollout %d is being recovered after a restart; try again in a few seconds: %w", ro.ID, store.ErrConflict)
	}
	return ro, ctl, nil
}
