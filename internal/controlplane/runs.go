package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/store"
)

// DefaultRunConcurrency is how many pipeline runs execute at once unless
// Options.RunConcurrency says otherwise.
const DefaultRunConcurrency = 2

// runExecutor is what the run queue needs of pipeline.Runner.
type runExecutor interface {
	// Run executes one run (see pipeline.Runner.Run).
	Run(ctx context.Context, job pipeline.Job, obs pipeline.Observer) (pipeline.Result, error)
	// Reap stops what a dead control plane left of a step.
	Reap(runID string, pgid int) error
}

// runQueue executes pipeline runs in goroutines it owns: at most slots at
// once, oldest first; the queue itself is the store (runs in state
// queued), so queued runs survive a restart.
type runQueue struct {
	store  *store.Store
	runner runExecutor
	dir    string // DATA/runs: one log directory per run
	slots  int
	log    *slog.Logger

	ctx context.Context // set by start; ends when the control plane closes
	wg  *sync.WaitGroup

	kick chan struct{}

	mu       sync.Mutex
	active   map[int64]context.CancelCauseFunc // runs executing now
	changed  chan struct{}                     // closed (and replaced) whenever a run ends
	onFinish []func(context.Context, store.Run)
}

func newRunQueue(st *store.Store, runner runExecutor, dir string, slots int, log *slog.Logger) *runQueue {
	if slots <= 0 {
		slots = DefaultRunConcurrency
	}
	return &runQueue{store: st, runner: runner, dir: dir, slots: slots, log: log,
		kick: make(chan struct{}, 1), active: map[int64]context.CancelCauseFunc{}, changed: make(chan struct{})}
}

// newPipelineRunner wires the pipeline runner of a control plane: its
// workspaces and caches in the data dir, artifacts into cp.
func newPipelineRunner(dataDir string, artifacts pipeline.Artifacts, log *slog.Logger) *pipeline.Runner {
	return pipeline.New(pipeline.Options{
		Workspaces: filepath.Join(dataDir, "workspaces"),
		Caches:     filepath.Join(dataDir, "caches"),
		Artifacts:  artifacts,
		Logger:     log,
	})
}

// startRuns fails the runs a previous control plane left running, then
// starts executing queued runs.
func (cp *ControlPlane) startRuns(ctx context.Context) error {
	return cp.runs.start(ctx, cp.ctx, &cp.wg)
}

// start recovers, then runs the dispatcher in a goroutine owned by wg that
// stops when life ends.
func (q *runQueue) start(ctx, life context.Context, wg *sync.WaitGroup) error {
	q.ctx, q.wg = life, wg
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return err
	}
	if err := q.recover(ctx); err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Second) // a safety net; StartRun and finished runs kick at once
		defer t.Stop()
		for {
			q.fill()
			select {
			case <-life.Done():
				return
			case <-q.kick:
			case <-t.C:
			}
		}
	}()
	return nil
}

// maxRequeues is how often a run a push started is queued again after an
// interruption (a shutdown, a restart) before it is failed instead.
const maxRequeues = 3

// requeues reports whether run goes back to the queue when a shutdown or
// a restart interrupts it, instead of failing: runs a push started do,
// so that what their rule says happens once they pass (nobody is there
// to rerun them). Manual runs fail; `slipway runs rerun` starts them again.
func requeues(run store.Run) bool { return run.Trigger != store.TriggerManual }

// requeue queues an interrupted run again if it requeues; false if it
// must be failed instead.
func (q *runQueue) requeue(ctx context.Context, run store.Run, why string) (bool, error) {
	if !requeues(run) {
		return false, nil
	}
	n, err := q.store.RequeueRun(ctx, run.ID, why, maxRequeues)
	if errors.Is(err, store.ErrRequeueLimit) {
		q.log.Warn("an interrupted run was queued again too often; failing it", "run", run.ID, "app", run.App, "requeues", maxRequeues)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	q.log.Info("queued an interrupted run again", "run", run.ID, "app", run.App, "why", why, "requeue", n)
	return true, nil
}

// recover handles every run found running: its control plane died. What
// is left of its steps' processes is stopped; runs a push started are
// queued again (requeues), others fail. Queued runs stay queued.
func (q *runQueue) recover(ctx context.Context) error {
	running, err := q.store.Runs(ctx, "", store.RunRunning, 100000)
	if err != nil {
		return err
	}
	for _, r := range running {
		full, err := q.store.Run(ctx, r.ID)
		if err != nil {
			return err
		}
		for _, st := range full.Steps {
			if st.State == store.StepRunning && st.PGID > 0 {
				if err := q.runner.Reap(strconv.FormatInt(r.ID, 10), st.PGID); err != nil {
					q.log.Warn("stop the leftover processes of an interrupted run", "run", r.ID, "step", st.Stage+"/"+st.Step, "err", err)
				}
			}
		}
		if again, err := q.requeue(ctx, r, "interrupted by a restart of the control plane"); err != nil {
			return err
		} else if again {
			continue
		}
		msg := fmt.Sprintf("interrupted by a restart of the control plane; start it again with `slipway runs rerun %d`", r.ID)
		if _, err := q.store.FinishRun(ctx, r.ID, store.RunOutcome{State: store.RunFailed, Error: msg, Actor: "system"}); err != nil && !errors.Is(err, store.ErrRunDone) {
			return err
		}
		q.log.Info("failed a run interrupted by a restart", "run", r.ID, "app", r.App)
	}
	return nil
}

func (q *runQueue) poke() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// fill claims queued runs while a slot is free and executes each in its
// own goroutine.
func (q *runQueue) fill() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active) < q.slots && q.ctx.Err() == nil {
		run, err := q.store.ClaimRun(q.ctx)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			if q.ctx.Err() == nil {
				q.log.Error("claim a queued run", "err", err)
			}
			return
		}
		ctx, cancel := context.WithCancelCause(q.ctx)
		q.active[run.ID] = cancel
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.execute(ctx, run)
		}()
	}
}

// cancelled is the cause of a run cancelled by a user.
type cancelled struct{ actor string }

func (c *cancelled) Error() string { return "cancelled by " + c.actor }

// execute runs one claimed run to its end and records how it ended.
func (q *runQueue) execute(ctx context.Context, run store.Run) {
	id := strconv.FormatInt(run.ID, 10)
	log := q.log.With("run", run.ID, "app", run.App)
	logDir := filepath.Join(q.dir, id)
	rec := &runRecorder{store: q.store, id: run.ID, log: log, ctx: context.WithoutCancel(ctx)}
	var res pipeline.Result
	err := os.MkdirAll(logDir, 0o700)
	if err == nil {
		res, err = q.runner.Run(ctx, pipeline.Job{ID: id, App: run.App, Repo: run.Repo, Revision: run.Revision,
			Branch: run.Branch, Tag: run.Tag, SpecFile: run.SpecFile, LogDir: logDir}, rec)
	}
	out := store.RunOutcome{State: store.RunSucceeded, Artifact: res.Artifact}
	var c *cancelled
	shutdown := false
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &c):
		out = store.RunOutcome{State: store.RunCancelled, Error: c.Error(), Actor: c.actor}
	case ctx.Err() != nil:
		shutdown = true
		out = store.RunOutcome{State: store.RunFailed,
			Error: fmt.Sprintf("interrupted: the control plane shut down; start it again with `slipway runs rerun %d`", run.ID)}
	default:
		out = store.RunOutcome{State: store.RunFailed, Error: err.Error()}
	}
	var final store.Run
	again, ferr := false, error(nil)
	if shutdown {
		again, ferr = q.requeue(context.WithoutCancel(ctx), run, "interrupted: the control plane shut down")
	}
	if again {
		log.Info("run interrupted by the shutdown; it runs again with the next start", "commit", res.Commit)
	} else if ferr == nil {
		final, ferr = q.store.FinishRun(context.WithoutCancel(ctx), run.ID, out)
		log.Info("run ended", "state", out.State, "commit", res.Commit, "artifact", res.Artifact, "error", out.Error, "workspace", res.Workspace)
	}
	if ferr != nil {
		log.Error("record the end of a run", "state", out.State, "err", ferr)
	}

	q.mu.Lock()
	if cancel := q.active[run.ID]; cancel != nil {
		cancel(nil)
	}
	delete(q.active, run.ID)
	close(q.changed)
	q.changed = make(chan struct{})
	listeners := q.onFinish
	q.mu.Unlock()
	q.poke()
	if ferr != nil || shutdown {
		return // not recorded, or interrupted by a shutdown: nobody acts on it now
	}
	for _, fn := range listeners {
		fn(q.ctx, final)
	}
}

// runRecorder records what a runner reports in the store.
type runRecorder struct {
	store *store.Store
	id    int64
	log   *slog.Logger
	ctx   context.Context
}

func (r *runRecorder) check(what string, err error) {
	if err != nil {
		r.log.Error("record run progress", "what", what, "err", err)
	}
}

func (r *runRecorder) CheckedOut(commit string) {
	r.check("commit", r.store.SetRunCommit(r.ctx, r.id, commit))
}

func (r *runRecorder) Planned(refs []pipeline.StepRef) {
	steps := make([]store.RunStep, len(refs))
	for i, ref := range refs {
		steps[i] = store.RunStep{Stage: ref.Stage, Step: ref.Step}
	}
	r.check("plan", r.store.PlanRun(r.ctx, r.id, steps))
}

func (r *runRecorder) StepStarted(ref pipeline.StepRef, log string, pgid int) {
	r.check("step start", r.store.StartRunStep(r.ctx, r.id, ref.Stage, ref.Step, log, pgid))
}

func (r *runRecorder) StepFinished(ref pipeline.StepRef, out pipeline.StepOutcome) {
	r.check("step end", r.store.FinishRunStep(r.ctx, r.id, ref.Stage, ref.Step, out.State, out.ExitCode, out.Error))
}

var appName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// StartRun queues a pipeline run of req.App at req.Commit (a hash, branch
// or tag) of req.Repo and returns it, queued. Runs execute in the
// background, at most Options.RunConcurrency at once, oldest first. The
// run reads slipway.yaml (or req.SpecFile) at that commit. Trigger
// defaults to store.TriggerManual. Triggers call this; OnRunFinished
// tells them how it ended.
func (cp *ControlPlane) StartRun(ctx context.Context, req api.RunRequest) (store.Run, error) {
	return cp.runs.startRun(ctx, req, 0)
}

func (q *runQueue) startRun(ctx context.Context, req api.RunRequest, rerunOf int64) (store.Run, error) {
	nr, err := newRun(req, rerunOf)
	if err != nil {
		return store.Run{}, err
	}
	run, err := q.store.CreateRun(ctx, nr)
	if err != nil {
		return store.Run{}, err
	}
	q.poke()
	return redacted(run), nil
}

// newRun checks a run request and fills its defaults.
func newRun(req api.RunRequest, rerunOf int64) (store.NewRun, error) {
	if req.Trigger == "" {
		req.Trigger = store.TriggerManual
	}
	if req.SpecFile == "" {
		req.SpecFile = "slipway.yaml"
	}
	switch {
	case !appName.MatchString(req.App):
		return store.NewRun{}, fmt.Errorf("%w: app name %q must be lowercase letters, digits and dashes, starting with a letter", api.ErrInvalid, req.App)
	case req.Commit == "":
		return store.NewRun{}, fmt.Errorf("%w: no commit to run: give a commit hash, branch or tag", api.ErrInvalid)
	case !filepath.IsLocal(req.SpecFile):
		return store.NewRun{}, fmt.Errorf("%w: spec file %q must be a relative path inside the repository", api.ErrInvalid, req.SpecFile)
	case req.Trigger != store.TriggerManual && req.Trigger != store.TriggerPush && req.Trigger != store.TriggerPoll && req.Trigger != store.TriggerWebhook:
		return store.NewRun{}, fmt.Errorf("%w: trigger %q is not manual, push, poll or webhook", api.ErrInvalid, req.Trigger)
	}
	if err := pipeline.CheckRepo(req.Repo); err != nil {
		return store.NewRun{}, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	if req.Actor == "" {
		req.Actor = "system"
	}
	return store.NewRun{App: req.App, Repo: req.Repo, SpecFile: req.SpecFile, Revision: req.Commit,
		Branch: req.Branch, Tag: req.Tag, Trigger: req.Trigger, Actor: req.Actor, RerunOf: rerunOf}, nil
}

// OnRunFinished registers fn to be called once for every run that ends
// (succeeded, failed or cancelled) while this control plane executes it,
// with the run as recorded. Runs interrupted by a shutdown or a restart
// are not reported: runs a push started are queued again (and reported
// when that attempt ends), others fail unreported. fn runs on the run's
// goroutine after its slot is free; it may block (to deploy the
// artifact, say) but must return when ctx ends.
func (cp *ControlPlane) OnRunFinished(fn func(ctx context.Context, run store.Run)) {
	cp.runs.mu.Lock()
	defer cp.runs.mu.Unlock()
	cp.runs.onFinish = append(cp.runs.onFinish, fn)
}

// WaitRun waits until run id has ended and returns it.
func (cp *ControlPlane) WaitRun(ctx context.Context, id int64) (store.Run, error) {
	return cp.runs.wait(ctx, id)
}

func (q *runQueue) wait(ctx context.Context, id int64) (store.Run, error) {
	for {
		q.mu.Lock()
		changed := q.changed
		q.mu.Unlock()
		run, err := q.store.Run(ctx, id)
		if err != nil || run.Done() {
			return redacted(run), err
		}
		select {
		case <-ctx.Done():
			return redacted(run), context.Cause(ctx)
		case <-changed:
		case <-time.After(time.Second): // a run ended by another path (recovery)
		}
	}
}

// Run implements api.RunService.
func (cp *ControlPlane) Run(ctx context.Context, id int64) (store.Run, error) {
	run, err := cp.store.Run(ctx, id)
	return redacted(run), err
}

// Runs implements api.RunService.
func (cp *ControlPlane) Runs(ctx context.Context, app string, limit int) ([]store.Run, error) {
	runs, err := cp.store.Runs(ctx, app, "", limit)
	for i := range runs {
		runs[i] = redacted(runs[i])
	}
	if runs == nil {
		runs = []store.Run{}
	}
	return runs, err
}

// CancelRun implements api.RunService: a queued run ends at once; a
// running one has its steps' process groups stopped, and CancelRun waits
// until it has ended.
func (cp *ControlPlane) CancelRun(ctx context.Context, id int64, actor string) (store.Run, error) {
	return cp.runs.cancelRun(ctx, id, actor)
}

func (q *runQueue) cancelRun(ctx context.Context, id int64, actor string) (store.Run, error) {
	q.mu.Lock()
	cancel := q.active[id]
	if cancel == nil {
		// Not executing here: queued (the lock keeps fill from claiming
		// it meanwhile), or already ended.
		run, err := q.store.FinishRun(ctx, id, store.RunOutcome{State: store.RunCancelled, Error: (&cancelled{actor}).Error(), Actor: actor})
		q.mu.Unlock()
		if errors.Is(err, store.ErrRunDone) {
			return store.Run{}, fmt.Errorf("%w: %v; nothing to cancel", api.ErrInvalid, err)
		}
		return redacted(run), err
	}
	cancel(&cancelled{actor})
	q.mu.Unlock()
	wctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	return q.wait(wctx, id)
}

// RerunRun implements api.RunService: a new run of the same app, repository
// and commit (the exact hash the original checked out, if it got that far).
func (cp *ControlPlane) RerunRun(ctx context.Context, id int64, actor string) (store.Run, error) {
	orig, err := cp.store.Run(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	commit := orig.Commit
	if commit == "" {
		commit = orig.Revision
	}
	return cp.runs.startRun(ctx, api.RunRequest{App: orig.App, Repo: orig.Repo, Commit: commit, Branch: orig.Branch, Tag: orig.Tag,
		SpecFile: orig.SpecFile, Trigger: store.TriggerManual, Actor: actor}, orig.ID)
}

// redacted hides a password in the run's repository URL: runs are shown
// to anyone who may read the app.
func redacted(r store.Run) store.Run {
	r.Repo = pipeline.Redacted(r.Repo)
	return r
}
