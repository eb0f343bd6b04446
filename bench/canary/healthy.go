package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// healthyRun is one healthy canary of part 3.
type healthyRun struct {
	n       int // its number, in the order started
	app     string
	version string
	release int
	state   string // succeeded; anything else is a finding
	// An abort's actor, reason and failed checks (with atLimit: the
	// reason the step advanced).
	actor, reason string
	failed        []string
	evidence      *analysis.Decision // of the pass or the abort
	x             exposure
	// From its first request to the analysis pass (Never without one);
	// and the same on the server's clock, from the weight step's decision.
	// With atLimit, the "pass" is the step advancing at its time limit
	// with checks still inconclusive.
	pass, serverPass time.Duration
	atLimit          bool
	deploy           time.Duration // the whole `slipway deploy`
	err              string        // the benchmark could not tell how it went
	// For each analysis check, how long after the weight step it was last
	// seen waiting (0: never seen waiting); see checkWatch.
	checkWait map[string]time.Duration
}

// healthyReport is part 3.
type healthyReport struct {
	apps       int
	runs       []healthyRun
	notStarted int // canaries left when the time budget ran out
	elapsed    time.Duration
	requests   int
	lateMax    time.Duration
	lateN      int
	latency    []time.Duration // of every answer, all apps, sorted
}

// healthyCanaries rolls out b.opts.healthy canaries that differ from
// stable only by their version string, on b.opts.apps apps in parallel,
// each app one canary after the other under its own steady load.
func (b *bench) healthyCanaries(ctx context.Context) (*healthyReport, error) {
	o := b.opts
	config := map[string]string{
		"HELLO_FAIL_RATE": strconv.FormatFloat(o.healthyFailRate, 'f', -1, 64),
		"HELLO_DELAY":     o.stableDelay.String(),
	}
	rollout := canaryRollout(o, o.healthyWeight)
	client, err := b.server.Client()
	if err != nil {
		return nil, err
	}
	apps := make([]*app, o.apps)
	errs := make([]error, o.apps)
	var wg sync.WaitGroup
	for i := range apps {
		wg.Go(func() {
			a, err := b.newApp(fmt.Sprintf("healthy%d", i+1))
			if err != nil {
				errs[i] = err
				return
			}
			d, err := a.deploy(ctx, release{version: a.name + "-0", config: config, rollout: rollout})
			switch {
			case err != nil:
				errs[i] = err
			case d.status.Rollout.State != store.RolloutSucceeded:
				errs[i] = fmt.Errorf("deploy %s: rollout %s: %s", a.name, d.status.Rollout.State, d.status.Rollout.Reason)
			}
			apps[i] = a
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	rep := &healthyReport{apps: o.apps}
	started := time.Now()
	deadline := started.Add(o.healthyBudget)
	var (
		next atomic.Int64
		mu   sync.Mutex
	)
	for _, a := range apps {
		wg.Go(func() {
			runs, lat, lateMax, lateN := b.healthyApp(ctx, a, client, config, rollout, &next, deadline)
			mu.Lock()
			rep.runs = append(rep.runs, runs...)
			rep.requests += len(lat)
			rep.latency = append(rep.latency, lat...)
			rep.lateMax = max(rep.lateMax, lateMax)
			rep.lateN += lateN
			mu.Unlock()
		})
	}
	wg.Wait()
	rep.elapsed = time.Since(started)
	slices.Sort(rep.latency)
	rep.notStarted = max(0, o.healthy-len(rep.runs))
	slices.SortFunc(rep.runs, func(a, b healthyRun) int { return a.n - b.n })
	return rep, context.Cause(ctx)
}

// healthyApp deploys canaries to a, one after the other, while canary
// numbers up to b.opts.healthy are left and the deadline has not passed.
func (b *bench) healthyApp(ctx context.Context, a *app, client *api.Client, config map[string]string, rollout string,
	next *atomic.Int64, deadline time.Time) (runs []healthyRun, latency []time.Duration, lateMax time.Duration, lateN int) {
	load := a.startLoad(ctx)
	watch := watchChecks(ctx, client, a.name, b.opts.interval)
	type pending struct {
		run healthyRun
		dec decisions
	}
	var all []pending
	for ctx.Err() == nil && time.Now().Before(deadline) {
		n := int(next.Add(1))
		if n > b.opts.healthy {
			break
		}
		rel := release{version: fmt.Sprintf("%s-%d", a.name, n), config: config, rollout: rollout}
		d, err := a.deploy(ctx, rel)
		if ctx.Err() != nil {
			break
		}
		p := pending{run: healthyRun{n: n, app: a.name, version: rel.version, deploy: d.end.Sub(d.start)}}
		if err != nil {
			p.run.state, p.run.err = "unknown", err.Error()
			say("  #%d %s: %v", n, rel.version, err)
			all = append(all, p)
			continue
		}
		ro := d.status.Rollout
		p.dec = decisionsOf(d.status)
		p.run.release, p.run.state = ro.ToRelease, ro.State
		p.run.actor, p.run.reason, p.run.failed, p.run.evidence = p.dec.actor, p.dec.reason, p.dec.failed, p.dec.evidence
		p.run.serverPass = results.Never
		p.run.atLimit = p.dec.atLimit
		if p.dec.atLimit {
			p.run.reason = p.dec.passReason
		}
		if !p.dec.pass.IsZero() {
			p.run.serverPass = p.dec.pass.Sub(p.dec.weight)
		}
		p.run.checkWait = map[string]time.Duration{}
		for name, t := range watch.lastWaiting(ro.ID) {
			p.run.checkWait[name] = t.Sub(p.dec.weight)
		}
		switch {
		case ro.State == store.RolloutSucceeded && p.dec.atLimit:
			say("  #%d %s: promoted at the analysis step's time limit, %s after the weight step, checks inconclusive", n, rel.version, results.Dur(p.run.serverPass))
		case ro.State == store.RolloutSucceeded:
			say("  #%d %s: passed %s after the weight step", n, rel.version, results.Dur(p.run.serverPass))
		default:
			say("  #%d %s: rollout %s by %s: %.200s", n, rel.version, ro.State, p.dec.actor, p.dec.reason)
		}
		all = append(all, p)
	}
	watch.stop()
	events := load.Stop()
	versions := load.Versions()
	latency = latencies(events)
	for _, p := range all {
		r := p.run
		r.x = exposureOf(events, versionIndex(versions, r.version))
		r.pass = results.Never
		if !p.dec.pass.IsZero() {
			r.pass = since(r.x.firstSent, p.dec.pass.Sub(load.Base()))
		}
		runs = append(runs, r)
	}
	lateMax, lateN = load.Late()
	return runs, latency, lateMax, lateN
}
