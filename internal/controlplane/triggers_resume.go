package controlplane

import (
	"context"

	"github.com/slipway-dev/slipway/internal/store"
)

// A restart must not lose what a push's run was meant to do. A run cut off
// by a shutdown or a restart is queued again (runs.go: requeues) and acted
// on when that attempt ends. A run that ended while its follow-up was cut
// off is taken up by the next start: one with no result yet is acted on
// from the beginning, and one whose delivery was waiting for its rollout
// has that rollout (which the restart recovered) watched to its end.

// acting marks run id as being acted on; false if it already is.
func (t *triggers) acting(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.busy[id] {
		return false
	}
	t.busy[id] = true
	return true
}

func (t *triggers) done(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.busy, id)
}

// resume takes up, each in a goroutine of the control plane, the runs that
// ended without their follow-up being done.
func (t *triggers) resume(ctx context.Context) {
	left, err := t.cp.store.UnfinishedTriggerRuns(ctx, deployingPrefix)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("find triggered runs whose end was not acted on", "err", err)
		}
		return
	}
	for _, tr := range left {
		t.cp.wg.Add(1)
		go func() {
			defer t.cp.wg.Done()
			t.resumeRun(ctx, tr.RunID)
		}()
	}
}

func (t *triggers) resumeRun(ctx context.Context, id int64) {
	if !t.acting(id) {
		return // its listener has it
	}
	defer t.done(id)
	tr, err := t.cp.store.TriggerRunOf(ctx, id)
	var run store.Run
	if err == nil {
		run, err = t.cp.store.Run(ctx, id)
	}
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("read a triggered run to act on its end", "run", id, "err", err)
		}
		return
	}
	if tr.Result == "" {
		t.log.Info("acting on the end of a triggered run that an earlier process did not act on", "run", id, "app", run.App)
		t.act(ctx, run, tr)
		return
	}
	rid, midway := deployingRollout(tr.Result)
	if !midway {
		return // acted on since it was listed
	}
	ro, err := t.cp.store.Rollout(ctx, rid)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("read the rollout of a triggered run", "run", id, "rollout", rid, "err", err)
		}
		return
	}
	l := t.lock(run.App + "/" + tr.Target)
	l.Lock()
	defer l.Unlock()
	t.log.Info("watching the rollout of a triggered run again after a restart", "run", id, "app", run.App, "env", tr.Target, "rollout", rid)
	t.watch(ctx, run, tr.Target, ro)
}
