package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/rollout"
	"github.com/slipway-dev/slipway/internal/store"
)

// recover brings the world back in line with the store after a start:
// instances are re-adopted (not restarted), interrupted rollouts are
// finished (if traffic had switched) or cleanly failed (if not), missing
// instances of live releases are replaced, strays are stopped, and the
// routing table is republished.
func (cp *ControlPlane) recover(ctx context.Context) error {
	found, err := cp.driver.Recover(ctx)
	if err != nil {
		return fmt.Errorf("re-adopt instances: %w", err)
	}
	alive := map[string]driver.Instance{}
	for _, in := range found {
		if in.State != driver.StateStopped {
			alive[in.ID] = in
		}
	}
	cp.log.Info("re-adopted instances", "running", len(alive), "found", len(found))

	running, err := cp.store.Rollouts(ctx, "", "", true, 1000)
	if err != nil {
		return err
	}
	inRollout := map[string]bool{}
	for _, ro := range running {
		for _, id := range ro.NewInstances {
			inRollout[id] = true
		}
		for _, id := range ro.OldInstances {
			inRollout[id] = true
		}
		if err := cp.recoverRollout(ctx, ro); err != nil {
			return err
		}
	}

	// Replace instances of live releases that died with the machine or
	// their supervisor; stop anything the store does not want.
	envs, err := cp.store.Environments(ctx)
	if err != nil {
		return err
	}
	live := map[[2]string]int{}
	for _, e := range envs {
		live[[2]string{e.App, e.Env}] = e.LiveRelease
	}
	recorded, err := cp.store.Instances(ctx, "", "")
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, in := range recorded {
		known[in.ID] = true
		if _, ok := alive[in.ID]; ok {
			continue
		}
		if live[[2]string{in.App, in.Env}] == in.Release {
			if err := cp.replaceInstance(ctx, in); err != nil {
				cp.log.Error("replace dead instance", "instance", in.ID, "err", err)
			}
			continue
		}
		if err := cp.store.RemoveInstance(ctx, in.ID); err != nil {
			return err
		}
	}
	for id := range alive {
		if !known[id] && !inRollout[id] {
			cp.log.Warn("stopping instance the store does not know", "instance", id)
			if err := cp.driver.Stop(ctx, id); err != nil {
				cp.log.Error("stop stray instance", "instance", id, "err", err)
			}
		}
	}
	return cp.router.Publish(ctx)
}

// recoverRollout acts on a rollout left running by an earlier process, as
// rollout.RecoveryAction decides: finish it after a switch, resume a
// rolling update, abort a canary, or fail one that never switched (the
// previous release kept serving).
func (cp *ControlPlane) recoverRollout(ctx context.Context, ro store.Rollout) error {
	log := cp.log.With("rollout", ro.ID, "app", ro.App, "env", ro.Env)
	rel, err := cp.store.Release(ctx, ro.App, ro.Env, ro.ToRelease)
	if err != nil {
		return err
	}
	action := rollout.RecoveryAction(ro.Strategy, ro.Phase)
	log.Info("recovering interrupted rollout", "action", action, "phase", ro.Phase, "strategy", ro.Strategy)
	switch action {
	case rollout.RecoverFinish:
		// Draining may take up to the drain timeout; the API serves
		// meanwhile and the rollout stays running (so it still conflicts).
		keep := rel.Spec.Environments[ro.Env].Rollout.KeepPrevious.D()
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			if _, err := cp.exec.FinishSwitch(context.WithoutCancel(cp.ctx), ro, ro.OldInstances, rel.Spec.Run.DrainTimeout.D(), keep); err != nil {
				log.Error("finish interrupted rollout", "err", err)
			}
		}()
		return nil
	case rollout.RecoverResume:
		cp.runRollout(ro, rel)
		return nil
	case rollout.RecoverAbort:
		_, err := cp.exec.AbortInterrupted(ctx, ro, rel, "the control plane restarted during the canary; aborted to stay safe (its analysis could not continue). Deploy again.")
		return err
	}
	cp.exec.StopInstances(ctx, ro.NewInstances)
	reason := "interrupted: the control plane stopped before traffic was switched; the previous release kept serving. Deploy again."
	return cp.store.FinishRollout(ctx, ro.ID, store.RolloutFailed, reason)
}

// replaceInstance starts a new instance in place of a dead one of a live
// release, waits for it to be healthy, and swaps the records.
func (cp *ControlPlane) replaceInstance(ctx context.Context, dead store.Instance) error {
	rel, err := cp.store.Release(ctx, dead.App, dead.Env, dead.Release)
	if err != nil {
		return err
	}
	secretEnv, files, err := cp.releaseSecrets(ctx, rel)
	if err != nil {
		return err
	}
	environ, err := cp.exec.InstanceEnviron(ctx, rel)
	if err != nil {
		return err
	}
	id := rollout.InstanceID(dead.App, dead.Env, dead.Release, 0)
	inst, err := cp.driver.Start(ctx, driver.InstanceSpec{ID: id, App: rel.App, Env: rel.Env, Release: rel.Number,
		Artifact: cp.artifactPath(rel.Artifact), Command: rel.Spec.Run.Command, Environ: environ,
		DrainTimeout: rel.Spec.Run.DrainTimeout.D(), SecretEnv: secretEnv, Files: files})
	if err != nil {
		return err
	}
	if err := cp.store.AddInstance(ctx, store.Instance{ID: id, App: rel.App, Env: rel.Env, Release: rel.Number, Addr: inst.Addr}); err != nil {
		return err
	}
	if err := cp.exec.Gate.Wait(ctx, inst, rel.Spec.Health); err != nil {
		cp.exec.StopInstances(ctx, []string{id})
		return errors.Join(errors.New("replacement never became healthy"), err)
	}
	if err := cp.store.SetInstanceReady(ctx, id, true); err != nil {
		return err
	}
	cp.log.Info("replaced dead instance", "dead", dead.ID, "new", id)
	return cp.store.RemoveInstance(ctx, dead.ID)
}

// reapWarm stops instances of superseded releases whose warm window has
// passed, unless a rollout is using them.
func (cp *ControlPlane) reapWarm(ctx context.Context) {
	insts, err := cp.store.Instances(ctx, "", "")
	if err != nil {
		cp.log.Error("list instances", "err", err)
		return
	}
	running, err := cp.store.Rollouts(ctx, "", "", true, 1000)
	if err != nil {
		return
	}
	busy := map[string]bool{}
	for _, ro := range running {
		for _, id := range append(ro.NewInstances, ro.OldInstances...) {
			busy[id] = true
		}
	}
	now := time.Now()
	var expired []string
	for _, in := range insts {
		if !in.WarmUntil.IsZero() && now.After(in.WarmUntil) && !busy[in.ID] {
			live, err := cp.store.LiveRelease(ctx, in.App, in.Env)
			if err == nil && live != in.Release {
				expired = append(expired, in.ID)
			}
		}
	}
	if len(expired) > 0 {
		cp.log.Info("stopping instances whose warm window ended", "count", len(expired))
		cp.exec.StopInstances(ctx, expired)
	}
}
