// Package pipeline runs one pipeline run for one commit: a fresh
// workspace checked out at the exact commit (pure-Go git), the stages of
// the slipway.yaml found at that commit, steps as processes through a
// StepRunner, caches restored and saved, and the build output packed into
// an artifact handed to the control plane. It knows nothing of the store:
// an Observer hears what happens.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/artifact"
	"github.com/slipway-dev/slipway/internal/spec"
)

// Artifacts receives the artifact of a successful run.
type Artifacts interface {
	// PutArtifact stores r under digest after checking that the bytes
	// really hash to it, and returns their length. Storing an artifact
	// that is already stored is fine.
	PutArtifact(ctx context.Context, digest string, r io.Reader) (int64, error)
}

// Observer hears what a run does, to record it. Its methods are called
// from the run's goroutines, concurrently for the steps of a parallel
// stage, and must not block for long.
type Observer interface {
	// CheckedOut reports the full hash of the commit the workspace holds.
	CheckedOut(commit string)
	// Planned lists every step of the run, in order, before the first
	// starts. It is not called when the run fails before (no checkout,
	// no valid slipway.yaml).
	Planned(steps []StepRef)
	// StepStarted reports a step's start: log is its log file relative to
	// Job.LogDir, pgid its process group (0 if the StepRunner has none).
	// It is also called for a step whose command failed to start, with
	// pgid 0, just before StepFinished.
	StepStarted(ref StepRef, log string, pgid int)
	// StepFinished reports how a step ended. Steps that never start are
	// not reported; they were skipped.
	StepFinished(ref StepRef, out StepOutcome)
}

// SpecObserver is an Observer that also hears the spec a run read at its
// commit (to act on it once the run ends). SpecRead is called once, after
// slipway.yaml parsed and before Planned.
type SpecObserver interface {
	Observer
	SpecRead(app *spec.App)
}

// Step outcomes.
const (
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepTimedOut  = "timed_out"
	StepCancelled = "cancelled" // the run was cancelled, or a parallel sibling failed
)

// StepOutcome is how a step ended.
type StepOutcome struct {
	State    string
	ExitCode *int // when the command exited by itself
	Error    string
}

// StepError is the error of a run that failed because a step did.
type StepError struct {
	Ref     StepRef
	Outcome StepOutcome
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %s %s", e.Ref, e.Outcome.Error)
}

// Job is one run to execute.
type Job struct {
	// ID names the run: its workspace directory and $SLIPWAY_RUN.
	ID string
	// App is the app whose slipway.yaml the commit must hold.
	App string
	// Repo is the repository: an absolute local path, a file:// URL, or
	// a URL that git clone accepts.
	Repo string
	// Revision is the commit to run: a full or short hash, a branch or a
	// tag.
	Revision string
	// Branch and Tag are passed to steps as SLIPWAY_BRANCH and
	// SLIPWAY_TAG and name the workspace's HEAD.
	Branch, Tag string
	// SpecFile is slipway.yaml's path inside the repository. Default
	// "slipway.yaml".
	SpecFile string
	// LogDir receives the run's logs: setup.log, <stage>/<step>.log and
	// finish.log. It must exist.
	LogDir string
}

// Result is what a run produced.
type Result struct {
	// Commit is the full hash checked out ("" if the checkout failed).
	Commit string
	// Artifact is the digest of the build output (succeeded runs only)
	// and Size its length.
	Artifact string
	Size     int64
	// Workspace is the kept workspace of a run that did not succeed.
	Workspace string
}

// Options configure a Runner.
type Options struct {
	// Workspaces holds one workspace per run (DATA/workspaces).
	Workspaces string
	// Caches holds the saved caches (DATA/caches).
	Caches string
	// Steps runs the steps. Default LocalSteps.
	Steps StepRunner
	// Artifacts receives the artifacts.
	Artifacts Artifacts
	// Parse reads slipway.yaml. Default spec.Parse.
	Parse func(filename string, data []byte) (*spec.App, error)
	// BaseEnv is the environment every step starts from, before HOME,
	// TMPDIR, the step's env and SLIPWAY_*. Default PATH and LANG of this
	// process.
	BaseEnv []string
	// CacheKeep is how many saved versions of each cache path are kept.
	// Default DefaultCacheKeep.
	CacheKeep int
	// KeepFailed is how long the workspace of a run that did not succeed
	// is kept, for debugging, before a later run removes it. Default 1h;
	// negative removes it at once.
	KeepFailed time.Duration
	Logger     *slog.Logger
}

// Runner executes runs. It is safe for concurrent use.
type Runner struct {
	opts Options

	mu     sync.Mutex
	active map[string]bool // workspaces in use
}

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.Steps == nil {
		opts.Steps = LocalSteps{}
	}
	if opts.Parse == nil {
		opts.Parse = spec.Parse
	}
	if opts.BaseEnv == nil {
		opts.BaseEnv = baseEnv(os.Getenv)
	}
	if opts.CacheKeep <= 0 {
		opts.CacheKeep = DefaultCacheKeep
	}
	if opts.KeepFailed == 0 {
		opts.KeepFailed = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{opts: opts, active: map[string]bool{}}
}

// Run executes job: checkout, stages, artifact, caches. It returns the
// result and nil when every step passed and the artifact is stored; a
// *StepError when a step failed or timed out; an error wrapping
// context.Cause(ctx) when ctx ended first (the running steps stopped);
// another error when the run could not get as far as its steps (no such
// commit, no valid slipway.yaml, ...). The workspace is removed after a
// successful run and kept for Options.KeepFailed otherwise.
func (r *Runner) Run(ctx context.Context, job Job, obs Observer) (res Result, err error) {
	if job.SpecFile == "" {
		job.SpecFile = "slipway.yaml"
	}
	if !filepath.IsLocal(job.SpecFile) {
		return res, fmt.Errorf("spec file %q must be a relative path inside the repository", job.SpecFile)
	}
	if !filepath.IsLocal(job.ID) {
		return res, fmt.Errorf("run ID %q cannot name a workspace", job.ID)
	}
	r.prune()
	r.mu.Lock()
	r.active[job.ID] = true
	r.mu.Unlock()
	w := newWorkspace(filepath.Join(r.opts.Workspaces, job.ID))
	defer func() {
		r.mu.Lock()
		delete(r.active, job.ID)
		r.mu.Unlock()
		if err == nil || r.opts.KeepFailed < 0 {
			removeAll(w.root)
			return
		}
		res.Workspace = w.root
	}()
	if err := w.create(); err != nil {
		return res, fmt.Errorf("create workspace: %w", err)
	}

	setup, err := os.Create(filepath.Join(job.LogDir, SetupLog))
	if err != nil {
		return res, err
	}
	defer setup.Close()
	fail := func(err error) (Result, error) {
		fmt.Fprintf(setup, "error: %v\n", err)
		return res, err
	}
	commit, err := checkout(ctx, job.Repo, job.Revision, job.Branch, job.Tag, w.src, setup)
	if err != nil {
		return fail(err)
	}
	res.Commit = commit
	obs.CheckedOut(commit)

	app, err := r.readSpec(w, job, commit)
	if err != nil {
		return fail(err)
	}
	if so, ok := obs.(SpecObserver); ok {
		so.SpecRead(app)
	}
	stages := Stages(app)
	if err := checkStages(stages); err != nil {
		return fail(fmt.Errorf("%s at %s: %w", job.SpecFile, commit[:12], err))
	}
	specDir := filepath.Dir(filepath.Join(w.src, job.SpecFile))
	output := filepath.Join(specDir, app.Build.Output)
	if rel, err := filepath.Rel(w.src, output); err != nil || !filepath.IsLocal(rel) {
		return fail(fmt.Errorf("%s at %s: build.output %q must be a directory inside the repository", job.SpecFile, commit[:12], app.Build.Output))
	}
	var caches []cache
	if app.Pipeline != nil {
		if caches, err = resolveCaches(r.opts.Caches, job.App, app.Pipeline.Caches, w); err != nil {
			return fail(fmt.Errorf("%s at %s: %w", job.SpecFile, commit[:12], err))
		}
	}
	obs.Planned(Refs(stages))
	for i := range caches {
		restoreCache(&caches[i], setup, time.Now())
	}
	setup.Close()

	x := &execution{r: r, job: job, w: w, commit: commit, specDir: specDir, obs: obs}
	for _, st := range stages {
		if err := x.stage(ctx, st); err != nil {
			return res, err
		}
	}

	finish, err := os.Create(filepath.Join(job.LogDir, FinishLog))
	if err != nil {
		return res, err
	}
	defer finish.Close()
	digest, size, err := r.pack(ctx, output, w, app.Build.Output)
	if err != nil {
		fmt.Fprintf(finish, "error: %v\n", err)
		return res, err
	}
	res.Artifact, res.Size = digest, size
	fmt.Fprintf(finish, "artifact %s (%d bytes) from %s\n", digest, size, app.Build.Output)
	for _, c := range caches {
		if err := saveCache(c, r.opts.CacheKeep, finish); err != nil {
			fmt.Fprintf(finish, "cache %s: not saved: %v\n", c.path, err)
			r.opts.Logger.Warn("save cache", "app", job.App, "run", job.ID, "cache", c.path, "err", err)
		}
	}
	return res, nil
}

// readSpec parses the spec file of the checkout.
func (r *Runner) readSpec(w workspace, job Job, commit string) (*spec.App, error) {
	raw, err := os.ReadFile(filepath.Join(w.src, job.SpecFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("commit %s has no %s: add it to the repository, or name the right file", commit[:12], job.SpecFile)
	}
	if err != nil {
		return nil, err
	}
	app, err := r.opts.Parse(job.SpecFile, raw)
	if err != nil {
		return nil, fmt.Errorf("%s at commit %s is not valid: %w", job.SpecFile, commit[:12], err)
	}
	if app.Name != job.App {
		return nil, fmt.Errorf("%s at commit %s describes app %q, not %q", job.SpecFile, commit[:12], app.Name, job.App)
	}
	return app, nil
}

// pack packs the build output into a file in the workspace and hands it
// to the artifact store.
func (r *Runner) pack(ctx context.Context, output string, w workspace, name string) (string, int64, error) {
	if info, err := os.Stat(output); err != nil || !info.IsDir() {
		return "", 0, fmt.Errorf("build.output %s is not a directory after the last stage: a step must create it", name)
	}
	f, err := os.Create(filepath.Join(w.root, "artifact.tar.gz"))
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	digest, err := artifact.Pack(output, f)
	if err != nil {
		return "", 0, fmt.Errorf("package build.output %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	size, err := r.opts.Artifacts.PutArtifact(ctx, digest, f)
	if err != nil {
		return "", 0, fmt.Errorf("store artifact %s: %w", digest, err)
	}
	return digest, size, nil
}

// prune removes the workspaces of earlier runs kept for longer than
// KeepFailed.
func (r *Runner) prune() {
	entries, err := os.ReadDir(r.opts.Workspaces)
	if err != nil {
		return
	}
	r.mu.Lock()
	stale := staleWorkspaces(entries, r.active, time.Now(), r.opts.KeepFailed)
	r.mu.Unlock()
	for _, name := range stale {
		if err := removeAll(filepath.Join(r.opts.Workspaces, name)); err != nil {
			r.opts.Logger.Warn("remove old workspace", "workspace", name, "err", err)
		}
	}
}

// Reap stops what is left of a step of run runID whose process group was
// pgid, after a control plane died without stopping it. It does nothing
// if the StepRunner cannot (it is not a Reaper).
func (r *Runner) Reap(runID string, pgid int) error {
	if rp, ok := r.opts.Steps.(Reaper); ok {
		return rp.Reap(pgid, runID)
	}
	return nil
}
