package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/artifact"
	"github.com/slipway-dev/slipway/internal/spec"
)

// A passing run tests, builds and packs the build output; the artifact is
// exactly artifact.Pack of what the steps produced, the steps see the
// run's environment and nothing of the control plane's, and the workspace
// is gone afterwards.
func TestRunBuildsArtifact(t *testing.T) {
	t.Setenv("SLIPWAY_TEST_SECRET", "leaked")
	f := newFixture(t, Options{})
	repo := newRepo(t)
	app := pipelineApp(
		stage("test", false,
			step("greeting", `grep -q hello greeting.txt`),
			step("env", `test -z "$SLIPWAY_TEST_SECRET" && test "$HOME" != "" && test -d "$HOME" && test -d "$TMPDIR" && test "$GREETING_EXTRA" = "!"`)),
		stage("build", false, step("compile", `mkdir -p dist/bin && cp greeting.txt dist/ && printf '%s\n' "$SLIPWAY_RUN $SLIPWAY_BRANCH $SLIPWAY_COMMIT" > dist/bin/stamp`)),
	)
	app.Pipeline.Stages[0].Steps[1].Env = map[string]string{"GREETING_EXTRA": "!"}
	commit := repo.commit("first", map[string]string{"slipway.yaml": specJSON(t, app), "greeting.txt": "hello\n"})

	job := f.job(repo, commit)
	res, rec, err := f.run(t.Context(), job)
	if err != nil {
		t.Fatalf("Run: %v\nsetup log: %s", err, readLog(t, job, SetupLog))
	}
	if res.Commit != commit || rec.commit != commit {
		t.Errorf("commit = %s (observer %s), want %s", res.Commit, rec.commit, commit)
	}
	want := []StepRef{{"test", "greeting"}, {"test", "env"}, {"build", "compile"}}
	if !slices.Equal(rec.planned, want) {
		t.Errorf("planned %v, want %v", rec.planned, want)
	}
	if got := rec.events; !slices.Equal(got, []string{"checkout", "planned", "test/greeting:succeeded", "test/env:succeeded", "build/compile:succeeded"}) {
		t.Errorf("events = %q", got)
	}
	for ref, pgid := range rec.pgids {
		if pgid <= 1 {
			t.Errorf("step %s: process group %d", ref, pgid)
		}
	}

	expected := t.TempDir()
	os.MkdirAll(filepath.Join(expected, "bin"), 0o755)
	os.WriteFile(filepath.Join(expected, "greeting.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(expected, "bin", "stamp"), []byte("1 main "+commit+"\n"), 0o644)
	var buf bytes.Buffer
	digest, err := artifact.Pack(expected, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Artifact != digest {
		t.Fatalf("artifact %s, want %s (artifact.Pack of the expected output)", res.Artifact, digest)
	}
	if got := f.artifacts.byID[digest]; !bytes.Equal(got, buf.Bytes()) || res.Size != int64(len(got)) {
		t.Errorf("stored artifact: %d bytes, size %d; want %d bytes", len(got), res.Size, buf.Len())
	}
	mustContain(t, "finish log", readLog(t, job, FinishLog), digest)
	if _, err := os.Stat(filepath.Join(f.data, "workspaces", job.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace of a successful run still there: %v", err)
	}
	if res.Workspace != "" {
		t.Errorf("Result.Workspace = %q for a successful run", res.Workspace)
	}
}

// A failing test step fails the run with its exit code; the steps after
// it, and the later stages, never start; its output is in its log; the
// workspace is kept for debugging.
func TestRunFailingStepSkipsTheRest(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	app := pipelineApp(
		stage("test", false, step("ok", "echo fine"), step("unit", "echo 'FAIL: TestGreeting' >&2; exit 3"), step("after", "echo never")),
		stage("build", false, step("compile", "mkdir dist")),
	)
	commit := repo.commit("broken", map[string]string{"slipway.yaml": specJSON(t, app)})
	job := f.job(repo, commit)
	res, rec, err := f.run(t.Context(), job)
	var se *StepError
	if !errors.As(err, &se) || se.Ref != (StepRef{"test", "unit"}) || se.Outcome.State != StepFailed || *se.Outcome.ExitCode != 3 {
		t.Fatalf("Run error = %#v, want a StepError of test/unit with exit code 3", err)
	}
	mustContain(t, "error", err.Error(), "step test/unit failed with exit code 3")
	if got := rec.states(); !slices.Equal(got, []string{"test/ok:succeeded", "test/unit:failed"}) {
		t.Errorf("finished steps = %q; the later ones must never start", got)
	}
	if len(rec.planned) != 4 {
		t.Errorf("planned %v, want all 4 steps", rec.planned)
	}
	mustContain(t, "log of test/unit", stepLog(t, job, "test", "unit"), "FAIL: TestGreeting")
	if _, err := os.Stat(filepath.Join(job.LogDir, LogFile(StepRef{"test", "after"}))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a skipped step has a log: %v", err)
	}
	if res.Artifact != "" || len(f.artifacts.byID) != 0 {
		t.Errorf("a failed run stored an artifact")
	}
	if res.Workspace == "" {
		t.Fatal("the workspace of a failed run was not kept")
	}
	if _, err := os.Stat(filepath.Join(res.Workspace, "src", "slipway.yaml")); err != nil {
		t.Errorf("kept workspace: %v", err)
	}
}

// The steps of a parallel stage run at the same time: each waits for the
// other's marker, which only works if both run at once.
func TestRunParallelStepsRunConcurrently(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	wait := func(mine, other string) spec.PipelineStep {
		s := step(mine, "touch "+mine+".marker; i=0; while [ ! -f "+other+".marker ]; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done")
		s.Timeout = spec.Duration(20 * time.Second)
		return s
	}
	app := pipelineApp(stage("test", true, wait("a", "b"), wait("b", "a")), stage("build", false, step("compile", "mkdir dist")))
	commit := repo.commit("parallel", map[string]string{"slipway.yaml": specJSON(t, app)})
	job := f.job(repo, commit)
	if _, rec, err := f.run(t.Context(), job); err != nil {
		t.Fatalf("Run: %v (steps %q)", err, rec.states())
	}
}

// In a parallel stage the first failure stops the other steps at once.
func TestRunParallelFailureStopsSiblings(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	app := pipelineApp(stage("test", true, step("slow", "sleep 30"), step("fast", "sleep 0.2; exit 1")))
	commit := repo.commit("parallel", map[string]string{"slipway.yaml": specJSON(t, app)})
	start := time.Now()
	_, rec, err := f.run(t.Context(), f.job(repo, commit))
	var se *StepError
	if !errors.As(err, &se) || se.Ref.Step != "fast" {
		t.Fatalf("Run error = %v, want test/fast's failure", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s: the slow sibling was not stopped", d)
	}
	if got := rec.states(); !slices.Equal(got, []string{"test/fast:failed", "test/slow:cancelled"}) {
		t.Errorf("steps = %q", got)
	}
	mustContain(t, "sibling's error", rec.outcome[StepRef{"test", "slow"}].Error, "test/fast failed")
}

// A step past its timeout is stopped with every process it started, and
// the run fails naming the timeout.
func TestStepTimeoutKillsProcessGroup(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	marks := t.TempDir()
	s := step("hang", `sleep 60 & echo $! > "$MARKS/child"; trap "" TERM; sleep 60`)
	s.Timeout = spec.Duration(300 * time.Millisecond)
	s.Env = map[string]string{"MARKS": marks}
	app := pipelineApp(stage("test", false, s))
	commit := repo.commit("hang", map[string]string{"slipway.yaml": specJSON(t, app)})
	start := time.Now()
	_, rec, err := f.run(t.Context(), f.job(repo, commit))
	var se *StepError
	if !errors.As(err, &se) || se.Outcome.State != StepTimedOut {
		t.Fatalf("Run error = %v, want a timed-out step", err)
	}
	mustContain(t, "error", err.Error(), "timed out after 300ms")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s", d)
	}
	raw, err := os.ReadFile(filepath.Join(marks, "child"))
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	waitGone(t, child)
	waitGone(t, rec.pgids[StepRef{"test", "hang"}])
}

// waitGone waits until pid no longer runs (gone, or a zombie awaiting its
// new parent).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still runs", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

// Cancelling a run mid-step stops the step's processes; the run ends with
// the cancellation's cause and the step is cancelled.
func TestRunCancel(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	marks := t.TempDir()
	s := step("long", `touch "$MARKS/started"; sleep 60`)
	s.Env = map[string]string{"MARKS": marks}
	app := pipelineApp(stage("test", false, s), stage("build", false, step("compile", "mkdir dist")))
	commit := repo.commit("long", map[string]string{"slipway.yaml": specJSON(t, app)})

	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	type outcome struct {
		rec *recorder
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		_, rec, err := f.run(ctx, f.job(repo, commit))
		done <- outcome{rec, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(marks, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cause := errors.New("cancelled by alice")
	cancel(cause)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(o.err, cause) {
		t.Fatalf("Run error = %v, want the cancel cause", o.err)
	}
	if got := o.rec.states(); !slices.Equal(got, []string{"test/long:cancelled"}) {
		t.Errorf("steps = %q", got)
	}
	waitGone(t, o.rec.pgids[StepRef{"test", "long"}])
}

// A cache is restored on the next run with the same key, and a change to
// a key file starts from an empty one. Caches under ~ live in the run's
// own HOME. Only the most recent versions are kept.
func TestCachesRestoredOnSecondRun(t *testing.T) {
	f := newFixture(t, Options{CacheKeep: 1})
	repo := newRepo(t)
	probe := `for d in .cache/deps "$HOME/.tool"; do if [ -f "$d/hit" ]; then echo "HIT $d $(cat "$d/hit")"; else echo "MISS $d"; fi; done
mkdir -p .cache/deps "$HOME/.tool" dist
echo "$SLIPWAY_RUN" > .cache/deps/hit; echo "$SLIPWAY_RUN" > "$HOME/.tool/hit"`
	app := pipelineApp(stage("build", false, step("compile", probe)))
	app.Pipeline.Caches = []spec.Cache{{Path: ".cache/deps", Key: []string{"deps.lock"}}, {Path: "~/.tool", Key: []string{"deps.lock", "missing.lock"}}}
	c1 := repo.commit("one", map[string]string{"slipway.yaml": specJSON(t, app), "deps.lock": "a 1.0\n"})

	runLog := func(commit string) string {
		t.Helper()
		job := f.job(repo, commit)
		if _, _, err := f.run(t.Context(), job); err != nil {
			t.Fatalf("run %s: %v", job.ID, err)
		}
		return stepLog(t, job, "build", "compile") + readLog(t, job, SetupLog)
	}
	first := runLog(c1)
	mustContain(t, "run 1", first, "MISS .cache/deps")
	mustContain(t, "run 1", first, "/.tool")
	if strings.Contains(first, "HIT") {
		t.Fatalf("run 1 found a cache: %s", first)
	}
	second := runLog(c1)
	mustContain(t, "run 2", second, "HIT .cache/deps 1")
	mustContain(t, "run 2", second, "/.tool 1")
	mustContain(t, "run 2 setup", second, "cache .cache/deps: restored")

	c2 := repo.commit("bump", map[string]string{"deps.lock": "a 2.0\n"})
	third := runLog(c2)
	if strings.Contains(third, "HIT") {
		t.Fatalf("run 3 with a new key found an old cache: %s", third)
	}
	fourth := runLog(c2)
	mustContain(t, "run 4", fourth, "HIT .cache/deps 3")

	groups, _ := filepath.Glob(filepath.Join(f.data, "caches", "hello", "*"))
	if len(groups) != 2 {
		t.Fatalf("cache groups = %q, want one per path", groups)
	}
	for _, g := range groups {
		versions, _ := filepath.Glob(filepath.Join(g, "*.tar.gz"))
		if len(versions) != 1 {
			t.Errorf("%s keeps %d versions, want 1 (CacheKeep)", g, len(versions))
		}
	}
}

// The run checks out exactly the commit asked for, even after the branch
// moved on; branches, tags and short hashes resolve to their commit.
func TestCheckoutExactCommit(t *testing.T) {
	f := newFixture(t, Options{})
	repo := newRepo(t)
	app := pipelineApp(stage("build", false, step("compile", "mkdir -p dist && cat version.txt")))
	v1 := repo.commit("v1", map[string]string{"slipway.yaml": specJSON(t, app), "version.txt": "v1\n"})
	repo.tag("release-1", v1)
	v2 := repo.commit("v2", map[string]string{"version.txt": "v2\n"})

	for _, tt := range []struct{ revision, commit, want string }{
		{v1, v1, "v1"},
		{v1[:10], v1, "v1"},
		{"release-1", v1, "v1"},
		{"main", v2, "v2"},
		{v2, v2, "v2"},
	} {
		job := f.job(repo, tt.revision)
		res, _, err := f.run(t.Context(), job)
		if err != nil {
			t.Errorf("revision %s: %v", tt.revision, err)
			continue
		}
		if got := strings.TrimSpace(stepLog(t, job, "build", "compile")); res.Commit != tt.commit || got != tt.want {
			t.Errorf("revision %s checked out %s with version %q, want %s with %q", tt.revision, res.Commit, got, tt.commit, tt.want)
		}
	}

	_, _, err := f.run(t.Context(), f.job(repo, "no-such-branch"))
	if !errors.Is(err, ErrRevision) {
		t.Errorf("unknown revision: %v, want ErrRevision", err)
	}
	_, _, err = f.run(t.Context(), f.job(repo, strings.Repeat("0", 40)))
	if !errors.Is(err, ErrRevision) {
		t.Errorf("unknown hash: %v, want ErrRevision", err)
	}
}

// The workspace is a git repository at the commit, on the run's branch,
// with a clean working tree, so steps may use git.
func TestCheckoutIsAGitRepository(t *testing.T) {
	if _, err := os.Stat("/usr/bin/git"); err != nil {
		t.Skip("no git CLI to look at the workspace with")
	}
	f := newFixture(t, Options{})
	repo := newRepo(t)
	app := pipelineApp(stage("build", false, step("compile",
		`mkdir dist && test "$(git rev-parse HEAD)" = "$SLIPWAY_COMMIT" && test "$(git rev-parse --abbrev-ref HEAD)" = main && test -z "$(git status --porcelain --untracked-files=no)"`)))
	commit := repo.commit("one", map[string]string{"slipway.yaml": specJSON(t, app), "sub/dir/file.txt": "x\n"})
	job := f.job(repo, commit)
	if _, _, err := f.run(t.Context(), job); err != nil {
		t.Fatalf("Run: %v\n%s", err, stepLog(t, job, "build", "compile"))
	}
}

// A missing or invalid slipway.yaml at the commit fails the run before
// any step, with the parser's message.
func TestInvalidSpecAtCommit(t *testing.T) {
	f := newFixture(t, Options{Parse: spec.Parse})
	repo := newRepo(t)
	bad := repo.commit("bad", map[string]string{"slipway.yaml": "name: hello\nbuild:\n  command: make\n  outptu: dist\n"})
	job := f.job(repo, bad)
	_, rec, err := f.run(t.Context(), job)
	if err == nil {
		t.Fatal("Run succeeded with an invalid slipway.yaml")
	}
	mustContain(t, "error", err.Error(), "slipway.yaml at commit "+bad[:12]+" is not valid")
	mustContain(t, "error", err.Error(), "slipway.yaml:4:")
	if rec.planned != nil || len(rec.outcome) != 0 {
		t.Errorf("steps were planned or run: %v %v", rec.planned, rec.states())
	}
	mustContain(t, "setup log", readLog(t, job, SetupLog), "outptu")

	none := repo.commit("no spec", map[string]string{"slipway.yaml": ""})
	_, _, err = f.run(t.Context(), f.job(repo, none))
	if err == nil {
		t.Fatal("Run succeeded without a slipway.yaml")
	}
	mustContain(t, "error", err.Error(), "has no slipway.yaml")

	other := repo.commit("other app", map[string]string{"slipway.yaml": "name: other\nbuild: {command: make, output: dist}\nrun: {command: ./x}\nhealth: {path: /}\nenvironments: {staging: {host: other.localhost}}\n"})
	_, _, err = f.run(t.Context(), f.job(repo, other))
	if err == nil {
		t.Fatal("Run accepted a spec of another app")
	}
	mustContain(t, "error", err.Error(), `describes app "other", not "hello"`)
}

// Without a pipeline a run is one stage "build" running build.command,
// read with the real YAML parser.
func TestRunWithoutPipeline(t *testing.T) {
	f := newFixture(t, Options{Parse: spec.Parse})
	repo := newRepo(t)
	yaml := "name: hello\nbuild:\n  command: mkdir -p out && echo hi > out/index.html\n  output: out\nrun: {command: ./x}\nhealth: {path: /}\nenvironments: {staging: {host: hello.localhost}}\n"
	commit := repo.commit("plain", map[string]string{"app/slipway.yaml": yaml})
	job := f.job(repo, commit)
	job.SpecFile = "app/slipway.yaml"
	res, rec, err := f.run(t.Context(), job)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !slices.Equal(rec.planned, []StepRef{{"build", "build"}}) {
		t.Errorf("planned %v", rec.planned)
	}
	if !artifact.ValidDigest(res.Artifact) {
		t.Errorf("artifact %q", res.Artifact)
	}
}
