package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"log/slog"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/proxy"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// ensureProxy makes sure a proxy process answers on the control socket,
// starting one (detached, so it outlives this process) if none does.
func (cp *ControlPlane) ensureProxy(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := cp.proxy.Ping(pctx)
	cancel()
	if err == nil {
		return nil
	}
	if len(cp.opts.ProxyCommand) == 0 {
		return fmt.Errorf("proxy is not running and no proxy command is configured: %w", err)
	}
	logPath := filepath.Join(cp.opts.DataDir, "proxy.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start proxy: %w", err)
	}
	defer logFile.Close()
	args := append(append([]string{}, cp.opts.ProxyCommand[1:]...),
		"--listen", cp.opts.ProxyListen,
		"--control", filepath.Join(cp.opts.DataDir, "proxy.sock"),
		"--state", filepath.Join(cp.opts.DataDir, "proxy-table.json"))
	if cp.opts.ProxyMetricsListen != "" {
		args = append(args, "--metrics-listen", cp.opts.ProxyMetricsListen)
	}
	cmd := exec.Command(cp.opts.ProxyCommand[0], args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps the proxy if it dies while we live
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("proxy exited at start (%v): %s", err, lastLines(logPath, 5))
		case <-time.After(50 * time.Millisecond):
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := cp.proxy.Ping(pctx)
		cancel()
		if err == nil {
			// Only a proxy that answers owns the pid file: a restart attempt
			// that exits (the port still held by a stalled proxy) must not
			// overwrite it with a dead pid.
			pidFile := filepath.Join(cp.opts.DataDir, "proxy.pid")
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
				cp.log.Warn("write proxy pid file", "err", err)
			}
			cp.log.Info("proxy started", "pid", cmd.Process.Pid, "listen", cp.opts.ProxyListen)
			return nil
		}
	}
	cmd.Process.Kill()
	return fmt.Errorf("proxy did not answer within 10s; see %s", logPath)
}

func lastLines(path string, n int) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// watchProxy restarts a dead proxy and republishes the routes.
func (cp *ControlPlane) watchProxy(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := cp.proxy.Ping(pctx)
	cancel()
	if err == nil {
		return
	}
	cp.log.Warn("proxy does not answer; restarting it", "err", err)
	if err := cp.ensureProxy(ctx); err != nil {
		cp.log.Error("restart proxy", "err", err)
		return
	}
	if err := cp.router.Publish(ctx); err != nil {
		cp.log.Error("republish routes", "err", err)
	}
}

// router builds the routing table from the store and feeds it to the proxy.
type router struct {
	store *store.Store
	proxy *proxy.Client
	log   *slog.Logger
	mu    sync.Mutex // one publish at a time, so versions arrive in order
}

// Publish sends the table of live releases to the proxy.
func (r *router) Publish(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	table, err := r.build(ctx)
	if err != nil {
		return fmt.Errorf("build routing table: %w", err)
	}
	for attempt := 0; attempt < 3; attempt++ {
		var min uint64
		if cur, err := r.proxy.Table(ctx); err == nil {
			min = cur.Version + 1
		}
		if table.Version, err = r.store.NextProxyVersion(ctx, min); err != nil {
			return err
		}
		if _, err = r.proxy.SetTable(ctx, table); err == nil || !errors.Is(err, proxy.ErrStaleTable) {
			return err
		}
	}
	return err
}

// build computes the table: per environment with a live release, a route
// to the ready instances of that release; during a rolling update also the
// ready new instances; during a canary the canary side with its weight;
// during a blue-green preview a route for the preview host.
func (r *router) build(ctx context.Context) (proxy.Table, error) {
	var t proxy.Table
	envs, err := r.store.Environments(ctx)
	if err != nil {
		return t, err
	}
	running, err := r.store.Rollouts(ctx, "", "", true, 1000)
	if err != nil {
		return t, err
	}
	active := map[[2]string]store.Rollout{}
	for _, ro := range running {
		active[[2]string{ro.App, ro.Env}] = ro
	}
	for _, e := range envs {
		ro, inRollout := active[[2]string{e.App, e.Env}]
		inRollout = inRollout && ro.Phase == store.PhaseProgress
		if e.LiveRelease == 0 && !inRollout {
			continue
		}
		app, err := r.store.App(ctx, e.App)
		if err != nil {
			return t, err
		}
		insts, err := r.store.Instances(ctx, e.App, e.Env)
		if err != nil {
			return t, err
		}
		ready := func(release int) []proxy.Backend {
			var out []proxy.Backend
			for _, in := range insts {
				if in.Release == release && in.Ready {
					out = append(out, proxy.Backend{ID: in.ID, Addr: in.Addr, Release: in.Release})
				}
			}
			return out
		}
		envSpec := app.Environments[e.Env]
		if e.LiveRelease != 0 {
			rel, err := r.store.Release(ctx, e.App, e.Env, e.LiveRelease)
			if err != nil {
				return t, err
			}
			route := proxy.Route{Host: envSpec.Host, App: e.App, Env: e.Env, Release: e.LiveRelease,
				Backends: ready(e.LiveRelease), Health: healthCheck(rel.Spec.Health), Sticky: envSpec.Rollout.Sticky}
			if inRollout {
				switch ro.Strategy {
				case spec.StrategyRolling:
					route.Backends = append(route.Backends, ready(ro.ToRelease)...)
				case spec.StrategyCanary:
					if ro.Weight > 0 {
						route.Canary = &proxy.Canary{Release: ro.ToRelease, Backends: ready(ro.ToRelease), Weight: ro.Weight}
					}
				}
			}
			t.Routes = append(t.Routes, route)
		}
		if inRollout && envSpec.Rollout.PreviewHost != "" && ro.Strategy == spec.StrategyBlueGreen {
			rel, err := r.store.Release(ctx, e.App, e.Env, ro.ToRelease)
			if err != nil {
				return t, err
			}
			t.Routes = append(t.Routes, proxy.Route{Host: envSpec.Rollout.PreviewHost, App: e.App, Env: e.Env,
				Release: ro.ToRelease, Backends: ready(ro.ToRelease), Health: healthCheck(rel.Spec.Health)})
		}
	}
	return t, nil
}

func healthCheck(h spec.Health) proxy.HealthCheck {
	return proxy.HealthCheck{Path: h.Path, Interval: h.Interval.D(), Timeout: h.Timeout.D(),
		HealthyThreshold: h.HealthyThreshold, UnhealthyThreshold: h.UnhealthyThreshold}
}

// Samples implements rollout.Meter from the proxy's per-release metrics.
func (r *router) Samples(ctx context.Context, app, env string, stable, canary int, window time.Duration) (total, recent [2]analysis.Sample, err error) {
	m, err := r.proxy.Metrics(ctx, window)
	if err != nil {
		return total, recent, fmt.Errorf("read proxy metrics: %w", err)
	}
	pick := func(list []proxy.ReleaseStats, out *[2]analysis.Sample) {
		for _, rs := range list {
			if rs.App != app || rs.Env != env {
				continue
			}
			i := -1
			switch rs.Release {
			case stable:
				i = 0
			case canary:
				i = 1
			}
			if i < 0 {
				continue
			}
			s := &out[i]
			s.Requests += rs.Requests
			s.Errors += rs.Status["5xx"] + rs.Status["error"]
			s.Latency = addHistogram(s.Latency, rs.Latency)
		}
	}
	pick(m.Total, &total)
	pick(m.Recent, &recent)
	return total, recent, nil
}

func addHistogram(a analysis.Histogram, b proxy.Histogram) analysis.Histogram {
	if len(a.Counts) == 0 {
		return analysis.Histogram{Bounds: b.Bounds, Counts: append([]uint64(nil), b.Counts...)}
	}
	for i := range min(len(a.Counts), len(b.Counts)) {
		a.Counts[i] += b.Counts[i]
	}
	return a
}

// Drain waits for in-flight requests to the instances to finish.
func (r *router) Drain(ctx context.Context, ids []string, timeout time.Duration) (int, error) {
	return r.proxy.Drain(ctx, ids, timeout)
}

// Teardown stops every instance and the proxy: the opposite of a deploy,
// for `slipway demo` and tests. The control plane must be closed after.
func (cp *ControlPlane) Teardown(ctx context.Context) error {
	insts, err := cp.store.Instances(ctx, "", "")
	if err != nil {
		return err
	}
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	cp.exec.StopInstances(ctx, ids)
	raw, err := os.ReadFile(filepath.Join(cp.opts.DataDir, "proxy.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return nil
	}
	// SIGTERM lets the proxy finish in-flight requests; a proxy that takes
	// longer than 10s (a client holding a connection open) is killed.
	syscall.Kill(pid, syscall.SIGTERM)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, 0} {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if err := syscall.Kill(pid, 0); err != nil {
				return nil // gone
			}
			if isZombie(pid) {
				return nil // exited; our reaper goroutine collects it
			}
			time.Sleep(50 * time.Millisecond)
		}
		if sig == 0 {
			break
		}
		cp.log.Warn("proxy did not stop within 10s of SIGTERM; killing it", "pid", pid)
		syscall.Kill(pid, sig)
	}
	return fmt.Errorf("proxy (pid %d) did not stop", pid)
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(raw), ')'); i >= 0 && i+2 < len(raw) {
		return raw[i+2] == 'Z'
	}
	return false
}
