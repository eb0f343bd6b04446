package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/product"
	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/proxy"
)

// rollbackReport is part 2: rollbacks through the real server and CLI
// while clients send requests through its proxy.
type rollbackReport struct {
	switches    int      // rollbacks that succeeded
	cliFailures []string // rollbacks that did not
	sent        int64
	failed      int64
	retries     int64
	firstErrs   []string
	// The load generator's own stalls: the longest, how many, and how
	// many switches they overlapped.
	stall            stall
	stalls, disturbs int
	// Durations from issuing the command, one per switch.
	cli, publish, firstNew, allNew results.Stats
	// From the proxy applying the table to the first response from the
	// target, and to all traffic on it.
	// Negative when the clients saw the switch before the 2 ms poll did.
	proxyFirst, proxyLevel results.Stats
	// How precisely the poll timed each table change.
	pollResolution results.Stats
	unsettled      int
	// Latency of every request during the switches.
	latP50, latP99, latMax time.Duration
	// The proxy process under load before the first and after the last
	// rollback.
	memBefore, memAfter proc.Memory
}

const stagingHost = "hello.staging.localhost"

// rollbacks deploys examples/hello twice (v1, v2) to a real `slipway
// server` with the CLI, then under continuous load alternates `slipway
// rollback hello --env staging --to 1` and `--to 2` (part 2).
func (b *bench) rollbacks(ctx context.Context) (*rollbackReport, error) {
	data := filepath.Join(b.tmp, "server-data")
	work := filepath.Join(b.tmp, "workspace", "hello")
	if err := product.CopyExample(work); err != nil {
		return nil, err
	}
	server, err := product.StartServer(ctx, b.procs, b.slipway, data, b.pin.Serve)
	if err != nil {
		return nil, err
	}
	defer server.Stop()
	cli := func(args ...string) (string, error) { return server.CLI(ctx, work, args...) }
	paddr := server.ProxyAddr
	for _, v := range []string{"v1", "v2"} {
		start := time.Now()
		if err := product.SetVersion(work, v); err != nil {
			return nil, err
		}
		if _, err := cli("deploy", "-f", "slipway.yaml", "--env", "staging"); err != nil {
			return nil, err
		}
		b.say("  deployed %s to staging in %s", v, time.Since(start).Round(time.Millisecond))
	}

	pc := proxy.NewClient(filepath.Join(data, "proxy.sock"))
	proxyPid := server.ProxyPid()
	r := &rollbackReport{}

	tr := startTraffic(ctx, paddr, stagingHost, b.opts.loadConcurrency, classifyVersion)
	// The proxy's table version, polled every 2ms, tells when it applied
	// each switch's table: after the start of the last poll that saw the
	// old version and before the end of the first that saw the new one.
	type change struct{ after, seen time.Duration }
	var (
		changes  []change // read once the watcher has stopped
		watchWG  sync.WaitGroup
		wctx, wc = context.WithCancel(ctx)
	)
	watchWG.Go(func() {
		var last uint64
		var prevStart time.Duration
		for wctx.Err() == nil {
			start := tr.now()
			t, err := pc.Table(wctx)
			if err == nil && t.Version != last {
				if last != 0 {
					changes = append(changes, change{after: prevStart, seen: tr.now()})
				}
				last = t.Version
			}
			prevStart = start
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer func() { wc(); watchWG.Wait() }()

	loadgen.SleepUntil(ctx, time.Now().Add(500*time.Millisecond))
	r.memBefore = proc.TreeMemory(proxyPid)
	var marks []switchMark
	var cliDurs []time.Duration
	for k := 1; k <= b.opts.switches && ctx.Err() == nil; k++ {
		to := 1 + (k+1)%2 // v2 is live: 1, 2, 1, ...
		at := tr.now()
		_, err := cli("rollback", "hello", "--env", "staging", "--to", strconv.Itoa(to))
		if err != nil {
			r.cliFailures = append(r.cliFailures, fmt.Sprintf("rollback %d (--to %d): %v", k, to, err))
			break
		}
		marks = append(marks, switchMark{at: at, target: uint8(to)})
		cliDurs = append(cliDurs, tr.now()-at)
		r.switches++
		loadgen.SleepUntil(ctx, time.Now().Add(b.opts.switchGap))
	}
	r.memAfter = proc.TreeMemory(proxyPid)
	end := tr.now()
	events := tr.stop()
	wc()
	watchWG.Wait()
	r.sent, r.failed, r.retries, r.firstErrs = tr.sent.Load(), tr.failed.Load(), tr.retries.Load(), tr.firstErr

	timings := analyzeSwitches(events, marks, end, b.opts.settle)
	r.stall, r.stalls = tr.longestStall()
	r.disturbs = disturbed(marks, timings, tr.stalls, end)
	var pub, first, all, levelFirst, level, res []time.Duration
	for i, t := range timings {
		next := end
		if i+1 < len(marks) {
			next = marks[i+1].at
		}
		applied := results.Never
		for _, c := range changes {
			if c.seen >= marks[i].at && c.seen < next {
				applied = c.seen - marks[i].at
				res = append(res, c.seen-c.after)
				break
			}
		}
		pub = append(pub, applied)
		first = append(first, t.firstNew)
		all = append(all, t.allNew)
		if applied != results.Never && t.allNew != results.Never {
			levelFirst = append(levelFirst, t.firstNew-applied)
			level = append(level, t.allNew-applied)
		}
		if !t.settled {
			r.unsettled++
		}
	}
	r.pollResolution = results.StatsOf(res)
	r.cli, r.publish, r.firstNew, r.allNew = results.StatsOf(cliDurs), results.StatsOf(pub), results.StatsOf(first), results.StatsOf(all)
	r.proxyFirst, r.proxyLevel = results.StatsOf(levelFirst), results.StatsOf(level)
	r.latP50, r.latP99, r.latMax = latencies(events)
	return r, context.Cause(ctx)
}

// classifyVersion tags hello's answers by the version in brackets.
func classifyVersion(body []byte) uint8 {
	switch {
	case bytes.Contains(body, []byte("[v1]")):
		return 1
	case bytes.Contains(body, []byte("[v2]")):
		return 2
	}
	return 0
}

// latencies returns p50, p99 and max of the events' latencies.
func latencies(events []event) (p50, p99, maxLat time.Duration) {
	ls := make([]time.Duration, len(events))
	for i, e := range events {
		ls[i] = e.lat
	}
	slices.Sort(ls)
	if len(ls) == 0 {
		return 0, 0, 0
	}
	return loadgen.Percentile(ls, 50), loadgen.Percentile(ls, 99), ls[len(ls)-1]
}
