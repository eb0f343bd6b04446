package rollout

import (
	"context"
	"fmt"

	"github.com/slipway-dev/slipway/internal/store"
)

// Batch is one step of a rolling update: start Start new instances, then
// take Stop old ones out.
type Batch struct{ Start, Stop int }

// NextBatch decides the next rolling batch from the ready counts, pure.
// At most replicas+surge instances exist at any time and at least
// replicas-unavailable are ready after each batch. A zero Batch means done.
func NextBatch(oldReady, newReady, replicas, surge, unavailable int) Batch {
	surge = max(surge, 1)
	unavailable = max(min(unavailable, replicas-1), 0)
	start := min(replicas-newReady, replicas+surge-(oldReady+newReady))
	start = max(start, 0)
	stop := min(oldReady, oldReady+newReady+start-(replicas-unavailable))
	if newReady+start >= replicas {
		stop = oldReady // the new release is complete: retire the rest
	}
	return Batch{Start: start, Stop: max(stop, 0)}
}

// rolling replaces the old instances in batches, each gated on health.
// It works from the recorded state, so a restarted control plane resumes it
// where it stopped. If a batch fails, the old release is made whole again
// and the new instances leave.
func (r *run) rolling(ctx context.Context) (Outcome, error) {
	if r.ro.FromRelease == 0 {
		return r.blueGreen(ctx)
	}
	surge, unavailable := r.env.Rollout.MaxSurge, r.env.Rollout.MaxUnavailable
	replicas := r.env.Replicas
	// From here on, the route takes ready new instances beside the old.
	if err := r.progress(ctx, store.PhaseProgress, r.ro.Step, r.ro.Weight, "rolling update"); err != nil {
		return Outcome{}, err
	}
	for step := r.ro.Step; ; step++ {
		oldReady, newReady, err := r.readyByRelease(ctx)
		if err != nil {
			return Outcome{}, err
		}
		b := NextBatch(len(oldReady), len(newReady), replicas, surge, unavailable)
		if b.Start == 0 && b.Stop == 0 {
			break
		}
		if b.Start > 0 {
			if _, err := r.startNew(ctx, b.Start); err != nil {
				if ctx.Err() != nil {
					return Outcome{}, ErrInterrupted
				}
				return r.revertRolling(ctx, err.Error())
			}
			if err := r.e.Router.Publish(ctx); err != nil {
				return r.revertRolling(ctx, "publish routes: "+err.Error())
			}
		}
		if b.Stop > 0 {
			r.retire(ctx, oldReady[:b.Stop])
		}
		pct := 100 * (len(newReady) + b.Start) / replicas
		if err := r.progress(ctx, store.PhaseProgress, step+1, min(pct, 100),
			fmt.Sprintf("batch %d: %d new, %d old stopped", step+1, b.Start, b.Stop)); err != nil {
			return Outcome{}, err
		}
	}
	r.oldIDs = nil // all retired batch by batch
	return r.switchAll(ctx)
}

// readyByRelease lists the ready instances of the old and new releases.
func (r *run) readyByRelease(ctx context.Context) (old, new []string, err error) {
	insts, err := r.e.Store.Instances(ctx, r.ro.App, r.ro.Env)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range insts {
		switch {
		case !in.Ready:
		case in.Release == r.ro.FromRelease:
			old = append(old, in.ID)
		case in.Release == r.rel.Number:
			new = append(new, in.ID)
		}
	}
	return old, new, nil
}

// retire takes instances out of the route, drains and stops them.
func (r *run) retire(ctx context.Context, ids []string) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range ids {
		if err := r.e.Store.SetInstanceReady(ctx, id, false); err != nil {
			r.log.Error("take instance out of the route", "instance", id, "err", err)
		}
	}
	if err := r.e.Router.Publish(ctx); err != nil {
		r.log.Error("publish routes", "err", err)
	}
	if remaining, err := r.e.Router.Drain(ctx, ids, r.rel.Spec.Run.DrainTimeout.D()); err != nil || remaining > 0 {
		r.log.Warn("instances still had requests in flight after the drain timeout", "remaining", remaining, "err", err)
	}
	r.e.StopInstances(ctx, ids)
}

// revertRolling makes the old release whole again (starting replacements
// for the instances already retired), then retires every new instance and
// fails the rollout.
func (r *run) revertRolling(ctx context.Context, reason string) (Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	r.log.Warn("rolling update failed; restoring the previous release", "reason", reason)
	oldReady, newReady, err := r.readyByRelease(ctx)
	if err != nil {
		return Outcome{}, err
	}
	if missing := r.env.Replicas - len(oldReady); missing > 0 {
		prev, err := r.e.Store.Release(ctx, r.ro.App, r.ro.Env, r.ro.FromRelease)
		if err == nil {
			ids := make([]string, missing)
			for i := range ids {
				ids[i] = InstanceID(r.ro.App, r.ro.Env, prev.Number, len(oldReady)+i)
			}
			err = r.e.startAll(ctx, prev, ids)
			if err != nil {
				r.e.StopInstances(ctx, ids)
			}
		}
		if err != nil {
			reason += fmt.Sprintf("; restoring release %d also failed (%v): it runs with %d of %d instances", r.ro.FromRelease, err, len(oldReady), r.env.Replicas)
		}
	}
	r.retire(ctx, newReady)
	return r.fail(ctx, r.newIDs, reason)
}
