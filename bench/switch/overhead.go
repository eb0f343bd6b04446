package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/results"
)

// overheadRow is one target at one concurrency: the median of its
// rounds.
type overheadRow struct {
	target      string
	concurrency int
	rounds      int
	w           loadgen.Window // medians of requests/s and latencies; errors summed
	proxyCPU    time.Duration  // per request; 0 for direct
	proxyCPUMin time.Duration  // lowest and highest round
	proxyCPUMax time.Duration
	backendCPU  time.Duration // per request
	loadCPU     time.Duration // per request, the load generator's own
}

// loadTarget is where part 1 sends load: the app, or a proxy in front.
type loadTarget struct {
	name       string
	pid        int // proxy process; 0 for direct
	addr, host string
}

// overhead measures the example app directly and through each proxy, at
// each concurrency, b.opts.rounds times in turn so that a change in the
// machine's load hits every target alike; rows are medians (part 1).
func (b *bench) overhead(ctx context.Context) ([]overheadRow, error) {
	backend, backendCmd, err := b.startHello(ctx, "backend", "bench")
	if err != nil {
		return nil, err
	}
	defer b.procs.Stop(backendCmd, 5*time.Second)

	targets := []loadTarget{{name: "direct", addr: backend, host: benchHost}}
	for _, kind := range b.opts.proxies {
		p, err := b.startProxy(ctx, kind, []string{backend}, false)
		if err != nil {
			b.say("  %s: skipped: %v", kind, err)
			b.skipped = append(b.skipped, fmt.Sprintf("%s (part 1): %v", kind, err))
			continue
		}
		defer b.procs.Stop(p.cmd, 5*time.Second)
		targets = append(targets, loadTarget{name: kind, pid: p.cmd.Process.Pid, addr: p.addr, host: p.host})
	}

	samples := map[loadTarget]map[int][]overheadRow{}
	for round := 1; round <= b.opts.rounds; round++ {
		for _, conc := range b.opts.concurrency {
			for _, t := range targets {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				r := b.measureTarget(ctx, t, backendCmd.Process.Pid, conc)
				if samples[t] == nil {
					samples[t] = map[int][]overheadRow{}
				}
				samples[t][conc] = append(samples[t][conc], r)
				b.say("  round %d %-8s %2d clients: %8.0f req/s  p50 %s  p99 %s  proxy CPU %s/req  errors %d",
					round, t.name, conc, r.w.RPS, results.Dur(r.w.P50), results.Dur(r.w.P99), results.Dur(r.proxyCPU), r.w.Errors)
				if r.w.Errors > 0 {
					b.say("    first error: %s", r.w.FirstErr)
				}
			}
		}
	}
	var rows []overheadRow
	for _, t := range targets {
		for _, conc := range b.opts.concurrency {
			rows = append(rows, medianRow(samples[t][conc]))
		}
	}
	return rows, nil
}

// measureTarget runs one measured load against t and reads the CPU time
// of the proxy, the backend and this process over the measured window.
func (b *bench) measureTarget(ctx context.Context, t loadTarget, backendPid, conc int) overheadRow {
	var p0, b0, l0, p1, b1, l1 time.Duration
	w := loadgen.Measure(ctx, t.addr, t.host, conc, b.opts.warmup, b.opts.duration, func(start bool) {
		var p time.Duration
		if t.pid > 0 {
			p = proc.TreeCPU(t.pid)
		}
		bk, l := proc.TreeCPU(backendPid), proc.SelfCPU()
		if start {
			p0, b0, l0 = p, bk, l
		} else {
			p1, b1, l1 = p, bk, l
		}
	})
	r := overheadRow{target: t.name, concurrency: conc, rounds: 1, w: w}
	if w.Requests > 0 {
		n := time.Duration(w.Requests)
		r.proxyCPU, r.backendCPU, r.loadCPU = (p1-p0)/n, (b1-b0)/n, (l1-l0)/n
	}
	r.proxyCPUMin, r.proxyCPUMax = r.proxyCPU, r.proxyCPU
	return r
}

// medianRow folds the rounds of one target and concurrency into one row:
// the median of each figure, the range of the proxy's CPU per request,
// and the errors of all rounds.
func medianRow(rounds []overheadRow) overheadRow {
	if len(rounds) == 0 {
		return overheadRow{}
	}
	med := func(f func(overheadRow) time.Duration) time.Duration {
		v := make([]time.Duration, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[(len(v)-1)/2]
	}
	out := rounds[0]
	out.rounds = len(rounds)
	rps := make([]float64, len(rounds))
	out.w.Errors, out.w.Requests, out.w.FirstErr = 0, 0, ""
	for i, r := range rounds {
		rps[i] = r.w.RPS
		out.w.Errors += r.w.Errors
		out.w.Requests += r.w.Requests
		if out.w.FirstErr == "" {
			out.w.FirstErr = r.w.FirstErr
		}
	}
	slices.Sort(rps)
	out.w.RPS = rps[(len(rps)-1)/2]
	out.w.P50 = med(func(r overheadRow) time.Duration { return r.w.P50 })
	out.w.P99 = med(func(r overheadRow) time.Duration { return r.w.P99 })
	out.proxyCPU = med(func(r overheadRow) time.Duration { return r.proxyCPU })
	out.backendCPU = med(func(r overheadRow) time.Duration { return r.backendCPU })
	out.loadCPU = med(func(r overheadRow) time.Duration { return r.loadCPU })
	out.proxyCPUMin, out.proxyCPUMax = rounds[0].proxyCPU, rounds[0].proxyCPU
	for _, r := range rounds {
		out.proxyCPUMin, out.proxyCPUMax = min(out.proxyCPUMin, r.proxyCPU), max(out.proxyCPUMax, r.proxyCPU)
	}
	return out
}

// startHello runs the example app with PORT and GREETING on the serving
// CPU and waits until it listens.
func (b *bench) startHello(ctx context.Context, name, greeting string) (string, *exec.Cmd, error) {
	addr, err := proc.FreePort()
	if err != nil {
		return "", nil, err
	}
	cmd, err := b.procs.Start(proc.Child{Name: name, CPUs: b.pin.Serve, Argv: []string{b.hello},
		Env: []string{"PORT=" + fmt.Sprint(proc.PortOf(addr)), "GREETING=" + greeting}})
	if err != nil {
		return "", nil, err
	}
	if err := proc.WaitListening(ctx, addr, cmd, 10*time.Second); err != nil {
		b.procs.Stop(cmd, time.Second)
		return "", nil, fmt.Errorf("%s: %w: %s", name, err, b.procs.LogTail(name, 5))
	}
	return addr, cmd, nil
}
