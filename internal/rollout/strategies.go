package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// blueGreen starts the whole new release beside the old, optionally shows
// it on a preview host and waits for promotion, then switches all traffic
// at once.
func (r *run) blueGreen(ctx context.Context) (Outcome, error) {
	if out, err := r.startRelease(ctx); out != nil || err != nil {
		return deref(out), err
	}
	ro := r.env.Rollout
	// A first deploy has nothing to protect: no preview, no promotion gate.
	if r.ro.Strategy == spec.StrategyBlueGreen && r.ro.FromRelease != 0 && (ro.PreviewHost != "" || ro.Promotion == "manual" || ro.PromoteAfter > 0) {
		what := "new release healthy"
		if ro.PreviewHost != "" {
			what += fmt.Sprintf(", previewing on %s", ro.PreviewHost)
		}
		if err := r.progress(ctx, store.PhaseProgress, 0, 0, what); err != nil {
			return Outcome{}, err
		}
		if err := r.e.Router.Publish(ctx); err != nil {
			r.log.Error("publish preview route", "err", err)
		}
		o := waitOpts{what: what + fmt.Sprintf("; switching in %s (or `slipway rollout promote`)", ro.PromoteAfter.D()), duration: ro.PromoteAfter.D()}
		if ro.Promotion == "manual" {
			o = waitOpts{what: what + "; waiting for `slipway rollout promote`", manual: true}
		}
		if out, err := r.wait(ctx, o); out != nil || err != nil {
			return deref(out), err
		}
	}
	return r.switchAll(ctx)
}

// canary starts the new release, then walks the steps: weights shift a
// share of clients to it, pauses hold, analysis steps wait for a passing
// verdict; throughout, while the canary has traffic, the judge may abort.
// After the last step the canary gets everything.
func (r *run) canary(ctx context.Context) (Outcome, error) {
	if r.ro.FromRelease == 0 {
		return r.blueGreen(ctx) // a first deploy has nothing to compare with
	}
	if out, err := r.startRelease(ctx); out != nil || err != nil {
		return deref(out), err
	}
	steps := r.env.Rollout.Steps
	weight := 0
	for i, st := range steps {
		label := fmt.Sprintf("step %d/%d", i+1, len(steps))
		var out *Outcome
		var err error
		switch {
		case st.Weight != nil:
			weight = *st.Weight
			if weight > 0 {
				r.startMeasuring(ctx)
			}
			if err := r.progress(ctx, store.PhaseProgress, i, weight, fmt.Sprintf("%s: %d%% of clients on release %d", label, weight, r.rel.Number)); err != nil {
				return Outcome{}, err
			}
			if err := r.e.Router.Publish(ctx); err != nil {
				return r.abort(ctx, "proxy", "could not publish the canary weight: "+err.Error(), nil)
			}
			r.decide(ctx, "advance", "schedule", fmt.Sprintf("%s: weight %d%%", label, weight), nil)
			continue
		case st.Pause == "manual":
			out, err = r.wait(ctx, waitOpts{what: fmt.Sprintf("%s: paused at %d%%; waiting for `slipway rollout promote`", label, weight), manual: true, judge: weight > 0})
		case st.Pause != "":
			d, perr := time.ParseDuration(st.Pause)
			if perr != nil {
				return r.abort(ctx, "spec", fmt.Sprintf("%s: pause %q is not a duration", label, st.Pause), nil)
			}
			out, err = r.wait(ctx, waitOpts{what: fmt.Sprintf("%s: pause %s at %d%%", label, d, weight), duration: d, judge: weight > 0})
		case st.Analysis > 0:
			out, err = r.wait(ctx, waitOpts{what: fmt.Sprintf("%s: analysis at %d%% (up to %s)", label, weight, st.Analysis.D()),
				duration: st.Analysis.D(), judge: true, untilPass: true})
		}
		if out != nil || err != nil {
			return deref(out), err
		}
		if err := r.progress(ctx, store.PhaseProgress, i+1, weight, label+" done"); err != nil {
			return Outcome{}, err
		}
	}
	r.decide(ctx, "promote", "schedule", fmt.Sprintf("all %d steps passed; release %d takes all traffic", len(steps), r.rel.Number), r.lastDecision)
	return r.switchAll(ctx)
}

// flip rolls back to an earlier release whose instances are still warm:
// a route switch, no start, no analysis. If any warm instance does not
// answer its health check it falls back to a fresh blue-green.
func (r *run) flip(ctx context.Context) (Outcome, error) {
	var err error
	if r.oldIDs, err = r.oldInstances(ctx); err != nil {
		return Outcome{}, err
	}
	insts, err := r.e.Store.Instances(ctx, r.ro.App, r.ro.Env)
	if err != nil {
		return Outcome{}, err
	}
	var warm []string
	for _, in := range insts {
		if in.Release != r.rel.Number || !in.Ready {
			continue
		}
		st, err := r.e.Runtime.Status(ctx, in.ID)
		if err != nil || r.e.Gate.probe(ctx, "http://"+st.Addr+r.rel.Spec.Health.Path, r.rel.Spec.Health.Timeout.D()) != "" {
			r.log.Warn("warm instance not healthy; rolling back the slow way", "instance", in.ID)
			warm = nil
			break
		}
		warm = append(warm, in.ID)
	}
	if len(warm) == 0 {
		r.ro.Strategy = spec.StrategyBlueGreen
		return r.blueGreen(ctx)
	}
	r.newIDs = warm
	if err := r.e.Store.SetRolloutInstances(ctx, r.ro.ID, r.newIDs, r.oldIDs); err != nil {
		return Outcome{}, err
	}
	if err := r.e.Store.SetWarm(ctx, warm, time.Time{}); err != nil {
		return Outcome{}, err
	}
	r.decide(ctx, "promote", "schedule", fmt.Sprintf("release %d still warm (%d instances): route flip", r.rel.Number, len(warm)), nil)
	return r.switchAll(ctx)
}

// startRelease notes the old instances and starts the whole new release
// beside them. A non-nil Outcome means it failed (and was recorded).
func (r *run) startRelease(ctx context.Context) (*Outcome, error) {
	var err error
	if r.oldIDs, err = r.oldInstances(ctx); err != nil {
		return nil, err
	}
	ids, err := r.startNew(ctx, r.env.Replicas)
	if err == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	out, err := r.fail(ctx, ids, err.Error())
	return &out, err
}

func deref(o *Outcome) Outcome {
	if o == nil {
		return Outcome{}
	}
	return *o
}
