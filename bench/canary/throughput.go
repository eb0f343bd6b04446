package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/store"
)

// throughputTarget is where part 4 sends load.
type throughputTarget struct {
	name       string
	addr, host string
	proxy      bool // through the server's proxy: its CPU is read
}

// throughputRow is one target's rounds.
type throughputRow struct {
	target   string
	windows  []loadgen.Window
	proxyCPU []time.Duration // per request, per round
}

// throughputReport is part 4.
type throughputReport struct {
	rows    []throughputRow
	share   float64 // share of the split host's answers that came from the canary
	shareN  int
	pinNote string
	pidNote string // the proxy process was not the one the pid file names
}

// splitRollout holds a canary at 50% until promoted, with limits no
// answer can break, so that the analysis never ends it meanwhile.
const splitRollout = `strategy: canary
progress_deadline: 30m
steps:
  - weight: 50
  - pause: manual
analysis:
  max_error_rate: 1
  max_error_rate_increase: 1
`

// throughput measures, at full speed, an app instance directly, the
// proxy routing to an app without a canary (plain), and the proxy
// splitting an app's clients 50/50 between stable and a canary (split).
// Each app runs one replica per release, so the split spreads over two
// app processes where plain and direct use one.
func (b *bench) throughput(ctx context.Context) (*throughputReport, error) {
	plain, err := b.newApp("plain")
	if err != nil {
		return nil, err
	}
	split, err := b.newApp("split")
	if err != nil {
		return nil, err
	}
	for _, step := range []struct {
		a     *app
		v     string
		state string
	}{{plain, "plain-1", store.RolloutSucceeded}, {split, "split-1", store.RolloutSucceeded}, {split, "split-2", store.RolloutRunning}} {
		d, err := step.a.deploy(ctx, release{version: step.v, rollout: splitRollout})
		if err != nil {
			return nil, err
		}
		if st := d.status.Rollout; st.State != step.state || (st.State == store.RolloutRunning && st.Weight != 50) {
			return nil, fmt.Errorf("deploy %s %s: rollout %s at weight %d (%s); want %s", step.a.name, step.v, st.State, st.Weight, st.Message, step.state)
		}
	}
	ps, err := plain.envStatus(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := split.envStatus(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps.Instances) != 1 || len(ss.Instances) != 2 {
		return nil, fmt.Errorf("want 1 plain and 2 split instances, have %d and %d", len(ps.Instances), len(ss.Instances))
	}
	rep := &throughputReport{}

	// The canary's share, as clients without cookies see it.
	probe := loadgen.StartPaced(ctx, b.server.ProxyAddr, split.host, 500, 8, versionOf)
	loadgen.SleepUntil(ctx, time.Now().Add(2*time.Second))
	events := probe.Stop()
	canary := versionIndex(probe.Versions(), "split-2")
	for _, e := range events {
		if e.Status == 200 {
			rep.shareN++
			if e.Version == canary {
				rep.share++
			}
		}
	}
	if rep.shareN > 0 {
		rep.share /= float64(rep.shareN)
	}

	// The proxy is the process listening on the proxy address; the
	// server's pid file says the same unless the server has started
	// another proxy meanwhile (its watchdog does when a ping times out).
	proxyPid := b.server.ProxyPid()
	if ls := proc.Listeners(proc.PortOf(b.server.ProxyAddr)); len(ls) > 0 && !slices.Contains(ls, proxyPid) {
		rep.pidNote = fmt.Sprintf("the server's proxy.pid names pid %d, but pid %v listens on the proxy address; measured pid %d", proxyPid, ls, ls[0])
		say("  %s", rep.pidNote)
		proxyPid = ls[0]
	}
	var serving []int
	for _, in := range append(ps.Instances, ss.Instances...) {
		serving = append(serving, in.PID)
	}
	var restore func()
	rep.pinNote, restore = b.pinForThroughput(append(serving, proxyPid))
	defer restore()

	targets := []throughputTarget{
		{name: "direct", addr: ps.Instances[0].Addr, host: "direct"},
		{name: "plain", addr: b.server.ProxyAddr, host: plain.host, proxy: true},
		{name: "split 50%", addr: b.server.ProxyAddr, host: split.host, proxy: true},
	}
	rep.rows = make([]throughputRow, len(targets))
	for round := 1; round <= b.opts.rounds; round++ {
		for i, t := range targets {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			var cpu0, cpu1 time.Duration
			w := loadgen.Measure(ctx, t.addr, t.host, b.opts.concurrency, b.opts.warmup, b.opts.duration, func(start bool) {
				if !t.proxy {
					return
				}
				if start {
					cpu0 = proc.TreeCPU(proxyPid)
				} else {
					cpu1 = proc.TreeCPU(proxyPid)
				}
			})
			var cpu time.Duration
			if t.proxy && w.Requests > 0 {
				cpu = (cpu1 - cpu0) / time.Duration(w.Requests)
			}
			rep.rows[i].target = t.name
			rep.rows[i].windows = append(rep.rows[i].windows, w)
			rep.rows[i].proxyCPU = append(rep.rows[i].proxyCPU, cpu)
			say("  round %d %-9s %8.0f req/s  p50 %s  p99 %s  proxy CPU %s/req  errors %d", round, t.name, w.RPS,
				results.Dur(w.P50), results.Dur(w.P99), results.Dur(cpu), w.Errors)
			if w.Errors > 0 {
				say("    first error: %s", w.FirstErr)
			}
		}
	}
	return rep, nil
}

// median of a row: requests/s, p50, p99 and proxy CPU per request, each
// the median over the rounds; errors summed.
func (r throughputRow) median() (w loadgen.Window, cpu time.Duration) {
	med := func(f func(i int) float64) float64 {
		v := make([]float64, len(r.windows))
		for i := range v {
			v[i] = f(i)
		}
		slices.Sort(v)
		return v[(len(v)-1)/2]
	}
	w.RPS = med(func(i int) float64 { return r.windows[i].RPS })
	w.P50 = time.Duration(med(func(i int) float64 { return float64(r.windows[i].P50) }))
	w.P99 = time.Duration(med(func(i int) float64 { return float64(r.windows[i].P99) }))
	cpu = time.Duration(med(func(i int) float64 { return float64(r.proxyCPU[i]) }))
	for _, x := range r.windows {
		w.Errors += x.Errors
		w.Requests += x.Requests
		if w.FirstErr == "" {
			w.FirstErr = x.FirstErr
		}
	}
	return w, cpu
}

// pinForThroughput pins the serving processes (and their threads and
// children) to CPU 0 and this process to CPU 1, as bench/switch does, if
// -pin and the machine allow; restore undoes it for this process.
func (b *bench) pinForThroughput(pids []int) (note string, restore func()) {
	restore = func() {}
	ts, err := exec.LookPath("taskset")
	n := runtime.NumCPU()
	switch {
	case !b.opts.pin:
		return "not pinned (-pin=false): load generator, proxy and apps share all CPUs", restore
	case err != nil:
		return "not pinned (no taskset): load generator, proxy and apps share all CPUs", restore
	case n < 2:
		return "not pinned (one CPU)", restore
	}
	set := func(cpus string, pid int) error {
		out, err := exec.Command(ts, "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset %s %d: %w: %s", cpus, pid, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	for _, pid := range pids {
		if pid <= 1 || !proc.Alive(pid) {
			return fmt.Sprintf("not pinned: process %d is not running", pid), restore
		}
		for _, p := range proc.Tree(pid) {
			if err := set("0", p); err != nil {
				return "not pinned: " + err.Error(), restore
			}
		}
	}
	all := fmt.Sprintf("0-%d", n-1)
	if err := set("1", os.Getpid()); err != nil {
		return "servers pinned to CPU 0, the load generator not: " + err.Error(), restore
	}
	procs := runtime.GOMAXPROCS(1)
	restore = func() {
		_ = set(all, os.Getpid())
		runtime.GOMAXPROCS(procs)
	}
	return "proxy and app processes on CPU 0, the load generator (this process, GOMAXPROCS 1) on CPU 1 (taskset); " +
		"the slipway server, its judge and the shims unpinned", restore
}
