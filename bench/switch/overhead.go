package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// overheadRow is one measured load run: direct or through one proxy, at
// one concurrency.
type overheadRow struct {
	target      string
	concurrency int
	w           window
	proxyCPU    time.Duration // per request; 0 for direct
	backendCPU  time.Duration // per request
	loadCPU     time.Duration // per request, the load generator's own
}

// overhead measures the example app directly and through each proxy, at
// each concurrency (part 1).
func (b *bench) overhead(ctx context.Context) ([]overheadRow, error) {
	backend, backendCmd, err := b.startHello(ctx, "backend", "bench")
	if err != nil {
		return nil, err
	}
	defer b.procs.stop(backendCmd, 5*time.Second)

	var rows []overheadRow
	run := func(target string, pid int, addr, host string) {
		for _, conc := range b.opts.concurrency {
			if ctx.Err() != nil {
				return
			}
			var p0, b0, l0, p1, b1, l1 time.Duration
			w := measure(ctx, addr, host, conc, b.opts.warmup, b.opts.duration, func(start bool) {
				var p, bk, l time.Duration
				if pid > 0 {
					p = treeCPU(pid)
				}
				bk, l = treeCPU(backendCmd.Process.Pid), selfCPU()
				if start {
					p0, b0, l0 = p, bk, l
				} else {
					p1, b1, l1 = p, bk, l
				}
			})
			r := overheadRow{target: target, concurrency: conc, w: w}
			if n := time.Duration(max(w.requests, 1)); w.requests > 0 {
				r.proxyCPU, r.backendCPU, r.loadCPU = (p1-p0)/n, (b1-b0)/n, (l1-l0)/n
			}
			rows = append(rows, r)
			b.say("  %-8s %2d clients: %8.0f req/s  p50 %s  p99 %s  proxy CPU %s/req  errors %d",
				target, conc, w.rps, fmtDur(w.p50), fmtDur(w.p99), fmtDur(r.proxyCPU), w.errors)
			if w.errors > 0 {
				b.say("    first error: %s", w.firstErr)
			}
		}
	}

	run("direct", 0, backend, benchHost)
	for _, kind := range b.opts.proxies {
		if ctx.Err() != nil {
			break
		}
		p, err := b.startProxy(ctx, kind, []string{backend}, false)
		if err != nil {
			b.say("  %s: skipped: %v", kind, err)
			b.skipped = append(b.skipped, fmt.Sprintf("%s (part 1): %v", kind, err))
			continue
		}
		run(kind, p.cmd.Process.Pid, p.addr, p.host)
		b.procs.stop(p.cmd, 5*time.Second)
	}
	return rows, context.Cause(ctx)
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
