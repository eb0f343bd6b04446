package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/auth"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/trigger"
)

// What a run a push started does when it ends: its rule's action
// (trigger.Action, recorded with the run) is carried out, and the result
// is recorded on the run (`slipway runs show`) and in the audit log.

// Waits of a delivery.
const (
	rolloutWait = 30 * time.Minute       // for a rollout in the way, or the one a delivery started
	rolloutPoll = 200 * time.Millisecond // how often a wait looks
)

// runFinished is registered with OnRunFinished: it acts on the ended run
// if a push started it, unless that was done already (resume got there
// first). When ctx ends (a shutdown) before anything was started, no
// result is recorded: the next start acts on the run.
func (t *triggers) runFinished(ctx context.Context, run store.Run) {
	if !t.acting(run.ID) {
		return // resume has it
	}
	defer t.done(run.ID)
	tr, err := t.cp.store.TriggerRunOf(ctx, run.ID)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("read the trigger of a run", "run", run.ID, "err", err)
		}
		return
	}
	if tr.Result == "" {
		t.act(ctx, run, tr)
	}
}

// act carries out what the rule of run's push says (tr.Action). The
// caller holds acting(run.ID).
func (t *triggers) act(ctx context.Context, run store.Run, tr store.TriggerRun) {
	if ctx.Err() != nil {
		return
	}
	var a trigger.Action
	if err := json.Unmarshal(tr.Action, &a); err != nil {
		t.log.Error("decode the action of a run", "run", run.ID, "err", err)
		return
	}
	log := t.log.With("run", run.ID, "app", run.App, "ref", a.Ref)
	if run.State != store.RunSucceeded {
		t.result(ctx, run, fmt.Sprintf("nothing deployed: the run %s", run.State), false, store.Entry{})
		return
	}
	switch {
	case a.Deploy != "":
		t.deliver(ctx, run, a.Deploy, func(ctx context.Context) (store.Rollout, error) { return t.deployTo(ctx, run, a) })
	case a.Preview != "":
		t.deliver(ctx, run, a.Preview, func(ctx context.Context) (store.Rollout, error) { return t.previewTo(ctx, run, a) })
	case a.Candidate != "":
		c, err := t.cp.store.AddCandidate(ctx, store.Candidate{App: run.App, Env: a.Candidate, Ref: a.Name, Commit: run.Commit,
			Artifact: run.Artifact, Run: run.ID}, triggerActor)
		if err != nil && ctx.Err() != nil {
			return // shutting down: the next start records it
		}
		if err != nil {
			log.Error("record a candidate", "err", err)
			t.result(ctx, run, "candidate not recorded: "+err.Error(), false, store.Entry{})
			return
		}
		t.result(ctx, run, fmt.Sprintf("candidate %s for %s: deploy it with `slipway promote %s --candidate %s --to %s`",
			c.Ref, c.Env, c.App, c.Ref, c.Env), false, store.Entry{})
	default:
		t.result(ctx, run, "built and tested; no rule deploys it", false, store.Entry{})
	}
}

// result records what became of a run's artifact.
func (t *triggers) result(ctx context.Context, run store.Run, result string, delivered bool, e store.Entry) {
	if err := t.cp.store.SetTriggerResult(context.WithoutCancel(ctx), run.ID, result, delivered, e); err != nil {
		t.log.Error("record the result of a triggered run", "run", run.ID, "err", err)
	}
}

// deliver starts a rollout of run's artifact into env with start and
// waits for it to end, recording the result. Deliveries to one
// environment take turns; an older run never replaces what a newer one
// delivered.
func (t *triggers) deliver(ctx context.Context, run store.Run, env string, start func(context.Context) (store.Rollout, error)) {
	l := t.lock(run.App + "/" + env)
	l.Lock()
	defer l.Unlock()
	entry := store.Entry{Actor: triggerActor, Action: "trigger.deploy", App: run.App, Env: env}
	if last, err := t.cp.store.LastDelivered(ctx, run.App, env); err == nil && last > run.ID {
		t.result(ctx, run, fmt.Sprintf("not deployed to %s: run %d, of a newer push, went live there first", env, last), false, store.Entry{})
		return
	}
	ro, err := t.startRollout(ctx, run.App, env, start)
	if err != nil && ctx.Err() != nil {
		t.log.Info("shutting down before a triggered run was deployed; the next start deploys it", "run", run.ID, "app", run.App, "env", env)
		return
	}
	if err != nil {
		entry.Outcome, entry.Detail = store.OutcomeFailed, fmt.Sprintf("run %d: %v", run.ID, err)
		if errors.Is(err, api.ErrForbidden) {
			entry.Outcome = store.OutcomeDenied
		}
		t.log.Warn("deploy a triggered run", "run", run.ID, "app", run.App, "env", env, "err", err)
		t.result(ctx, run, fmt.Sprintf("deploy to %s refused: %v", env, err), false, entry)
		return
	}
	t.result(ctx, run, deploying(env, ro), false, store.Entry{})
	t.watch(ctx, run, env, ro)
}

// deployingPrefix begins the result a delivery records while its rollout
// runs (deploying): a run whose result still says so after a restart has
// its rollout watched to the end again (resume).
const deployingPrefix = "deploying to "

func deploying(env string, ro store.Rollout) string {
	return fmt.Sprintf("%s%s: rollout %d to release %d", deployingPrefix, env, ro.ID, ro.ToRelease)
}

// deployingRollout is the rollout a deploying result names.
func deployingRollout(result string) (int64, bool) {
	_, rest, ok := strings.Cut(result, ": rollout ")
	var id int64
	if !ok || !strings.HasPrefix(result, deployingPrefix) {
		return 0, false
	}
	if _, err := fmt.Sscanf(rest, "%d", &id); err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// watch waits for rollout ro, which delivers run's artifact to env, to
// end, and records the result.
func (t *triggers) watch(ctx context.Context, run store.Run, env string, ro store.Rollout) {
	entry := store.Entry{Actor: triggerActor, Action: "trigger.deploy", App: run.App, Env: env}
	final, err := t.waitRollout(ctx, ro.ID)
	switch {
	case err != nil:
		t.result(ctx, run, fmt.Sprintf("deploying to %s: rollout %d to release %d (stopped watching it: %v)", env, ro.ID, ro.ToRelease, err), false, store.Entry{})
	case final.State == store.RolloutSucceeded:
		entry.Detail = fmt.Sprintf("run %d (%s) live as release %d", run.ID, shortHash(run.Commit), final.ToRelease)
		t.result(ctx, run, fmt.Sprintf("deployed to %s as release %d (rollout %d)", env, final.ToRelease, final.ID), true, entry)
	default:
		entry.Outcome, entry.Detail = store.OutcomeFailed, fmt.Sprintf("run %d: rollout %d %s: %s", run.ID, final.ID, final.State, final.Reason)
		t.result(ctx, run, fmt.Sprintf("deploy to %s failed: rollout %d %s: %s", env, final.ID, final.State, final.Reason), false, entry)
	}
}

// startRollout calls start, and again once a rollout already running in
// (app, env) has ended.
func (t *triggers) startRollout(ctx context.Context, app, env string, start func(context.Context) (store.Rollout, error)) (store.Rollout, error) {
	deadline := time.Now().Add(rolloutWait)
	for {
		ro, err := start(ctx)
		var conflict *store.ConflictError
		if !errors.As(err, &conflict) || time.Now().After(deadline) {
			return ro, err
		}
		if _, err := t.waitRollout(ctx, conflict.Running.ID); err != nil {
			return ro, err
		}
	}
}

// waitRollout waits until rollout id has ended.
func (t *triggers) waitRollout(ctx context.Context, id int64) (store.Rollout, error) {
	ctx, cancel := context.WithTimeout(ctx, rolloutWait)
	defer cancel()
	tick := time.NewTicker(rolloutPoll)
	defer tick.Stop()
	for {
		ro, err := t.cp.store.Rollout(ctx, id)
		if err != nil || ro.State != store.RolloutRunning {
			return ro, err
		}
		select {
		case <-ctx.Done():
			return ro, context.Cause(ctx)
		case <-tick.C:
		}
	}
}

// runSpec is the spec run read at its commit.
func (t *triggers) runSpec(ctx context.Context, run store.Run) (spec.App, error) {
	sp, ok, err := t.cp.store.RunSpec(ctx, run.ID)
	if err == nil && !ok {
		err = fmt.Errorf("run %d recorded no slipway.yaml", run.ID)
	}
	return sp, err
}

// deployTo deploys the run's artifact with the spec at its commit, as
// `slipway deploy --artifact` would: the spec is applied. A spec that
// loosens the promotion rules of the stored one is refused.
func (t *triggers) deployTo(ctx context.Context, run store.Run, a trigger.Action) (store.Rollout, error) {
	sp, err := t.runSpec(ctx, run)
	if err != nil {
		return store.Rollout{}, err
	}
	stored, err := t.cp.store.App(ctx, run.App)
	if err != nil {
		return store.Rollout{}, err
	}
	if loose := auth.LoosenedGates(stored, sp); len(loose) > 0 {
		return store.Rollout{}, fmt.Errorf("%w: slipway.yaml at %s loosens promotion rules (%s); a push may not, since whoever can push could then reach those environments past their gates: an admin applies such a change with `slipway apply`",
			api.ErrForbidden, shortHash(run.Commit), strings.Join(loose, "; "))
	}
	return t.cp.Deploy(ctx, api.DeployRequest{Env: a.Deploy, Artifact: run.Artifact, Spec: sp}, triggerActor)
}

// previewTo creates or updates the branch's preview environment (a copy
// of preview.from's replicas, config and rollout, at the preview host) in
// the stored spec and rolls the run's artifact out there, pinning the
// spec at its commit. It does nothing for a branch deleted meanwhile.
func (t *triggers) previewTo(ctx context.Context, run store.Run, a trigger.Action) (store.Rollout, error) {
	st, err := t.cp.store.SourceState(ctx, run.App)
	if err != nil {
		return store.Rollout{}, err
	}
	if _, ok := st.Refs[a.Ref]; !ok {
		return store.Rollout{}, fmt.Errorf("branch %s was deleted before its run ended", a.Name)
	}
	sp, err := t.runSpec(ctx, run)
	if err != nil {
		return store.Rollout{}, err
	}
	stored, err := t.cp.store.App(ctx, run.App)
	if err != nil {
		return store.Rollout{}, err
	}
	env, err := previewEnv(sp, stored, a.Name)
	if err != nil {
		return store.Rollout{}, err
	}
	if err := t.cp.store.PutPreview(ctx, store.Preview{App: run.App, Env: a.Preview, Branch: a.Name}, env, triggerActor); err != nil {
		return store.Rollout{}, err
	}
	pin := sp
	pin.Environments = maps.Clone(sp.Environments)
	if pin.Environments == nil {
		pin.Environments = map[string]spec.Environment{}
	}
	pin.Environments[a.Preview] = env
	return t.cp.begin(ctx, store.NewRollout{App: run.App, Env: a.Preview, Artifact: run.Artifact, PinSpec: &pin, Actor: triggerActor,
		Kind: "deploy", Source: fmt.Sprintf("preview of %s (run %d)", a.Name, run.ID)})
}

// previewEnv is the preview environment of branch: the preview section of
// the spec at the commit (else the stored one) says the host and which
// environment to copy.
func previewEnv(atCommit, stored spec.App, branch string) (spec.Environment, error) {
	var pv *spec.Preview
	for _, s := range []spec.App{atCommit, stored} {
		if s.Source != nil && s.Source.Preview != nil {
			pv = s.Source.Preview
			break
		}
	}
	if pv == nil {
		return spec.Environment{}, errors.New("no source.preview section says the preview's host")
	}
	from := pv.From
	if from == "" {
		from = spec.DefaultPreviewFrom
	}
	base, ok := atCommit.Environments[from]
	if !ok {
		if base, ok = stored.Environments[from]; !ok {
			return spec.Environment{}, fmt.Errorf("source.preview.from names environment %s, which the spec does not have", from)
		}
	}
	env := spec.Environment{Host: trigger.PreviewHost(pv.Host, branch), Replicas: base.Replicas, Config: maps.Clone(base.Config), Rollout: base.Rollout}
	env.Rollout.PreviewHost = "" // hosts are unique; a preview's blue-green preview would take from's
	return env, nil
}

// goTeardown tears down a preview in a goroutine of the control plane: it
// may wait for a rollout there to end. A teardown of the same preview
// already under way is left to finish.
func (t *triggers) goTeardown(app, env, branch string) {
	key := app + "/" + env
	t.mu.Lock()
	if t.tearing[key] {
		t.mu.Unlock()
		return
	}
	t.tearing[key] = true
	t.mu.Unlock()
	t.cp.wg.Add(1)
	go func() {
		defer t.cp.wg.Done()
		defer func() {
			t.mu.Lock()
			delete(t.tearing, key)
			t.mu.Unlock()
		}()
		t.teardown(t.cp.ctx, app, env, branch)
	}()
}

// teardownGone tears down the previews of app whose branch is not among
// refs (the repository's refs, as just listed). Deleting a branch tears
// its preview down at once; this catches every teardown that did not
// finish (a shutdown or a crash in the middle, a rollout there that
// never ended, an error), at the next poll.
func (t *triggers) teardownGone(ctx context.Context, app string, refs map[string]string) {
	pv, err := t.cp.store.Previews(ctx, app)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("list previews to tear down", "app", app, "err", err)
		}
		return
	}
	for _, env := range sortedNames(pv) {
		if _, ok := refs["refs/heads/"+pv[env].Branch]; !ok {
			t.log.Info("tearing down a preview whose branch is gone", "app", app, "env", env, "branch", pv[env].Branch)
			t.goTeardown(app, env, pv[env].Branch)
		}
	}
}

// teardown removes a branch's preview: once no rollout runs there, the
// environment leaves the store and the stored spec (one transaction),
// the routes are republished without its host, and its instances drain
// and stop.
func (t *triggers) teardown(ctx context.Context, app, env, branch string) {
	l := t.lock(app + "/" + env)
	l.Lock()
	defer l.Unlock()
	log := t.log.With("app", app, "env", env, "branch", branch)
	if ro, err := t.cp.store.RunningRollout(ctx, app, env); err == nil {
		if _, err := t.waitRollout(ctx, ro.ID); err != nil {
			log.Warn("preview not torn down: a rollout there did not end", "rollout", ro.ID, "err", err)
			return
		}
	}
	insts, err := t.cp.store.Instances(ctx, app, env)
	if err != nil {
		log.Error("preview not torn down", "err", err)
		return
	}
	err = t.cp.store.RemovePreview(ctx, app, env, branch, triggerActor, fmt.Sprintf("branch %s deleted", branch))
	if errors.Is(err, store.ErrNotPreview) {
		log.Info("branch deleted; it had no preview to tear down")
		return
	}
	if errors.Is(err, store.ErrPreviewTaken) {
		log.Info("branch deleted; its preview's name is another branch's preview, which stays", "err", err)
		return
	}
	if err != nil {
		log.Error("preview not torn down", "err", err)
		t.audit(ctx, store.Entry{Actor: triggerActor, Action: "preview.teardown", App: app, Env: env, Outcome: store.OutcomeFailed,
			Detail: fmt.Sprintf("branch %s deleted: %v", branch, err)})
		return
	}
	if err := t.cp.router.Publish(ctx); err != nil {
		log.Error("publish routes without the preview", "err", err)
	}
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	if len(ids) > 0 {
		if _, err := t.cp.router.Drain(ctx, ids, 10*time.Second); err != nil {
			log.Warn("drain the preview's instances", "err", err)
		}
		t.cp.exec.StopInstances(context.WithoutCancel(ctx), ids)
	}
	log.Info("preview torn down", "instances", len(ids))
}
