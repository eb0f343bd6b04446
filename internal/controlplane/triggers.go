package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/trigger"
)

// Git triggers: the repository of every app whose spec has a source is
// polled (one loop, each app at its own interval) and may push webhooks;
// both find refs that moved, decide with trigger.Decide, and queue
// pipeline runs. What a run's rule says to do with its artifact happens
// when it ends (triggers_deliver.go).

// triggerActor is who triggers act as in runs, releases and the audit log.
const triggerActor = "trigger"

// Polling bounds.
const (
	minPoll     = 100 * time.Millisecond // a shorter source.poll is raised to this
	pollIdle    = time.Second            // how often the loop looks for new sources
	listTimeout = 2 * time.Minute        // one listing of a repository's refs
)

// triggers watches the repositories of apps with a source and acts on
// their pushes. Its loop and the goroutines it starts belong to the
// control plane (cp.wg).
type triggers struct {
	cp   *ControlPlane
	log  *slog.Logger
	list func(ctx context.Context, repo string) (map[string]string, error)
	kick chan struct{}

	mu      sync.Mutex
	locks   map[string]*sync.Mutex // per app (polls, webhooks) and per app/env (deliveries)
	busy    map[int64]bool         // runs whose end is being acted on (triggers_resume.go)
	soon    map[string]bool        // apps to poll at once, whatever their interval
	tearing map[string]bool        // app/env of previews being torn down
	next    map[string]time.Time   // when each app is polled next; the loop's alone
}

func newTriggers(cp *ControlPlane) *triggers {
	return &triggers{cp: cp, log: cp.log, list: pipeline.ListRefs, kick: make(chan struct{}, 1),
		locks: map[string]*sync.Mutex{}, busy: map[int64]bool{}, soon: map[string]bool{},
		tearing: map[string]bool{}, next: map[string]time.Time{}}
}

// lock returns the mutex of key, made on first use.
func (t *triggers) lock(key string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		t.locks[key] = m
	}
	return m
}

// start acts on the ends of runs an earlier process did not finish acting
// on (resume), then runs the poll loop until the control plane closes.
func (t *triggers) start() {
	t.resume(t.cp.ctx)
	t.cp.wg.Add(1)
	go func() {
		defer t.cp.wg.Done()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-t.cp.ctx.Done():
				return
			case <-t.kick:
			case <-timer.C:
			}
			timer.Reset(t.pollDue(t.cp.ctx))
		}
	}()
}

func (t *triggers) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// pollSoon has the loop poll app at once.
func (t *triggers) pollSoon(app string) {
	t.mu.Lock()
	t.soon[app] = true
	t.mu.Unlock()
	t.poke()
}

// takeSoon reports whether app was asked to be polled at once, and
// forgets the request.
func (t *triggers) takeSoon(app string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	soon := t.soon[app]
	delete(t.soon, app)
	return soon
}

// pollDue polls every app whose turn has come and returns how long the
// loop may sleep before the next one is due.
func (t *triggers) pollDue(ctx context.Context) time.Duration {
	wait := pollIdle
	names, err := t.cp.store.Apps(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error("list apps to poll", "err", err)
		}
		return wait
	}
	seen := map[string]bool{}
	for _, name := range names {
		if ctx.Err() != nil {
			return wait
		}
		app, err := t.cp.store.App(ctx, name)
		if err != nil || app.Source == nil {
			continue
		}
		seen[name] = true
		due, ok := t.next[name]
		if soon := t.takeSoon(name); soon || !ok || !time.Now().Before(due) {
			if _, err := t.poll(ctx, app); err != nil && ctx.Err() == nil {
				t.log.Warn("poll repository", "app", name, "err", err)
			}
			due = time.Now().Add(pollInterval(*app.Source))
			t.next[name] = due
		}
		wait = min(wait, time.Until(due))
	}
	for name := range t.next {
		if !seen[name] {
			delete(t.next, name)
		}
	}
	return max(wait, 10*time.Millisecond)
}

func pollInterval(src spec.Source) time.Duration {
	d := src.Poll.D()
	if d <= 0 {
		d = spec.DefaultPoll.D()
	}
	return max(d, minPoll)
}

// poll lists the refs of app's repository and acts on those that moved
// since the last poll. The first poll of a source (or of a new repo)
// records the refs without starting anything.
func (t *triggers) poll(ctx context.Context, app spec.App) (api.SyncResult, error) {
	l := t.lock(app.Name)
	l.Lock()
	defer l.Unlock()
	src := *app.Source
	res := api.SyncResult{Events: []api.RefEvent{}}
	if err := t.ensureSource(ctx, app.Name, src.Repo, "system"); err != nil {
		return res, err
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	refs, err := t.list(lctx, src.Repo)
	cancel()
	if err != nil {
		if serr := t.cp.store.SetPollError(context.WithoutCancel(ctx), app.Name, err.Error()); serr != nil {
			t.log.Error("record poll error", "app", app.Name, "err", serr)
		}
		return res, fmt.Errorf("poll the repository of %s: %w", app.Name, err)
	}
	res.Refs = len(refs)
	st, err := t.cp.store.SourceState(ctx, app.Name)
	if err != nil {
		return res, err
	}
	if !st.Baseline || st.Repo != src.Repo {
		changes := make([]store.RefChange, 0, len(refs))
		for ref, c := range refs {
			changes = append(changes, store.RefChange{Ref: ref, Commit: c})
		}
		if _, err := t.cp.store.RecordRefs(ctx, store.RefUpdate{App: app.Name, Repo: src.Repo, Baseline: true, Polled: true, Changes: changes}); err != nil {
			return res, err
		}
		t.log.Info("first look at the repository: recorded its refs, started nothing", "app", app.Name, "repo", pipeline.Redacted(src.Repo), "refs", len(refs))
		res.Baseline = true
		return res, nil
	}
	p := plan(app.Name, src, trigger.Diff(st.Refs, refs), store.TriggerPoll)
	runs, err := t.cp.store.RecordRefs(ctx, store.RefUpdate{App: app.Name, Repo: src.Repo, Polled: true, Changes: p.changes, Runs: p.runs})
	if err != nil {
		return res, err
	}
	res.Events = t.started(app.Name, p, runs)
	t.teardownGone(ctx, app.Name, refs)
	return res, nil
}

// started pokes the run queue and the teardowns after refs were recorded,
// and fills in the runs of the events.
func (t *triggers) started(app string, p refPlan, runs []store.Run) []api.RefEvent {
	for i, run := range runs {
		ev := &p.events[p.runEvent[i]]
		ev.Run = run.ID
		ev.Did = fmt.Sprintf("run %d queued; %s", run.ID, ev.Did)
		t.log.Info("push starts a run", "app", app, "ref", ev.Ref, "commit", ev.Commit, "run", run.ID)
	}
	if len(runs) > 0 {
		t.cp.runs.poke()
	}
	for _, td := range p.teardowns {
		t.goTeardown(app, td.env, td.branch)
	}
	return p.events
}

// refPlan is what a set of ref updates does: refs to record, runs to
// queue (with the event of each), previews to tear down.
type refPlan struct {
	changes   []store.RefChange
	runs      []store.TriggeredRun
	runEvent  []int // index in events of each run
	events    []api.RefEvent
	teardowns []teardown
}

type teardown struct{ env, branch string }

// plan decides what updates of app's refs do under the source's rules.
// It is pure: nothing is recorded or started.
func plan(app string, src spec.Source, updates []trigger.Update, kind string) refPlan {
	var p refPlan
	for _, u := range updates {
		p.changes = append(p.changes, store.RefChange{Ref: u.Ref, Commit: u.Commit, Deleted: u.Deleted})
		ev := api.RefEvent{Ref: u.Ref, Commit: u.Commit, Deleted: u.Deleted}
		a, ok := trigger.Decide(src, u.Ref, u.Commit, u.Deleted)
		switch {
		case !ok && u.Deleted:
			ev.Did = "deleted; nothing to do"
		case !ok:
			ev.Did = "no rule matches"
		case a.Teardown != "":
			ev.Did = "tears down preview " + a.Teardown
			p.teardowns = append(p.teardowns, teardown{env: a.Teardown, branch: a.Name})
		case a.Run:
			req := api.RunRequest{App: app, Repo: src.Repo, Commit: a.Commit, Trigger: kind, Actor: triggerActor}
			if a.Tag {
				req.Tag = a.Name
			} else {
				req.Branch = a.Name
			}
			nr, err := newRun(req, 0)
			if err != nil {
				ev.Did = "no run: " + err.Error()
				break
			}
			raw, _ := json.Marshal(a)
			p.runs = append(p.runs, store.TriggeredRun{Run: nr, Ref: u.Ref, Action: raw, Target: target(a)})
			p.runEvent = append(p.runEvent, len(p.events))
			ev.Did = describe(a)
		}
		p.events = append(p.events, ev)
	}
	return p
}

// target is the environment an action deploys to, if any.
func target(a trigger.Action) string {
	if a.Deploy != "" {
		return a.Deploy
	}
	return a.Preview
}

// describe says what a run's rule does with its artifact.
func describe(a trigger.Action) string {
	switch {
	case a.Deploy != "":
		return "deploys to " + a.Deploy + " if it passes"
	case a.Candidate != "":
		return "becomes a candidate for " + a.Candidate + " if it passes"
	case a.Preview != "":
		return "deploys to preview " + a.Preview + " if it passes"
	}
	return "builds and tests only"
}

// SyncSource implements api.TriggerService.
func (cp *ControlPlane) SyncSource(ctx context.Context, app, actor string) (api.SyncResult, error) {
	stored, err := cp.sourceApp(ctx, app)
	if err != nil {
		return api.SyncResult{}, err
	}
	res, err := cp.triggers.poll(ctx, stored)
	detail := fmt.Sprintf("%d ref(s), %d change(s)", res.Refs, len(res.Events))
	if res.Baseline {
		detail += "; first look: refs recorded, nothing started"
	}
	if err != nil {
		detail = err.Error()
	}
	if rerr := cp.store.RecordEvent(context.WithoutCancel(ctx), store.Entry{Actor: actor, Action: "source.sync", App: app, Detail: detail}); rerr != nil {
		cp.log.Error("record source sync", "app", app, "err", rerr)
	}
	return res, err
}

// sourceApp returns the stored spec of app, which must have a source.
func (cp *ControlPlane) sourceApp(ctx context.Context, app string) (spec.App, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return stored, err
	}
	if stored.Source == nil {
		return stored, fmt.Errorf("app %s has no source in its slipway.yaml: %w; add source with repo and rules, then `slipway apply`", app, store.ErrNotFound)
	}
	return stored, nil
}

// SourceStatus implements api.TriggerService.
func (cp *ControlPlane) SourceStatus(ctx context.Context, app string) (api.SourceStatus, error) {
	stored, err := cp.sourceApp(ctx, app)
	if err != nil {
		return api.SourceStatus{}, err
	}
	out := api.SourceStatus{App: app, Repo: pipeline.Redacted(stored.Source.Repo), Poll: pollInterval(*stored.Source).String(),
		Refs: map[string]string{}, Previews: []store.Preview{}, WebhookPath: api.WebhookPath(app)}
	st, err := cp.store.SourceState(ctx, app)
	switch {
	case err == nil:
		out.Baseline, out.PolledAt, out.PollError, out.Refs = st.Baseline && st.Repo == stored.Source.Repo, st.PolledAt, st.PollError, st.Refs
	case !errors.Is(err, store.ErrNotFound):
		return out, err
	}
	pv, err := cp.store.Previews(ctx, app)
	if err != nil {
		return out, err
	}
	for _, env := range sortedNames(pv) {
		out.Previews = append(out.Previews, pv[env])
	}
	return out, nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sourceApplied is called after a spec was stored (apply, deploy): an
// app with a source gets its webhook secret now, and is polled soon.
func (cp *ControlPlane) sourceApplied(ctx context.Context, app spec.App, actor string) {
	if app.Source == nil {
		return
	}
	if err := cp.triggers.ensureSource(ctx, app.Name, app.Source.Repo, actor); err != nil {
		cp.log.Error("make the webhook secret", "app", app.Name, "err", err)
	}
	cp.triggers.poke()
}

func (t *triggers) audit(ctx context.Context, e store.Entry) {
	if err := t.cp.store.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		t.log.Error("record in the audit log", "action", e.Action, "app", e.App, "err", err)
	}
}

// keepPreviews adds the preview environments triggers made for app (kept
// in its stored spec) to a spec being applied or deployed, which never
// has them: previews live until their branch is deleted. Call it after
// the spec was validated.
func (cp *ControlPlane) keepPreviews(ctx context.Context, app *spec.App) error {
	pv, err := cp.store.Previews(ctx, app.Name)
	if err != nil || len(pv) == 0 {
		return err
	}
	stored, err := cp.store.App(ctx, app.Name)
	if err != nil {
		return err
	}
	envs := maps.Clone(app.Environments)
	if envs == nil {
		envs = map[string]spec.Environment{}
	}
	for name := range pv {
		if e, ok := stored.Environments[name]; ok {
			if _, mine := envs[name]; !mine {
				envs[name] = e
			}
		}
	}
	app.Environments = envs
	return nil
}

// SpecRead records the spec a run read at its commit: a trigger deploys
// the run's artifact with it.
func (r *runRecorder) SpecRead(app *spec.App) {
	r.check("spec", r.store.SetRunSpec(r.ctx, r.id, *app))
}
