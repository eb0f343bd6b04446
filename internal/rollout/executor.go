// Package rollout moves an environment from one release to another under a
// strategy: blue-green (optionally with a preview host and manual
// promotion), canary (weighted steps judged by analysis), rolling (batches),
// or a flip back to warm instances of an earlier release. Every step is
// recorded so a restarted control plane can finish, resume or cleanly undo
// a rollout that was interrupted.
package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/spec"
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
	// SetRolloutProgress records the step and canary weight reached.
	SetRolloutProgress(ctx context.Context, id int64, phase string, step, weight int, message string) error
	// SetRolloutMessage says what the rollout is doing, without progress.
	SetRolloutMessage(ctx context.Context, id int64, message string) error
	// SetRolloutAwaiting records that the rollout waits at a manual gate.
	SetRolloutAwaiting(ctx context.Context, id int64, awaiting bool) error
	// SetRolloutPaused records a hold or its release.
	SetRolloutPaused(ctx context.Context, id int64, paused bool) error
	// FinishRollout ends the rollout with a state and a reason.
	FinishRollout(ctx context.Context, id int64, state, reason string) error
	// AddDecision records a decision and its evidence.
	AddDecision(ctx context.Context, d store.Decision) error
	AddInstance(ctx context.Context, in store.Instance) error
	SetInstanceReady(ctx context.Context, id string, ready bool) error
	SetWarm(ctx context.Context, ids []string, until time.Time) error
	RemoveInstance(ctx context.Context, id string) error
	// Instances lists the recorded instances of (app, env).
	Instances(ctx context.Context, app, env string) ([]store.Instance, error)
	// Release returns a release (the one a rolling update replaces).
	Release(ctx context.Context, app, env string, n int) (store.Release, error)
	// RevertSwitch makes the previous release live again and fails the
	// rollout, after its post-deploy checks failed.
	RevertSwitch(ctx context.Context, id int64, reason string) error
}

// Runtime is the part of a driver the executor uses.
type Runtime interface {
	Start(ctx context.Context, spec driver.InstanceSpec) (driver.Instance, error)
	Stop(ctx context.Context, id string) error
	Status(ctx context.Context, id string) (driver.Instance, error)
}

// Router publishes routes to the data plane.
type Router interface {
	// Publish recomputes the routing table from the store (live releases,
	// ready instances, canary weights, preview hosts) and makes the proxy
	// use it; it returns once the proxy has swapped.
	Publish(ctx context.Context) error
	// Drain waits until no request is in flight to the given instances
	// (already out of the table), or the timeout passes.
	Drain(ctx context.Context, ids []string, timeout time.Duration) (remaining int, err error)
}

// Meter reads what the proxy measured per release.
type Meter interface {
	// Samples returns, for the stable and canary releases of (app, env),
	// the totals since the proxy started and the last window.
	Samples(ctx context.Context, app, env string, stable, canary int, window time.Duration) (total, recent [2]analysis.Sample, err error)
}

// Executor runs rollouts.
type Executor struct {
	Store    Store
	Runtime  Runtime
	Router   Router
	Meter    Meter
	Gate     Gate
	Logger   *slog.Logger
	Artifact func(digest string) string // path of an artifact on disk
	// NewJudge builds the judge for a canary's analysis settings; nil
	// uses DefaultJudge.
	NewJudge func(spec.Analysis) Judge
	// Checkers, when set, adds checks to DefaultJudge's for a canary's
	// analysis settings (the error tracker's); unused with NewJudge.
	Checkers func(spec.Analysis) []analysis.Checker
	// Environ returns the environment of a release's instances: its
	// config plus what the control plane adds (SENTRY_DSN, ...); nil
	// means the config alone.
	Environ func(ctx context.Context, rel store.Release) (map[string]string, error)
	// Tick is how often waits re-check deadlines and commands when no
	// analysis runs. Default 200ms.
	Tick time.Duration
	// Smoke runs post-deploy checks; nil skips them.
	Smoke *Smoke
	// Secrets returns, decrypted, the secrets that a release's instances
	// get as environment variables and as files; nil means none.
	Secrets func(ctx context.Context, rel store.Release) (env map[string]string, files map[string]driver.File, err error)
}

// Judge decides on a canary from an analysis input.
type Judge interface {
	Evaluate(ctx context.Context, in analysis.Input, now time.Time) analysis.Decision
}

// Outcome is how a rollout ended.
type Outcome struct {
	State  string // store.RolloutSucceeded, RolloutFailed or RolloutAborted
	Reason string
}

// ErrInterrupted means the rollout was stopped by the control plane shutting
// down; it is left running in the store for the next start to recover.
var ErrInterrupted = errors.New("rollout interrupted by shutdown")

// Strategy names beyond the spec's: a flip back to warm instances.
const StrategyFlip = "flip"

// Run executes rollout ro to release rel under ro.Strategy, obeying ctl.
func (e *Executor) Run(ctx context.Context, ro store.Rollout, rel store.Release, ctl *Control) (Outcome, error) {
	r := &run{e: e, ro: ro, rel: rel, ctl: ctl, env: rel.Spec.Environments[ro.Env],
		log: e.Logger.With("app", ro.App, "env", ro.Env, "release", rel.Number, "rollout", ro.ID, "strategy", ro.Strategy)}
	r.lastProgress = time.Now()
	r.newIDs = append([]string(nil), ro.NewInstances...) // a resumed rolling update keeps its own
	var out Outcome
	var err error
	switch ro.Strategy {
	case StrategyFlip:
		out, err = r.flip(ctx)
	case spec.StrategyCanary:
		out, err = r.canary(ctx)
	case spec.StrategyRolling:
		out, err = r.rolling(ctx)
	default:
		out, err = r.blueGreen(ctx)
	}
	if err != nil && ctx.Err() != nil {
		return Outcome{}, ErrInterrupted
	}
	return out, err
}

// run is one rollout in progress.
type run struct {
	e            *Executor
	ro           store.Rollout
	rel          store.Release
	env          spec.Environment
	ctl          *Control
	log          *slog.Logger
	lastProgress time.Time
	newIDs       []string
	oldIDs       []string
	baseline     *[2]analysis.Sample // proxy totals when the canary first got traffic
	judgeImpl    Judge
	lastDecision *analysis.Decision
}

// oldInstances are the instances of the release being replaced.
func (r *run) oldInstances(ctx context.Context) ([]string, error) {
	current, err := r.e.Store.Instances(ctx, r.ro.App, r.ro.Env)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range current {
		if r.ro.FromRelease != 0 && in.Release == r.ro.FromRelease {
			ids = append(ids, in.ID)
		}
	}
	return ids, nil
}

// startNew starts n instances of the new release and gates them all; the
// first failure cancels the rest. Started IDs are recorded on the rollout
// before anything starts.
func (r *run) startNew(ctx context.Context, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = InstanceID(r.ro.App, r.ro.Env, r.rel.Number, len(r.newIDs)+i)
	}
	r.newIDs = append(r.newIDs, ids...)
	if err := r.e.Store.SetRolloutInstances(ctx, r.ro.ID, r.newIDs, r.oldIDs); err != nil {
		return nil, err
	}
	r.message(ctx, fmt.Sprintf("starting %d instance(s) of release %d", n, r.rel.Number))
	return ids, r.e.startAll(ctx, r.rel, ids)
}

// fail stops the new instances and records the failure; the old release
// never stopped serving.
func (r *run) fail(ctx context.Context, ids []string, reason string) (Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	r.e.StopInstances(ctx, ids)
	if err := r.e.Store.FinishRollout(ctx, r.ro.ID, store.RolloutFailed, reason); err != nil {
		return Outcome{}, err
	}
	r.log.Warn("rollout failed; previous release keeps serving", "reason", reason)
	return Outcome{State: store.RolloutFailed, Reason: reason}, nil
}

// abort takes all traffic back to stable (first, and fast), stops the new
// instances and records why.
func (r *run) abort(ctx context.Context, actor, reason string, evidence any) (Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	if err := r.e.Store.SetRolloutProgress(ctx, r.ro.ID, store.PhaseProgress, r.ro.Step, 0, "aborting: "+reason); err != nil {
		return Outcome{}, err
	}
	if err := retry(ctx, 20, 100*time.Millisecond, func() error { return r.e.Router.Publish(ctx) }); err != nil {
		r.log.Error("publish stable-only routes on abort", "err", err)
	}
	r.decide(ctx, "abort", actor, reason, evidence)
	r.e.StopInstances(ctx, r.newIDs)
	if err := r.e.Store.FinishRollout(ctx, r.ro.ID, store.RolloutAborted, reason); err != nil {
		return Outcome{}, err
	}
	r.log.Warn("rollout aborted; all traffic back on stable", "reason", reason, "actor", actor)
	return Outcome{State: store.RolloutAborted, Reason: reason}, nil
}

// switchAll makes the new release live and retires the old instances.
func (r *run) switchAll(ctx context.Context) (Outcome, error) {
	if err := r.e.Store.SetRolloutPhase(ctx, r.ro.ID, store.PhaseSwitched); err != nil {
		if ctx.Err() != nil {
			return Outcome{}, ErrInterrupted
		}
		return r.fail(ctx, r.newIDs, fmt.Sprintf("record the switch to release %d: %v", r.rel.Number, err))
	}
	if len(r.env.Smoke) > 0 {
		if err := retry(ctx, 20, 100*time.Millisecond, func() error { return r.e.Router.Publish(ctx) }); err != nil {
			r.log.Error("publish routes after switch", "err", err)
		}
		if out, err := r.verify(ctx); out != nil || err != nil {
			return deref(out), err
		}
	}
	return r.e.FinishSwitch(context.WithoutCancel(ctx), r.ro, r.oldIDs, r.rel.Spec.Run.DrainTimeout.D(), r.env.Rollout.KeepPrevious.D())
}

// FinishSwitch publishes the route of an already-switched rollout, drains
// the old instances and stops them (or keeps them warm for keep), and marks
// the rollout succeeded. Recovery calls it for rollouts found switched.
func (e *Executor) FinishSwitch(ctx context.Context, ro store.Rollout, oldIDs []string, drain, keep time.Duration) (Outcome, error) {
	log := e.Logger.With("app", ro.App, "env", ro.Env, "rollout", ro.ID)
	if err := retry(ctx, 20, 250*time.Millisecond, func() error { return e.Router.Publish(ctx) }); err != nil {
		// The store says the new release is live; the proxy gets the
		// table when it comes back (the control plane republishes).
		log.Error("publish routes after switch", "err", err)
	}
	if len(oldIDs) > 0 {
		if remaining, err := e.Router.Drain(ctx, oldIDs, drain); err != nil || remaining > 0 {
			log.Warn("old instances still had requests in flight after the drain timeout", "remaining", remaining, "err", err)
		}
		if keep > 0 {
			if err := e.Store.SetWarm(ctx, oldIDs, time.Now().Add(keep)); err != nil {
				log.Error("keep previous release warm", "err", err)
				e.StopInstances(ctx, oldIDs)
			}
		} else {
			e.StopInstances(ctx, oldIDs)
		}
	}
	if err := e.Store.FinishRollout(ctx, ro.ID, store.RolloutSucceeded, ""); err != nil {
		return Outcome{}, err
	}
	log.Info("rollout succeeded")
	return Outcome{State: store.RolloutSucceeded}, nil
}

// progress records a completed step: it resets the progress deadline.
func (r *run) progress(ctx context.Context, phase string, step, weight int, message string) error {
	r.ro.Phase, r.ro.Step, r.ro.Weight = phase, step, weight
	r.lastProgress = time.Now()
	return r.e.Store.SetRolloutProgress(ctx, r.ro.ID, phase, step, weight, message)
}

func (r *run) message(ctx context.Context, msg string) {
	if err := r.e.Store.SetRolloutMessage(ctx, r.ro.ID, msg); err != nil {
		r.log.Warn("record rollout message", "err", err)
	}
}

// decide records a decision with its evidence.
func (r *run) decide(ctx context.Context, action, actor, reason string, evidence any) {
	var raw json.RawMessage
	if evidence != nil {
		raw, _ = json.Marshal(evidence)
	}
	d := store.Decision{RolloutID: r.ro.ID, Action: action, Actor: actor, Step: r.ro.Step, Weight: r.ro.Weight, Reason: reason, Evidence: raw}
	if err := r.e.Store.AddDecision(context.WithoutCancel(ctx), d); err != nil {
		r.log.Error("record decision", "action", action, "err", err)
	}
}

// InstanceEnviron is the environment of rel's instances (see
// Executor.Environ).
func (e *Executor) InstanceEnviron(ctx context.Context, rel store.Release) (map[string]string, error) {
	if e.Environ == nil {
		return rel.Config, nil
	}
	env, err := e.Environ(ctx, rel)
	if err != nil {
		return nil, fmt.Errorf("environment of release %d: %w", rel.Number, err)
	}
	return env, nil
}

// startAll starts every instance and waits for all to pass the health
// gate, marking each ready as it passes; the first failure cancels the rest.
func (e *Executor) startAll(ctx context.Context, rel store.Release, ids []string) error {
	var secretEnv map[string]string
	var files map[string]driver.File
	if e.Secrets != nil {
		var err error
		if secretEnv, files, err = e.Secrets(ctx, rel); err != nil {
			return fmt.Errorf("deliver the secrets of release %d: %w", rel.Number, err)
		}
	}
	environ, err := e.InstanceEnviron(ctx, rel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
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
				Environ: environ, DrainTimeout: rel.Spec.Run.DrainTimeout.D(),
				SecretEnv: secretEnv, Files: files,
			})
			if err != nil {
				fail(fmt.Errorf("start instance %s: %w", id, err))
				return
			}
			bg := context.WithoutCancel(ctx)
			if err := e.Store.AddInstance(bg, store.Instance{ID: id, App: rel.App, Env: rel.Env, Release: rel.Number, Addr: inst.Addr}); err != nil {
				fail(err)
				return
			}
			if err := e.Gate.Wait(ctx, inst, rel.Spec.Health); err != nil {
				fail(err)
				return
			}
			if err := e.Store.SetInstanceReady(bg, id, true); err != nil {
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
