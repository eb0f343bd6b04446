package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/spec"
)

// Commands a user sends to a running rollout.
const (
	CmdPromote = "promote" // end the current pause or step now
	CmdPause   = "pause"   // hold: timers stop, the progress deadline too
	CmdResume  = "resume"  // release a hold
	CmdAbort   = "abort"   // all traffic back to stable, stop the new release
)

// Command is one user action on a running rollout.
type Command struct {
	Kind  string
	Actor string
}

// Control carries commands to one running rollout.
type Control struct{ ch chan Command }

// NewControl returns a Control with room for a few pending commands.
func NewControl() *Control { return &Control{ch: make(chan Command, 16)} }

// Send queues a command; it reports false if the queue is full.
func (c *Control) Send(cmd Command) bool {
	select {
	case c.ch <- cmd:
		return true
	default:
		return false
	}
}

// waitOpts describe one hold of a rollout.
type waitOpts struct {
	what      string        // shown as the rollout's message
	duration  time.Duration // how long; 0 with manual means until promoted
	manual    bool          // only a promote command ends it
	judge     bool          // evaluate the analysis each interval (canary has traffic)
	untilPass bool          // end as soon as the analysis passes; abort if time runs out first
}

// wait holds the rollout until its time is up, it is promoted, or (with
// untilPass) the analysis passes. It returns a non-nil Outcome if the
// rollout was aborted meanwhile (by a user, the progress deadline or the
// analysis), in which case the rollout is already finished.
func (r *run) wait(ctx context.Context, o waitOpts) (*Outcome, error) {
	tick := r.e.Tick
	if tick <= 0 {
		tick = 200 * time.Millisecond
	}
	a := r.env.Rollout.Analysis
	interval := a.Interval.D()
	if o.judge && interval > 0 && interval < tick {
		tick = interval
	}
	deadline := r.env.Rollout.ProgressDeadline.D()
	if deadline <= 0 {
		deadline = spec.DefaultProgressDeadline.D()
	}
	remaining := o.duration
	end := time.Now().Add(remaining)
	paused, pausedAt := false, time.Time{}
	lastJudge := time.Time{}
	r.message(ctx, o.what)
	if o.manual {
		r.e.Store.SetRolloutAwaiting(ctx, r.ro.ID, true)
		defer r.e.Store.SetRolloutAwaiting(context.WithoutCancel(ctx), r.ro.ID, false)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case cmd := <-r.ctl.ch:
			switch cmd.Kind {
			case CmdAbort:
				out, err := r.abort(ctx, cmd.Actor, "aborted by "+cmd.Actor, nil)
				return &out, err
			case CmdPromote:
				r.decide(ctx, "promote", cmd.Actor, "promoted by "+cmd.Actor+" during: "+o.what, nil)
				if paused {
					r.e.Store.SetRolloutPaused(ctx, r.ro.ID, false)
				}
				return nil, nil
			case CmdPause:
				if !paused {
					paused, pausedAt = true, time.Now()
					remaining = time.Until(end)
					r.e.Store.SetRolloutPaused(ctx, r.ro.ID, true)
					r.decide(ctx, "pause", cmd.Actor, "paused by "+cmd.Actor, nil)
				}
			case CmdResume:
				if paused {
					paused = false
					end = time.Now().Add(remaining)
					r.lastProgress = r.lastProgress.Add(time.Since(pausedAt)) // a hold is not a stall
					r.e.Store.SetRolloutPaused(ctx, r.ro.ID, false)
					r.decide(ctx, "resume", cmd.Actor, "resumed by "+cmd.Actor, nil)
				}
			}
		case now := <-t.C:
			if paused {
				continue
			}
			if stalled := now.Sub(r.lastProgress); stalled > deadline {
				out, err := r.abort(ctx, "deadline", fmt.Sprintf("no progress for %s (progress deadline %s) during: %s",
					stalled.Round(time.Second), deadline, o.what), nil)
				return &out, err
			}
			if o.judge && now.Sub(lastJudge) >= interval {
				lastJudge = now
				d, err := r.judge(ctx, now)
				if err != nil {
					r.log.Warn("analysis input", "err", err)
				} else {
					switch d.Verdict {
					case analysis.Fail:
						out, err := r.abort(ctx, "analysis", "analysis failed: "+d.Reason, d)
						return &out, err
					case analysis.Pass:
						if o.untilPass {
							r.decide(ctx, "advance", "analysis", "analysis passed: "+d.Reason, d)
							return nil, nil
						}
					}
					r.message(ctx, o.what+"; analysis: "+string(d.Verdict)+": "+d.Reason)
				}
			}
			if !o.manual && !now.Before(end) {
				if o.untilPass {
					// Time is up without a pass. With enough traffic judged
					// and no check failing, the evidence says "not worse
					// beyond doubt" was not reached but "worse" was not
					// either: advance, so a healthy canary whose noisy
					// checks stay inconclusive is never aborted. Without
					// enough traffic nothing could be judged: abort.
					if d := r.lastDecision; judgedEnough(d) {
						r.decide(ctx, "advance", "analysis", fmt.Sprintf("no check failed within %s (inconclusive: %s)", o.duration, d.Reason), d)
						return nil, nil
					}
					reason := fmt.Sprintf("analysis could not judge the canary within %s", o.duration)
					if r.lastDecision != nil {
						reason += ": " + r.lastDecision.Reason
					}
					out, err := r.abort(ctx, "analysis", reason, r.lastDecision)
					return &out, err
				}
				return nil, nil
			}
		}
	}
}

// judge evaluates the canary against stable over what the proxy measured
// since the canary first got traffic.
func (r *run) judge(ctx context.Context, now time.Time) (analysis.Decision, error) {
	a := r.env.Rollout.Analysis
	total, recent, err := r.e.Meter.Samples(ctx, r.ro.App, r.ro.Env, r.ro.FromRelease, r.rel.Number, a.Window.D())
	if err != nil {
		return analysis.Decision{}, err
	}
	if r.baseline == nil {
		r.baseline = &total
	}
	in := analysis.Input{
		Stable: minus(total[0], r.baseline[0]), Canary: minus(total[1], r.baseline[1]),
		StableRecent: recent[0], CanaryRecent: recent[1], Window: a.Window.D(),
		StableRelease: r.ro.FromRelease, CanaryRelease: r.rel.Number, App: r.ro.App, Env: r.ro.Env,
	}
	if r.judgeImpl == nil {
		r.judgeImpl = r.e.newJudge(a)
	}
	d := r.judgeImpl.Evaluate(ctx, in, now)
	r.lastDecision = &d
	return d, nil
}

// startMeasuring takes the proxy's counters as the baseline the analysis
// compares from: what happened before the canary got traffic is not its.
func (r *run) startMeasuring(ctx context.Context) {
	if r.e.Meter == nil || r.baseline != nil {
		return
	}
	total, _, err := r.e.Meter.Samples(ctx, r.ro.App, r.ro.Env, r.ro.FromRelease, r.rel.Number, time.Second)
	if err != nil {
		r.log.Warn("analysis baseline", "err", err)
		return
	}
	r.baseline = &total
}

func (e *Executor) newJudge(a spec.Analysis) Judge {
	if e.NewJudge != nil {
		return e.NewJudge(a)
	}
	var extra []analysis.Checker
	if e.Checkers != nil {
		extra = e.Checkers(a)
	}
	return DefaultJudge(a, extra...)
}

// minus subtracts a baseline from cumulative counters.
func minus(a, b analysis.Sample) analysis.Sample {
	out := analysis.Sample{Requests: sub(a.Requests, b.Requests), Errors: sub(a.Errors, b.Errors),
		Latency: analysis.Histogram{Bounds: a.Latency.Bounds, Counts: make([]uint64, len(a.Latency.Counts))}}
	for i, c := range a.Latency.Counts {
		var base uint64
		if i < len(b.Latency.Counts) {
			base = b.Latency.Counts[i]
		}
		out.Latency.Counts[i] = sub(c, base)
	}
	return out
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// judgedEnough reports whether a decision had enough canary traffic to
// judge (its minimum-sample check did not wait) and no check failed.
func judgedEnough(d *analysis.Decision) bool {
	if d == nil || d.Verdict == analysis.Fail {
		return false
	}
	for _, c := range d.Checks {
		if c.Verdict == analysis.Fail || (c.Name == analysis.CheckMinRequests && c.Verdict == analysis.Wait) {
			return false
		}
	}
	return true
}
