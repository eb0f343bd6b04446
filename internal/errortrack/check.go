package errortrack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/analysis"
)

// CheckConfig configures the rollout judge's error checks.
type CheckConfig struct {
	// MaxNewIssues is how many new issues (first seen in the canary
	// release, not ignored) the canary may bring; more fails the
	// analysis. Negative disables the check.
	MaxNewIssues int
	// MinEvents is how many events an issue needs in the canary release
	// before it counts (at least 1).
	MinEvents int64
	// MaxEventsPerRequestIncrease, when >= 0, fails a canary whose error
	// events per request exceed stable's by more than this (both counted
	// since the check's first evaluation). Negative disables it.
	MaxEventsPerRequestIncrease float64
	// MinEventsForRate is how many canary events the rate check needs
	// before it can fail (default 5), so one event in a few requests
	// does not abort.
	MinEventsForRate int64
}

// Names of the checks in decisions.
const (
	CheckNewIssues        = "new error issues"
	CheckEventsPerRequest = "error events per request"
)

// Checkers returns the judge's error checks for cfg: the new-issues
// check unless disabled, and the events-per-request check when set.
// Each call returns fresh checkers (one set per rollout).
func (t *Tracker) Checkers(cfg CheckConfig) []analysis.Checker {
	var out []analysis.Checker
	if cfg.MinEvents < 1 {
		cfg.MinEvents = 1
	}
	if cfg.MinEventsForRate <= 0 {
		cfg.MinEventsForRate = 5
	}
	if cfg.MaxNewIssues >= 0 {
		out = append(out, &newIssues{t: t, cfg: cfg})
	}
	if cfg.MaxEventsPerRequestIncrease >= 0 {
		out = append(out, &eventRate{t: t, cfg: cfg})
	}
	return out
}

// flushBriefly gives events already accepted a moment to be written
// before a check reads them; what is later is judged next evaluation.
func (t *Tracker) flushBriefly(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	t.Flush(ctx)
}

// newIssues fails a canary that brings new issues.
type newIssues struct {
	t   *Tracker
	cfg CheckConfig
}

func (c *newIssues) Name() string { return CheckNewIssues }

func (c *newIssues) Check(ctx context.Context, in analysis.Input) analysis.CheckResult {
	r := analysis.CheckResult{Name: CheckNewIssues, Threshold: float64(c.cfg.MaxNewIssues), Stable: in.Stable.Requests, Canary: in.Canary.Requests}
	release := ReleaseName(in.App, in.CanaryRelease)
	p, ok := c.t.project(in.App, in.Env)
	if !ok {
		r.Verdict, r.Detail = analysis.Pass, "no error events received for this environment"
		return r
	}
	c.t.flushBriefly(ctx)
	issues, err := c.t.opts.Store.NewIssuesIn(ctx, p.ID, release, c.cfg.MinEvents)
	if err != nil {
		r.Verdict, r.Detail = analysis.Wait, fmt.Sprintf("could not read error issues: %v", err)
		return r
	}
	r.Value = float64(len(issues))
	if len(issues) <= c.cfg.MaxNewIssues {
		r.Verdict = analysis.Pass
		r.Detail = fmt.Sprintf("%d new issue(s) in release %s (at most %d allowed)", len(issues), release, c.cfg.MaxNewIssues)
		return r
	}
	r.Verdict = analysis.Fail
	var names []string
	for i, is := range issues {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(issues)-3))
			break
		}
		names = append(names, fmt.Sprintf("issue %d %q (%d events)", is.ID, is.Title, is.ReleaseEvents))
	}
	r.Detail = fmt.Sprintf("release %s brought %d new error issue(s), more than the %d allowed: %s",
		release, len(issues), c.cfg.MaxNewIssues, strings.Join(names, ", "))
	return r
}

// eventRate compares error events per request between canary and stable.
type eventRate struct {
	t   *Tracker
	cfg CheckConfig

	mu            sync.Mutex
	started       bool
	stableBase    int64  // stable's events at the first evaluation
	stableReqBase uint64 // and its requests
}

func (c *eventRate) Name() string { return CheckEventsPerRequest }

func (c *eventRate) Check(ctx context.Context, in analysis.Input) analysis.CheckResult {
	r := analysis.CheckResult{Name: CheckEventsPerRequest, Threshold: c.cfg.MaxEventsPerRequestIncrease, Stable: in.Stable.Requests, Canary: in.Canary.Requests}
	p, ok := c.t.project(in.App, in.Env)
	if !ok {
		r.Verdict, r.Detail = analysis.Pass, "no error events received for this environment"
		return r
	}
	c.t.flushBriefly(ctx)
	stable, err1 := c.t.opts.Store.ReleaseEvents(ctx, p.ID, ReleaseName(in.App, in.StableRelease))
	canary, err2 := c.t.opts.Store.ReleaseEvents(ctx, p.ID, ReleaseName(in.App, in.CanaryRelease))
	if err1 != nil || err2 != nil {
		r.Verdict, r.Detail = analysis.Wait, "could not count error events"
		return r
	}
	c.mu.Lock()
	if !c.started {
		// Stable's events before this evaluation are not comparable with
		// the canary's; count both from here. The canary's own events so
		// far are all since it started, so they count.
		c.started, c.stableBase, c.stableReqBase = true, stable, in.Stable.Requests
	}
	stableEv, canaryEv := stable-c.stableBase, canary
	stableReq, canaryReq := in.Stable.Requests-min(in.Stable.Requests, c.stableReqBase), in.Canary.Requests
	c.mu.Unlock()
	var sr, cr float64
	if stableReq > 0 {
		sr = float64(stableEv) / float64(stableReq)
	}
	if canaryReq > 0 {
		cr = float64(canaryEv) / float64(canaryReq)
	}
	r.Value = cr - sr
	r.Detail = fmt.Sprintf("canary %d events in %d requests (%.4f per request), stable %d in %d (%.4f)", canaryEv, canaryReq, cr, stableEv, stableReq, sr)
	switch {
	case canaryEv >= c.cfg.MinEventsForRate && r.Value > c.cfg.MaxEventsPerRequestIncrease:
		r.Verdict = analysis.Fail
		r.Detail += fmt.Sprintf(": %.4f more per request than stable, over the %.4f allowed", r.Value, c.cfg.MaxEventsPerRequestIncrease)
	default:
		r.Verdict = analysis.Pass
	}
	return r
}
