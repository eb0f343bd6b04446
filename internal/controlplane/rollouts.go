package controlplane

import (
	"context"
	"fmt"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/rollout"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// RolloutCommand implements api.Service.
func (cp *ControlPlane) RolloutCommand(ctx context.Context, app, env, command, actor string) (store.Rollout, error) {
	switch command {
	case rollout.CmdPromote, rollout.CmdPause, rollout.CmdResume, rollout.CmdAbort:
	default:
		return store.Rollout{}, fmt.Errorf("%w: unknown rollout command %q; use promote, pause, resume or abort", api.ErrInvalid, command)
	}
	ro, ctl, err := cp.control(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	if ro.Phase == store.PhaseStarting && command == rollout.CmdPromote {
		return ro, fmt.Errorf("%w: rollout %d is still starting release %d's instances; promote once they are healthy", api.ErrInvalid, ro.ID, ro.ToRelease)
	}
	if !ctl.Send(rollout.Command{Kind: command, Actor: actor}) {
		return ro, fmt.Errorf("rollout %d has too many commands pending; try again: %w", ro.ID, store.ErrConflict)
	}
	return ro, nil
}

// RolloutStatus implements api.Service.
func (cp *ControlPlane) RolloutStatus(ctx context.Context, app, env string) (api.RolloutStatus, error) {
	ros, err := cp.store.Rollouts(ctx, app, env, false, 1)
	if err != nil {
		return api.RolloutStatus{}, err
	}
	if len(ros) == 0 {
		if _, err := cp.store.LiveRelease(ctx, app, env); err != nil {
			return api.RolloutStatus{}, err
		}
		return api.RolloutStatus{}, fmt.Errorf("%s/%s has had no rollout yet: %w", app, env, store.ErrNotFound)
	}
	ro := ros[0]
	st := api.RolloutStatus{Rollout: ro}
	if rel, err := cp.store.Release(ctx, app, env, ro.ToRelease); err == nil {
		r := rel.Spec.Environments[env].Rollout
		if ro.Strategy == spec.StrategyCanary {
			st.Steps = r.Steps
		}
		d := r.ProgressDeadline.D()
		if d <= 0 {
			d = spec.DefaultProgressDeadline.D()
		}
		st.Deadline = d.String()
	}
	if st.Decisions, err = cp.store.Decisions(ctx, ro.ID); err != nil {
		return st, err
	}
	return st, nil
}

// Rollouts implements api.Service.
func (cp *ControlPlane) Rollouts(ctx context.Context, app, env string, limit int) ([]store.Rollout, error) {
	if _, err := cp.store.LiveRelease(ctx, app, env); err != nil {
		return nil, err
	}
	return cp.store.Rollouts(ctx, app, env, false, limit)
}
