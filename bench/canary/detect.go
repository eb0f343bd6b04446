package main

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/store"
)

// badKind describes a run of bad canaries (parts 1 and 2): an app whose
// stable release has one config and whose canaries have another.
type badKind struct {
	part   int
	app    string
	reps   int
	stable map[string]string // config of stable
	canary map[string]string // config of each canary
	// fromBad times from the canary's first 5xx (part 1); otherwise from
	// its first request (part 2).
	fromBad bool
}

func badCanary(o options) badKind {
	return badKind{part: 1, app: "errors", reps: o.bad, fromBad: true,
		stable: map[string]string{}, canary: map[string]string{"HELLO_FAIL_RATE": "0.5"}}
}

func slowCanary(o options) badKind {
	return badKind{part: 2, app: "latency", reps: o.slow,
		stable: map[string]string{"HELLO_DELAY": o.stableDelay.String()},
		canary: map[string]string{"HELLO_DELAY": o.slowDelay.String()}}
}

// badRun is one bad canary.
type badRun struct {
	version string
	release int
	state   string // how its rollout ended: aborted, or succeeded (a miss)
	// The abort decision: its actor, reason and failed checks.
	actor, reason string
	failed        []string
	x             exposure
	// From the start (first 5xx, or first request) to the last response
	// from the canary, and to the abort decision; from the decision to the
	// last response. Never when it did not happen.
	toStable, toDecision, decisionToStable time.Duration
	// From the canary's first request to its first 5xx.
	firstBad time.Duration
	// The canary was promoted and the benchmark rolled it back.
	rolledBack bool
}

// badReport is part 1 or 2.
type badReport struct {
	kind          badKind
	stableRelease int
	runs          []badRun
	requests      int           // sent during the part
	lateMax       time.Duration // the load generator's worst delay behind schedule
	lateN         int           // requests sent more than loadgen.LateLimit late
	retries       int64
	latency       []time.Duration // of every answer, sorted
}

// detect deploys kind.app's stable release, then kind.reps canaries one
// after the other under steady load, each waited for to its end, and
// times from the clients' side how soon all traffic was back on stable.
func (b *bench) detect(ctx context.Context, kind badKind) (*badReport, error) {
	a, err := b.newApp(kind.app)
	if err != nil {
		return nil, err
	}
	rollout := canaryRollout(b.opts, b.opts.weight)
	d, err := a.deploy(ctx, release{version: kind.app + "-stable", config: kind.stable, rollout: rollout})
	if err != nil {
		return nil, err
	}
	if d.status.Rollout.State != store.RolloutSucceeded {
		return nil, fmt.Errorf("deploy %s stable: rollout %s: %s", a.name, d.status.Rollout.State, d.status.Rollout.Reason)
	}
	rep := &badReport{kind: kind, stableRelease: d.status.Rollout.ToRelease}
	stable := rep.stableRelease

	load := a.startLoad(ctx)
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	loadgen.SleepUntil(ctx, time.Now().Add(time.Second))

	type pending struct {
		run badRun
		dec decisions
	}
	var all []pending
	for k := 1; k <= kind.reps && ctx.Err() == nil; k++ {
		rel := release{version: fmt.Sprintf("%s-%d", kind.app, k), config: kind.canary, rollout: rollout}
		d, err := a.deploy(ctx, rel)
		if err != nil {
			return nil, err
		}
		loadgen.SleepUntil(ctx, time.Now().Add(b.opts.tail))
		ro := d.status.Rollout
		p := pending{run: badRun{version: rel.version, release: ro.ToRelease, state: ro.State}, dec: decisionsOf(d.status)}
		p.run.actor, p.run.reason, p.run.failed = p.dec.actor, p.dec.reason, p.dec.failed
		if ro.State == store.RolloutSucceeded {
			// A miss: the bad canary took all traffic. Put stable back
			// for the next one.
			say("  %s: NOT aborted (rollout %s); rolling back to release %d", rel.version, ro.State, stable)
			if err := a.rollback(ctx, stable); err != nil {
				return nil, err
			}
			p.run.rolledBack = true
			st, err := a.rolloutStatus(ctx)
			if err != nil {
				return nil, err
			}
			stable = st.Rollout.ToRelease
			loadgen.SleepUntil(ctx, time.Now().Add(b.opts.tail))
		} else {
			say("  %s: rollout %s by %s after %s: %.160s", rel.version, ro.State, p.dec.actor,
				d.end.Sub(d.start).Round(time.Millisecond), p.dec.reason)
		}
		all = append(all, p)
	}
	events := load.Stop()
	stopped = true
	versions := load.Versions()
	rep.requests = len(events)
	rep.latency = latencies(events)
	rep.lateMax, rep.lateN = load.Late()
	rep.retries = load.Retries()
	for _, p := range all {
		r := p.run
		r.x = exposureOf(events, versionIndex(versions, r.version))
		start := r.x.firstSent
		if kind.fromBad {
			start = r.x.firstBad
		}
		last := r.x.last
		if r.rolledBack {
			last = results.Never // the canary served until the benchmark's rollback
		}
		decision := results.Never
		if !p.dec.abort.IsZero() {
			decision = p.dec.abort.Sub(load.Base())
		}
		r.toStable = since(start, last)
		r.toDecision = since(start, decision)
		r.decisionToStable = since(decision, last)
		r.firstBad = since(r.x.firstSent, r.x.firstBad)
		rep.runs = append(rep.runs, r)
	}
	return rep, context.Cause(ctx)
}
