package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/results"
)

// warmReport is part 3 for one proxy: table switches between two sets of
// backends that both keep running, under load.
type warmReport struct {
	proxy    string
	how      string // what a switch is
	switches int    // done
	err      string // why it stopped early, if it did
	snaps    []warmSnap
	// From issuing the switch, one per switch.
	call, firstNew, allNew results.Stats
	afterCall              results.Stats // from the switch call returning to the first response from the new set
	unsettled, timeouts    int
	sent, failed, retries  int64
	firstErrs              []string
	stall                  stall // the load generator's longest stall
	stalls, disturbs       int   // its stalls, and the switches they overlapped
}

// warmSnap is the proxy's footprint after some switches.
type warmSnap struct {
	after     int
	mem       proc.Memory
	live, old int // established upstream connections to each set
}

const (
	tagBlue  = 1
	tagGreen = 2
)

// classifyColor tags hello's answers by their greeting.
func classifyColor(body []byte) uint8 {
	switch {
	case bytes.HasPrefix(body, []byte("blue ")):
		return tagBlue
	case bytes.HasPrefix(body, []byte("green ")):
		return tagGreen
	}
	return 0
}

var switchHow = map[string]string{
	"slipway": "PUT /table on the control socket (proxy.Client.SetTable); returns once applied",
	"nginx":   "rewrite upstream in nginx.conf, SIGHUP the master (nginx -s reload); returns at once",
	"caddy":   "POST /load with the new JSON config to the admin API; returns once applied",
}

// warm runs part 3 against each proxy.
func (b *bench) warm(ctx context.Context) ([]warmReport, error) {
	sets := map[uint8][]string{}
	ports := map[uint8]map[int]bool{}
	for _, set := range []struct {
		tag  uint8
		name string
	}{{tagBlue, "blue"}, {tagGreen, "green"}} {
		ports[set.tag] = map[int]bool{}
		for i := 1; i <= b.opts.replicas; i++ {
			addr, cmd, err := b.startHello(ctx, fmt.Sprintf("%s-%d", set.name, i), set.name)
			if err != nil {
				return nil, err
			}
			defer b.procs.Stop(cmd, 5*time.Second)
			sets[set.tag] = append(sets[set.tag], addr)
			ports[set.tag][proc.PortOf(addr)] = true
		}
	}
	var reports []warmReport
	for _, kind := range b.opts.proxies {
		if ctx.Err() != nil {
			break
		}
		p, err := b.startProxy(ctx, kind, sets[tagBlue], true)
		if err != nil {
			b.say("  %s: skipped: %v", kind, err)
			b.skipped = append(b.skipped, fmt.Sprintf("%s (part 3): %v", kind, err))
			continue
		}
		r := b.warmOne(ctx, p, sets, ports)
		b.procs.Stop(p.cmd, 5*time.Second)
		reports = append(reports, r)
		b.say("  %-8s %d switches, %d failed requests, switch→all traffic p50 %s max %s, RSS %s → %s, upstream conns %d → %d",
			kind, r.switches, r.failed, results.Dur(r.allNew.P50), results.Dur(r.allNew.Max),
			results.MiB(r.snaps[0].mem.RSSKiB), results.MiB(r.snaps[len(r.snaps)-1].mem.RSSKiB),
			r.snaps[0].live+r.snaps[0].old, r.snaps[len(r.snaps)-1].live+r.snaps[len(r.snaps)-1].old)
	}
	return reports, context.Cause(ctx)
}

// warmOne switches p between the blue and green sets b.opts.warmSwitches
// times under load, waiting after each switch until settle responses came
// from the new set, then warmGap.
func (b *bench) warmOne(ctx context.Context, p *proxyUnderTest, sets map[uint8][]string, ports map[uint8]map[int]bool) warmReport {
	r := warmReport{proxy: p.name, how: switchHow[p.name]}
	tr := startTraffic(ctx, p.addr, p.host, b.opts.loadConcurrency, classifyColor)
	live := uint8(tagBlue)
	snap := func(after int) {
		loadgen.SleepUntil(ctx, time.Now().Add(b.opts.snapSettle))
		s := warmSnap{after: after, mem: proc.TreeMemory(p.cmd.Process.Pid)}
		s.live = proc.UpstreamConns(p.cmd.Process.Pid, ports[live])
		s.old = proc.UpstreamConns(p.cmd.Process.Pid, ports[tagBlue+tagGreen-live])
		r.snaps = append(r.snaps, s)
	}
	tr.waitSeen(ctx, tagBlue, 0, 100, 10*time.Second)
	snap(0)

	var marks []switchMark
	var calls []time.Duration
	n := b.opts.warmSwitches
	for i := 1; i <= n && ctx.Err() == nil; i++ {
		to := uint8(tagGreen)
		if i%2 == 0 {
			to = tagBlue
		}
		before := tr.seen[to].Load()
		at := tr.now()
		release := int(to) // the two releases take turns, as a warm rollback flips back
		if b.opts.releasePerSwitch {
			release = i + 1 // every switch a new release, as a deploy or a rollback to a new number
		}
		if err := p.switchTo(ctx, i, release, sets[to]); err != nil {
			r.err = fmt.Sprintf("switch %d: %v", i, err)
			break
		}
		calls = append(calls, tr.now()-at)
		marks = append(marks, switchMark{at: at, target: to})
		live = to
		r.switches++
		if !tr.waitSeen(ctx, to, before, int64(b.opts.settle), 10*time.Second) {
			r.timeouts++
		}
		loadgen.SleepUntil(ctx, time.Now().Add(b.opts.warmGap))
		if i == n/2 || i == n {
			snap(i)
		}
	}
	end := tr.now()
	events := tr.stop()
	r.sent, r.failed, r.retries, r.firstErrs = tr.sent.Load(), tr.failed.Load(), tr.retries.Load(), tr.firstErr
	timings := analyzeSwitches(events, marks, end, b.opts.settle)
	r.stall, r.stalls = tr.longestStall()
	r.disturbs = disturbed(marks, timings, tr.stalls, end)
	var first, all, after []time.Duration
	for i, t := range timings {
		first = append(first, t.firstNew)
		all = append(all, t.allNew)
		if t.firstNew != results.Never {
			after = append(after, t.firstNew-calls[i])
		}
		if !t.settled {
			r.unsettled++
		}
	}
	r.call, r.firstNew, r.allNew, r.afterCall = results.StatsOf(calls), results.StatsOf(first), results.StatsOf(all), results.StatsOf(after)
	return r
}
