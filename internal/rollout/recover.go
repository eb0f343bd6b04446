package rollout

import (
	"context"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// What a restarted control plane does with a rollout it finds running.
const (
	RecoverFinish = "finish" // traffic already switched: drain and stop the old, succeed
	RecoverResume = "resume" // a rolling update: continue from the recorded instances
	RecoverAbort  = "abort"  // a canary with traffic: all traffic back to stable, stop it
	RecoverFail   = "fail"   // nothing switched: stop the new instances, fail
)

// RecoveryAction decides the fate of an interrupted rollout, pure. A canary
// is aborted rather than resumed because its analysis baseline is gone: a
// judge that restarts from nothing could pass a bad canary.
func RecoveryAction(strategy, phase string) string {
	switch {
	case phase == store.PhaseSwitched:
		return RecoverFinish
	case phase == store.PhaseProgress && strategy == spec.StrategyRolling:
		return RecoverResume
	case phase == store.PhaseProgress && strategy == spec.StrategyCanary:
		return RecoverAbort
	default:
		return RecoverFail
	}
}

// AbortInterrupted aborts a canary found running after a restart.
func (e *Executor) AbortInterrupted(ctx context.Context, ro store.Rollout, rel store.Release, reason string) (Outcome, error) {
	r := &run{e: e, ro: ro, rel: rel, ctl: NewControl(), env: rel.Spec.Environments[ro.Env], newIDs: ro.NewInstances,
		log: e.Logger.With("app", ro.App, "env", ro.Env, "release", rel.Number, "rollout", ro.ID)}
	return r.abort(ctx, "restart", reason, nil)
}
