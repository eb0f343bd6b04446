package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipway-dev/slipway/internal/spec"
)

// testRepo is a real git repository in a temporary directory, on branch
// main.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: r}
}

// commit writes files (an empty content deletes the file), commits every
// change and returns the commit's hash.
func (r *testRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "Test", Email: "test@example.com", When: time.Unix(1700000000, 0)}})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

func (r *testRepo) tag(name, hash string) {
	r.t.Helper()
	if _, err := r.repo.CreateTag(name, plumbing.NewHash(hash), nil); err != nil {
		r.t.Fatal(err)
	}
}

// specJSON encodes an app built in Go as the content of slipway.yaml;
// parseJSON (the runner's Parse in these tests) reads it back. YAML parsing
// is spec.Parse's business and has its own tests.
func specJSON(t *testing.T, app spec.App) string {
	t.Helper()
	raw, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func parseJSON(_ string, data []byte) (*spec.App, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var app spec.App
	if err := dec.Decode(&app); err != nil {
		return nil, fmt.Errorf("not a JSON spec: %w", err)
	}
	return &app, nil
}

// pipelineApp is an app named hello whose pipeline has the given stages
// and whose build output is dist.
func pipelineApp(stages ...spec.Stage) spec.App {
	return spec.App{Name: "hello", Build: spec.Build{Command: "true", Output: "dist"}, Pipeline: &spec.Pipeline{Stages: stages}}
}

func stage(name string, parallel bool, steps ...spec.PipelineStep) spec.Stage {
	return spec.Stage{Name: name, Parallel: parallel, Steps: steps}
}

func step(name, run string) spec.PipelineStep { return spec.PipelineStep{Name: name, Run: run} }

// memArtifacts keeps artifacts in memory, checking their digests.
type memArtifacts struct {
	mu   sync.Mutex
	byID map[string][]byte
}

func (m *memArtifacts) PutArtifact(_ context.Context, digest string, r io.Reader) (int64, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return 0, fmt.Errorf("bytes hash to %s, not %s", got, digest)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = map[string][]byte{}
	}
	m.byID[digest] = raw
	return int64(len(raw)), nil
}

// recorder is an Observer that remembers what it heard.
type recorder struct {
	mu      sync.Mutex
	commit  string
	planned []StepRef
	events  []string
	started map[StepRef]time.Time
	outcome map[StepRef]StepOutcome
	pgids   map[StepRef]int
}

func newRecorder() *recorder {
	return &recorder{started: map[StepRef]time.Time{}, outcome: map[StepRef]StepOutcome{}, pgids: map[StepRef]int{}}
}

func (r *recorder) CheckedOut(commit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commit = commit
	r.events = append(r.events, "checkout")
}

func (r *recorder) Planned(steps []StepRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.planned = steps
	r.events = append(r.events, "planned")
}

func (r *recorder) StepStarted(ref StepRef, log string, pgid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if log != LogFile(ref) {
		panic("log " + log + " for " + ref.String())
	}
	r.started[ref] = time.Now()
	r.pgids[ref] = pgid
}

func (r *recorder) StepFinished(ref StepRef, out StepOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcome[ref] = out
	r.events = append(r.events, ref.String()+":"+out.State)
}

// states lists "stage/step:state" of the finished steps, sorted.
func (r *recorder) states() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for ref, o := range r.outcome {
		out = append(out, ref.String()+":"+o.State)
	}
	sort.Strings(out)
	return out
}

// fixture is a Runner over temporary directories.
type fixture struct {
	t         *testing.T
	data      string
	runner    *Runner
	artifacts *memArtifacts
	n         int
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	data := t.TempDir()
	f := &fixture{t: t, data: data, artifacts: &memArtifacts{}}
	if opts.Parse == nil {
		opts.Parse = parseJSON
	}
	if opts.Steps == nil {
		opts.Steps = LocalSteps{Grace: 200 * time.Millisecond}
	}
	opts.Workspaces = filepath.Join(data, "workspaces")
	opts.Caches = filepath.Join(data, "caches")
	opts.Artifacts = f.artifacts
	f.runner = New(opts)
	return f
}

// job returns the next run of app hello at revision of repo, with its log
// directory made.
func (f *fixture) job(repo *testRepo, revision string) Job {
	f.t.Helper()
	f.n++
	id := fmt.Sprint(f.n)
	logs := filepath.Join(f.data, "runs", id)
	if err := os.MkdirAll(logs, 0o700); err != nil {
		f.t.Fatal(err)
	}
	return Job{ID: id, App: "hello", Repo: repo.dir, Revision: revision, Branch: "main", LogDir: logs}
}

func (f *fixture) run(ctx context.Context, job Job) (Result, *recorder, error) {
	rec := newRecorder()
	res, err := f.runner.Run(ctx, job, rec)
	return res, rec, err
}

// log reads a log of job.
func readLog(t *testing.T, job Job, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(job.LogDir, name))
	if err != nil {
		t.Fatalf("read log %s: %v", name, err)
	}
	return string(raw)
}

func stepLog(t *testing.T, job Job, stage, step string) string {
	t.Helper()
	return readLog(t, job, LogFile(StepRef{Stage: stage, Step: step}))
}

func mustContain(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s = %q, want it to contain %q", what, got, want)
	}
}
