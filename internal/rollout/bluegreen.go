// Package rollout moves an environment from one release to another. The
// blue-green executor starts the new release beside the old, gates it on
// health, switches the route atomically, drains the old instances and stops
// them. Each step is recorded so a restarted control plane can finish or
// cleanly fail a rollout that was interrupted.
package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/store"
)

// Store is what the executor records as it goes.
type Store interface {
	// SetRolloutInstances records which instances the rollout starts and
	// which it replaces.
	SetRolloutInstances(ctx context.Context, id int64, newIDs, oldIDs []string) error
	// SetRolloutPhase moves the rollout on; PhaseSwitched makes the new
	// release live in the same transaction.
	SetRolloutPhase(ctx context.Context, id int64, phase string) error
	// FinishRollout ends the rollout with a state and a reason.
	FinishRollout(ctx context.Context, id int64, state, reason string) error
	AddInstance(ctx context.Context, in store.Instance) error
	RemoveInstance(ctx context.Context, id string) error
	// Instances lists the recorded instances of (app, env).
	Instances(ctx context.Context, app, env string) ([]store.Instance, error)
}

// Runtime is the part of a driver the executor uses.
type Runtime interface {
	Start(ctx context.Context, spec driver.InstanceSpec) (driver.Instance, error)
	Stop(ctx context.Context, id string) error
	Status(ctx context.Context, id string) (driver.Instance, error)
}

// Router publishes routes to the data plane.
type Router interface {
	// Publish recomputes the routing table from the store's live releases
	// and makes the proxy use it; it returns once the proxy has swapped.
	Publish(ctx context.Context) error
	// Drain waits until no request is in flight to the given instances
	// (already out of the table), or the timeout passes.
	Drain(ctx context.Context, ids []string, timeout time.Duration) (remaining int, err error)
}

// Executor runs rollouts.
type Executor struct {
	Store    Store
	Runtime  Runtime
	Router   Router
	Gate     Gate
	Logger   *slog.Logger
	Artifact func(digest string) string // path of an artifact on disk
}

// Outcome is how a rollout ended.
type Outcome struct {
	State  string // store.RolloutSucceeded or store.RolloutFailed
	Reason string
}

// ErrInterrupted means the rollout was stopped by the control plane shutting
// down; it is left running in the store for the next start to recover.
var ErrInterrupted = errors.New("rollout interrupted by shutdown")

// BlueGreen runs rollout ro to release rel. It returns ErrInterrupted if ctx
// ends before the rollout is decided.
func (e *Executor) BlueGreen(ctx context.Context, ro store.Rollout, rel store.Release) (Outcome, error) {
	log := e.Logger.With("app", ro.App, "env", ro.Env, "release", rel.Number, "rollout", ro.ID)
	envSpec := rel.Spec.Environments[ro.Env]
	current, err := e.Store.Instances(ctx, ro.App, ro.Env)
	if err != nil {
		return Outcome{}, err
	}
	var oldIDs []string
	for _, in := range current {
		if in.Release == ro.FromRelease && ro.FromRelease != 0 {
			oldIDs = append(oldIDs, in.ID)
		}
	}
	newIDs := make([]string, envSpec.Replicas)
	for i := range newIDs {
		newIDs[i] = InstanceID(ro.App, ro.Env, rel.Number, i)
	}
	if err := e.Store.SetRolloutInstances(ctx, ro.ID, newIDs, oldIDs); err != nil {
		return Outcome{}, err
	}

	log.Info("starting new instances", "count", len(newIDs))
	if err := e.startAll(ctx, rel, newIDs); err != nil {
		if ctx.Err() != nil {
			return Outcome{}, ErrInterrupted
		}
		reason := err.Error()
		e.StopInstances(context.WithoutCancel(ctx), newIDs)
		if ferr := e.Store.FinishRollout(context.WithoutCancel(ctx), ro.ID, store.RolloutFailed, reason); ferr != nil {
			return Outcome{}, ferr
		}
		log.Warn("rollout failed; previous release keeps serving", "reason", reason)
		return Outcome{State: store.RolloutFailed, Reason: reason}, nil
	}

	if err := e.Store.SetRolloutPhase(ctx, ro.ID, store.PhaseSwitched); err != nil {
		if ctx.Err() != nil {
			return Outcome{}, ErrInterrupted
		}
		e.StopInstances(context.WithoutCancel(ctx), newIDs)
		return Outcome{}, fmt.Errorf("record the switch to release %d: %w", rel.Number, err)
	}
	return e.FinishSwitch(context.WithoutCancel(ctx), ro, oldIDs, rel.Spec.Run.DrainTimeout.D())
}

// FinishSwitch publishes the route of an already-switched rollout, drains
// and stops the old instances, and marks the rollout succeeded. Recovery
// calls it for rollouts found in PhaseSwitched.
func (e *Executor) FinishSwitch(ctx context.Context, ro store.Rollout, oldIDs []string, drain time.Duration) (Outcome, error) {
	log := e.Logger.With("app", ro.App, "env", ro.Env, "rollout", ro.ID)
	if err := retry(ctx, 20, 250*time.Millisecond, func() error { return e.Router.Publish(ctx) }); err != nil {
		// The store says the new release is live; the proxy will get the
		// table when it comes back (the control plane republishes).
		log.Error("publish routes after switch", "err", err)
	}
	if len(oldIDs) > 0 {
		if remaining, err := e.Router.Drain(ctx, oldIDs, drain); err != nil || remaining > 0 {
			log.Warn("old instances still had requests in flight after the drain timeout", "remaining", remaining, "err", err)
		}
		e.StopInstances(ctx, oldIDs)
	}
	if err := e.Store.FinishRollout(ctx, ro.ID, store.RolloutSucceeded, ""); err != nil {
		return Outcome{}, err
	}
	log.Info("rollout succeeded")
	return Outcome{State: store.RolloutSucceeded}, nil
}

// startAll starts every new instance and waits for all to pass the health
// gate; the first failure cancels the rest.
func (e *Executor) startAll(ctx context.Context, rel store.Release, ids []string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h := rel.Spec.Health
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst, err := e.Runtime.Start(ctx, driver.InstanceSpec{
				ID: id, App: rel.App, Env: rel.Env, Release: rel.Number,
				Artifact: e.Artifact(rel.Artifact), Command: rel.Spec.Run.Command,
				Environ: rel.Config, DrainTimeout: rel.Spec.Run.DrainTimeout.D(),
			})
			if err != nil {
				fail(fmt.Errorf("start instance %s: %w", id, err))
				return
			}
			if err := e.Store.AddInstance(context.WithoutCancel(ctx), store.Instance{ID: id, App: rel.App, Env: rel.Env, Release: rel.Number, Addr: inst.Addr}); err != nil {
				fail(err)
				return
			}
			if err := e.Gate.Wait(ctx, inst, h); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return first
}

// StopInstances stops and forgets instances, in parallel.
func (e *Executor) StopInstances(ctx context.Context, ids []string) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Runtime.Stop(ctx, id); err != nil {
				e.Logger.Error("stop instance", "instance", id, "err", err)
				return
			}
			if err := e.Store.RemoveInstance(ctx, id); err != nil {
				e.Logger.Error("forget instance", "instance", id, "err", err)
			}
		}()
	}
	wg.Wait()
}

// InstanceID names instance i of a release uniquely.
func InstanceID(app, env string, release, i int) string {
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s-%s-r%d-%d-%s", app, env, release, i, hex.EncodeToString(b))
}

func retry(ctx context.Context, attempts int, wait time.Duration, fn func() error) error {
	var err error
	for range attempts {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	return err
}
