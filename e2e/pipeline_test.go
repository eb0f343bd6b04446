package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// gitRepo is a git repository (made with the git CLI) holding a copy of
// examples/hello whose slipway.yaml has a pipeline.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git CLI to make a repository with")
	}
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "hello")}
	copyExample(t, r.dir)
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (relative to the repository) and commits them,
// returning the commit's hash.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// pipelineSpec is examples/hello's slipway.yaml with a pipeline: a test
// stage (go vet, plus extra if set) and a build stage. Steps share the
// test's Go build cache so that they take seconds.
func pipelineSpec(t *testing.T, extra string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", "hello", "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	env := "\n          env: {GOCACHE: " + strings.TrimSpace(string(out)) + ", CGO_ENABLED: \"0\"}"
	pipeline := "pipeline:\n  stages:\n    - name: test\n      steps:\n        - name: vet\n          run: go vet ./..." + env + "\n" + extra +
		"    - name: build\n      steps:\n        - name: compile\n          run: go build -trimpath -o dist/hello ." + env + "\n"
	spec := strings.Replace(string(raw), "run:\n", pipeline+"run:\n", 1)
	if spec == string(raw) {
		t.Fatal("examples/hello/slipway.yaml has no run: section to put the pipeline before")
	}
	return spec
}

func (e *env) runJSON(id int64) store.Run {
	e.t.Helper()
	var r store.Run
	if err := json.Unmarshal([]byte(e.ok("runs", "show", strconv.FormatInt(id, 10), "--json")), &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func stepStates(r store.Run) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Stage+"/"+s.Step+":"+s.State)
	}
	return strings.Join(out, " ")
}

// A commit runs through its pipeline into an artifact that deploys; a
// commit whose test step fails fails with its log readable and builds
// nothing; a rerun of the same commit builds the same artifact.
func TestPipelineRunDeployRerun(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	good := repo.commit("hello with a pipeline", map[string]string{"slipway.yaml": pipelineSpec(t, "")})

	out := e.ok("run", "hello", "--repo", repo.dir, "--commit", good[:10], "--branch", "main")
	for _, want := range []string{"==> setup", "==> test/vet", "==> build/compile", "==> finish", "✓ run 1 of hello succeeded"} {
		if !strings.Contains(out, want) {
			t.Fatalf("slipway run output lacks %q:\n%s", want, out)
		}
	}
	run := e.runJSON(1)
	if run.State != store.RunSucceeded || run.Commit != good || run.Branch != "main" || run.Trigger != store.TriggerManual || !strings.HasPrefix(run.Artifact, "sha256:") {
		t.Fatalf("run 1 = %+v", run)
	}
	if got := stepStates(run); got != "test/vet:succeeded build/compile:succeeded" {
		t.Fatalf("run 1 steps: %s", got)
	}
	if list := e.ok("runs", "list", "hello"); !strings.Contains(list, good[:12]) || !strings.Contains(list, "succeeded") {
		t.Fatalf("runs list:\n%s", list)
	}
	show := e.ok("runs", "show", "1")
	for _, want := range []string{"succeeded", good, run.Artifact, "test   vet", "build  compile"} {
		if !strings.Contains(show, want) {
			t.Fatalf("runs show lacks %q:\n%s", want, show)
		}
	}
	if logs := e.ok("runs", "logs", "1"); !strings.Contains(logs, "==> test/vet") || !strings.Contains(logs, "artifact "+run.Artifact) {
		t.Fatalf("runs logs:\n%s", logs)
	}

	// The artifact deploys as it is: nothing is built.
	out = e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--artifact", run.Artifact)
	if !strings.Contains(out, "release 1 is live") {
		t.Fatalf("deploy --artifact: %s", out)
	}
	e.mustServe(stagingHost, "v1")
	if rel := releases(t, e, "hello", "staging")[0]; rel.Artifact != run.Artifact {
		t.Fatalf("release 1 runs %s, want the run's %s", rel.Artifact, run.Artifact)
	}

	// A failing test step fails the run; build never starts.
	bad := repo.commit("a vet error", map[string]string{"broken.go": "package main\n\nimport \"fmt\"\n\nfunc broken() { fmt.Printf(\"%d\\n\", \"not a number\") }\n"})
	stdout, stderr, code := e.run("run", "hello", "--repo", repo.dir, "--commit", bad)
	if code != 1 || !strings.Contains(stderr, "run 2 of hello failed: step test/vet failed") {
		t.Fatalf("failing run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	failed := e.runJSON(2)
	if failed.State != store.RunFailed || failed.Artifact != "" || stepStates(failed) != "test/vet:failed build/compile:skipped" {
		t.Fatalf("run 2 = %+v (%s)", failed, stepStates(failed))
	}
	if logs := e.ok("runs", "logs", "2"); !strings.Contains(logs, "wrong type") || !strings.Contains(logs, "==> build/compile (skipped)") {
		t.Fatalf("logs of the failed run:\n%s", logs)
	}

	// Rerun: the same commit, a new run, the same artifact.
	out = e.ok("runs", "rerun", "1")
	if !strings.Contains(out, "run 3 of hello succeeded") {
		t.Fatalf("rerun: %s", out)
	}
	rerun := e.runJSON(3)
	if rerun.RerunOf != 1 || rerun.Commit != good || rerun.Artifact != run.Artifact {
		t.Fatalf("rerun = %+v; want commit %s and artifact %s", rerun, good, run.Artifact)
	}
}

// Cancelling a running run stops its steps; a run the server was killed
// in the middle of is failed on restart, its steps' processes gone.
func TestPipelineCancelAndRestart(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	marks := t.TempDir()
	slow := "    - name: slow\n      steps:\n        - name: wait\n          run: echo $$ > " + marks + "/pid-$SLIPWAY_RUN; sleep 120\n"
	commit := repo.commit("slow pipeline", map[string]string{"slipway.yaml": strings.Replace(pipelineSpec(t, ""), "    - name: build\n", slow+"    - name: build\n", 1)})

	waitPID := func(run string) int {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if raw, err := os.ReadFile(filepath.Join(marks, "pid-"+run)); err == nil && len(strings.TrimSpace(string(raw))) > 0 {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
				return pid
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the slow step of run %s never started", run)
		return 0
	}
	gone := func(pid int) bool {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if err := syscall.Kill(pid, 0); err != nil {
				return true
			}
			if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(stat), ") Z") {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}

	e.ok("run", "hello", "--repo", repo.dir, "--commit", commit, "--no-wait")
	pid := waitPID("1")
	out := e.ok("runs", "cancel", "1")
	if !strings.Contains(out, "run 1 of hello is cancelled") {
		t.Fatalf("runs cancel: %s", out)
	}
	if !gone(pid) {
		syscall.Kill(-pid, syscall.SIGKILL)
		t.Fatalf("the cancelled step (pid %d) still runs", pid)
	}
	if r := e.runJSON(1); r.State != store.RunCancelled || !strings.Contains(stepStates(r), "slow/wait:cancelled") || !strings.Contains(stepStates(r), "build/compile:skipped") {
		t.Fatalf("cancelled run = %s: %s", r.State, stepStates(r))
	}

	e.ok("run", "hello", "--repo", repo.dir, "--commit", commit, "--no-wait")
	pid = waitPID("2")
	e.stopServer(syscall.SIGKILL)
	e.startServer()
	if !gone(pid) {
		syscall.Kill(-pid, syscall.SIGKILL)
		t.Fatalf("the step of the interrupted run (pid %d) survived the restart", pid)
	}
	r := e.runJSON(2)
	if r.State != store.RunFailed || !strings.Contains(r.Error, "interrupted by a restart") {
		t.Fatalf("run interrupted by a restart = %s %q", r.State, r.Error)
	}
}
