package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

// overheadRow is one target at one concurrency: the median of its
// rounds.
type overheadRow struct {
	target      string
	concurrency int
	rounds      int
	w           window        // medians of requests/s and latencies; errors summed
	proxyCPU    time.Duration // per request; 0 for direct
	proxyCPUMin time.Duration // lowest and highest round
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
	defer b.procs.stop(backendCmd, 5*time.Second)

	targets := []loadTarget{{name: "direct", addr: backend, host: benchHost}}
	for _, kind := range b.opts.proxies {
		p, err := b.startProxy(ctx, kind, []string{backend}, false)
		if err != nil {
			b.say("  %s: skipped: %v", kind, err)
			b.skipped = append(b.skipped, fmt.Sprintf("%s (part 1): %v", kind, err))
			continue
		}
		defer b.procs.stop(p.cmd, 5*time.Second)
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
					round, t.name, conc, r.w.rps, fmtDur(r.w.p50), fmtDur(r.w.p99), fmtDur(r.proxyCPU), r.w.errors)
				if r.w.errors > 0 {
					b.say("    first error: %s", r.w.firstErr)
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
	w := measure(ctx, t.addr, t.host, conc, b.opts.warmup, b.opts.duration, func(start bool) {
		var p time.Duration
		if t.pid > 0 {
			p = treeCPU(t.pid)
		}
		bk, l := treeCPU(backendPid), selfCPU()
		if start {
			p0, b0, l0 = p, bk, l
		} else {
			p1, b1, l1 = p, bk, l
		}
	})
	r := overheadRow{target: t.name, concurrency: conc, rounds: 1, w: w}
	if w.requests > 0 {
		n := time.Duration(w.requests)
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
	out.w.errors, out.w.requests, out.w.firstErr = 0, 0, ""
	for i, r := range rounds {
		rps[i] = r.w.rps
		out.w.errors += r.w.errors
		out.w.requests += r.w.requests
		if out.w.firstErr == "" {
			out.w.firstErr = r.w.firstErr
		}
	}
	slices.Sort(rps)
	out.w.rps = rps[(len(rps)-1)/2]
	out.w.p50 = med(func(r overheadRow) time.Duration { return r.w.p50 })
	out.w.p99 = med(func(r overheadRow) time.Duration { return r.w.p99 })
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
	addr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd, err := b.procs.start(child{name: name, cpus: b.pin.serve, argv: []string{b.hello},
		env: []string{"PORT=" + fmt.Sprint(portOf(addr)), "GREETING=" + greeting}})
	if err != nil {
		return "", nil, err
	}
	if err := waitListening(ctx, addr, cmd, 10*time.Second); err != nil {
		b.procs.stop(cmd, time.Second)
		return "", nil, fmt.Errorf("%s: %w: %s", name, err, b.procs.logTail(name, 5))
	}
	return addr, cmd, nil
}

// selfCPU is the CPU time this process (the load generator) used so far.
func selfCPU() time.Duration {
	st, _ := readStat(os.Getpid())
	return st.cpu
}
