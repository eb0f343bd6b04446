package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/store"
)

const fakeCommit = "0123456789abcdef0123456789abcdef01234567"
const fakeDigest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// fakeRunner plays a run of two steps, test/unit and build/compile; the
// test decides when test/unit ends (finish) or the run is cancelled.
type fakeRunner struct {
	started chan string // run IDs, as test/unit starts

	mu      sync.Mutex
	release map[string]chan error
	reaped  []string
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{started: make(chan string, 10), release: map[string]chan error{}}
}

func (f *fakeRunner) ch(id string) chan error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release[id] == nil {
		f.release[id] = make(chan error, 1)
	}
	return f.release[id]
}

// finish ends test/unit of run id: with nil the run succeeds.
func (f *fakeRunner) finish(id int64, err error) { f.ch(fmt.Sprint(id)) <- err }

func (f *fakeRunner) Run(ctx context.Context, job pipeline.Job, obs pipeline.Observer) (pipeline.Result, error) {
	write := func(name, text string) {
		p := filepath.Join(job.LogDir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			panic(err)
		}
		fh.WriteString(text)
		fh.Close()
	}
	unit, compile := pipeline.StepRef{Stage: "test", Step: "unit"}, pipeline.StepRef{Stage: "build", Step: "compile"}
	write(pipeline.SetupLog, "checked out\n")
	obs.CheckedOut(fakeCommit)
	obs.Planned([]pipeline.StepRef{unit, compile})
	obs.StepStarted(unit, pipeline.LogFile(unit), 4242)
	write(pipeline.LogFile(unit), "unit 1\n")
	f.started <- job.ID
	select {
	case err := <-f.ch(job.ID):
		write(pipeline.LogFile(unit), "unit 2\n")
		if err != nil {
			one := 1
			obs.StepFinished(unit, pipeline.StepOutcome{State: pipeline.StepFailed, ExitCode: &one, Error: "failed with exit code 1"})
			return pipeline.Result{Commit: fakeCommit}, err
		}
	case <-ctx.Done():
		obs.StepFinished(unit, pipeline.StepOutcome{State: pipeline.StepCancelled, Error: "cancelled"})
		return pipeline.Result{Commit: fakeCommit}, context.Cause(ctx)
	}
	zero := 0
	obs.StepFinished(unit, pipeline.StepOutcome{State: pipeline.StepSucceeded, ExitCode: &zero})
	obs.StepStarted(compile, pipeline.LogFile(compile), 4243)
	write(pipeline.LogFile(compile), "compiled\n")
	obs.StepFinished(compile, pipeline.StepOutcome{State: pipeline.StepSucceeded, ExitCode: &zero})
	write(pipeline.FinishLog, "artifact "+fakeDigest+"\n")
	return pipeline.Result{Commit: fakeCommit, Artifact: fakeDigest}, nil
}

func (f *fakeRunner) Reap(runID string, pgid int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reaped = append(f.reaped, fmt.Sprintf("%s:%d", runID, pgid))
	return nil
}

// queueFixture is a run queue over a real store, with a life that the
// test ends as Close would.
type queueFixture struct {
	t      *testing.T
	store  *store.Store
	runner *fakeRunner
	q      *runQueue
	dir    string
	stop   context.CancelCauseFunc
	wg     *sync.WaitGroup

	mu       sync.Mutex
	finished []store.Run
}

func newQueueFixture(t *testing.T, slots int) *queueFixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "slipway.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &queueFixture{t: t, store: st, runner: newFakeRunner(), dir: dir}
	f.start(slots)
	t.Cleanup(func() {
		f.shutdown()
		st.Close()
	})
	return f
}

func (f *queueFixture) start(slots int) {
	f.t.Helper()
	f.q = newRunQueue(f.store, f.runner, filepath.Join(f.dir, "runs"), slots, slog.New(slog.DiscardHandler))
	f.q.onFinish = append(f.q.onFinish, func(_ context.Context, r store.Run) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.finished = append(f.finished, r)
	})
	life, stop := context.WithCancelCause(context.Background())
	f.stop, f.wg = stop, &sync.WaitGroup{}
	if err := f.q.start(f.t.Context(), life, f.wg); err != nil {
		f.t.Fatal(err)
	}
}

func (f *queueFixture) shutdown() {
	f.stop(errors.New("control plane shutting down"))
	f.wg.Wait()
}

func (f *queueFixture) startRun(commit string) store.Run {
	f.t.Helper()
	r, err := f.q.startRun(f.t.Context(), api.RunRequest{App: "hello", Repo: "/src/hello", Commit: commit, Actor: "alice"}, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// waitStarted waits until the runs want have started, in any order.
func (f *queueFixture) waitStarted(want ...int64) {
	f.t.Helper()
	left := map[string]bool{}
	for _, id := range want {
		left[fmt.Sprint(id)] = true
	}
	for len(left) > 0 {
		select {
		case id := <-f.runner.started:
			if !left[id] {
				f.t.Fatalf("run %s started, want %v", id, want)
			}
			delete(left, id)
		case <-time.After(10 * time.Second):
			f.t.Fatalf("runs %v did not start", left)
		}
	}
}

func (f *queueFixture) state(id int64) string {
	f.t.Helper()
	r, err := f.store.Run(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.State
}

func (f *queueFixture) wait(id int64) store.Run {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), 10*time.Second)
	defer cancel()
	r, err := f.q.wait(ctx, id)
	if err != nil {
		f.t.Fatalf("wait for run %d: %v", id, err)
	}
	return r
}

// At most slots runs execute at once; the others wait, oldest first, and
// start as slots free up. Every run that ends is reported.
func TestRunQueueBoundsConcurrency(t *testing.T) {
	f := newQueueFixture(t, 2)
	a, b, c := f.startRun("a"), f.startRun("b"), f.startRun("c")
	f.waitStarted(a.ID, b.ID)
	select {
	case id := <-f.runner.started:
		t.Fatalf("run %s started while two were running", id)
	case <-time.After(300 * time.Millisecond):
	}
	if s := f.state(c.ID); s != store.RunQueued {
		t.Fatalf("third run is %s, want queued", s)
	}
	f.runner.finish(a.ID, nil)
	f.waitStarted(c.ID)
	done := f.wait(a.ID)
	if done.State != store.RunSucceeded || done.Artifact != fakeDigest || done.Commit != fakeCommit {
		t.Fatalf("run a = %+v", done)
	}
	if got := strings.Join(stepStates(done), " "); got != "test/unit:succeeded build/compile:succeeded" {
		t.Errorf("steps = %s", got)
	}
	f.runner.finish(b.ID, errors.New("step test/unit failed with exit code 1"))
	f.runner.finish(c.ID, nil)
	if r := f.wait(b.ID); r.State != store.RunFailed || r.Error != "step test/unit failed with exit code 1" {
		t.Errorf("run b = %s %q", r.State, r.Error)
	}
	f.wait(c.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.finished)
		f.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnRunFinished heard %d runs, want 3", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stepStates(r store.Run) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Stage+"/"+s.Step+":"+s.State)
	}
	return out
}

// A queued run is cancelled without ever running; a running one is
// stopped, and CancelRun returns it cancelled, by whom.
func TestRunQueueCancel(t *testing.T) {
	f := newQueueFixture(t, 1)
	running, queued := f.startRun("a"), f.startRun("b")
	f.waitStarted(running.ID)

	r, err := f.q.cancelRun(t.Context(), queued.ID, "bob")
	if err != nil || r.State != store.RunCancelled || r.StartedAt != nil {
		t.Fatalf("cancel queued = %+v, %v", r, err)
	}
	r, err = f.q.cancelRun(t.Context(), running.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.RunCancelled || r.Error != "cancelled by bob" {
		t.Fatalf("cancel running = %s %q", r.State, r.Error)
	}
	if got := strings.Join(stepStates(r), " "); got != "test/unit:cancelled build/compile:skipped" {
		t.Errorf("steps = %s", got)
	}
	if _, err := f.q.cancelRun(t.Context(), running.ID, "bob"); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("cancelling an ended run: %v, want ErrInvalid", err)
	}
	select {
	case id := <-f.runner.started:
		t.Errorf("run %s started after being cancelled", id)
	case <-time.After(200 * time.Millisecond):
	}
	ev, _ := f.store.Events(t.Context(), 1)
	if len(ev) != 1 || ev[0].Action != "run.cancelled" || ev[0].Actor != "bob" {
		t.Errorf("last event = %+v", ev)
	}
}

// A shutdown fails the runs in progress (their steps stopped); a run left
// running by a control plane that died is failed on the next start, and
// its steps' leftover processes are reaped. Queued runs survive both.
func TestRunQueueShutdownAndRestart(t *testing.T) {
	f := newQueueFixture(t, 1)
	a, b := f.startRun("a"), f.startRun("b")
	f.waitStarted(a.ID)
	f.shutdown()
	r, _ := f.store.Run(t.Context(), a.ID)
	if r.State != store.RunFailed || !strings.Contains(r.Error, "control plane shut down") {
		t.Fatalf("run in progress at shutdown = %s %q", r.State, r.Error)
	}
	if s := f.state(b.ID); s != store.RunQueued {
		t.Fatalf("queued run after shutdown = %s", s)
	}

	// A control plane that died with b running, a step in process group 777.
	claimed, err := f.store.ClaimRun(t.Context())
	if err != nil || claimed.ID != b.ID {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	f.store.PlanRun(t.Context(), b.ID, []store.RunStep{{Stage: "test", Step: "unit"}})
	f.store.StartRunStep(t.Context(), b.ID, "test", "unit", "test/unit.log", 777)
	c := f.startRun("c")

	f.start(1)
	r, _ = f.store.Run(t.Context(), b.ID)
	if r.State != store.RunFailed || !strings.Contains(r.Error, "interrupted by a restart") || r.Steps[0].State != store.StepFailed {
		t.Fatalf("run found running on start = %+v", r)
	}
	if got := strings.Join(f.runner.reaped, " "); got != fmt.Sprintf("%d:777", b.ID) {
		t.Errorf("reaped %q, want the step's process group", got)
	}
	f.waitStarted(c.ID)
	f.runner.finish(c.ID, nil)
	f.wait(c.ID)
}

// A run a push started is not lost to a shutdown or a restart: it goes
// back to the queue, runs again from the start, and its end is reported
// (so its push's rule acts on it), up to maxRequeues times; then it fails
// like a manual run.
func TestRunQueueRequeuesTriggeredRuns(t *testing.T) {
	f := newQueueFixture(t, 1)
	pushed, err := f.q.startRun(t.Context(), api.RunRequest{App: "hello", Repo: "/src/hello", Commit: fakeCommit, Branch: "main",
		Trigger: store.TriggerPoll, Actor: triggerActor}, 0)
	if err != nil {
		t.Fatal(err)
	}
	requeued := func(when string, n int) {
		t.Helper()
		r, err := f.store.Run(t.Context(), pushed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != store.RunQueued || r.Error != "" || len(r.Steps) != 0 || r.StartedAt != nil || r.Commit != "" {
			t.Fatalf("pushed run after %s = %+v, want it queued again with nothing of its attempt", when, r)
		}
		evs, _ := f.store.Events(t.Context(), 50)
		got := 0
		for _, ev := range evs {
			if ev.Action == "run.requeued" && ev.Target == fmt.Sprintf("run %d", pushed.ID) {
				got++
			}
		}
		if got != n {
			t.Fatalf("after %s: %d run.requeued events, want %d", when, got, n)
		}
	}

	// A shutdown stops it and queues it again.
	f.waitStarted(pushed.ID)
	f.shutdown()
	requeued("a shutdown", 1)

	// A control plane that died with it running, a step in process group
	// 777: the next start reaps the step and queues the run again.
	claimed, err := f.store.ClaimRun(t.Context())
	if err != nil || claimed.ID != pushed.ID {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	f.store.PlanRun(t.Context(), pushed.ID, []store.RunStep{{Stage: "test", Step: "unit"}})
	f.store.StartRunStep(t.Context(), pushed.ID, "test", "unit", "test/unit.log", 777)
	f.start(1)
	if got := strings.Join(f.runner.reaped, " "); got != fmt.Sprintf("%d:777", pushed.ID) {
		t.Errorf("reaped %q, want the step's process group", got)
	}
	// The run starts again at once; its third interruption is its last
	// requeue, and the one after that fails it.
	f.waitStarted(pushed.ID)
	f.shutdown()
	requeued("a restart and two shutdowns", maxRequeues)
	f.start(1)
	f.waitStarted(pushed.ID)
	f.shutdown()
	r, _ := f.store.Run(t.Context(), pushed.ID)
	if r.State != store.RunFailed || !strings.Contains(r.Error, "control plane shut down") {
		t.Fatalf("pushed run interrupted a fourth time = %s %q, want failed", r.State, r.Error)
	}
	f.mu.Lock()
	heard := len(f.finished)
	f.mu.Unlock()
	if heard != 0 {
		t.Fatalf("OnRunFinished heard %d interrupted runs", heard)
	}

	// A requeued run that ends is reported like any other.
	again, err := f.q.startRun(t.Context(), api.RunRequest{App: "hello", Repo: "/src/hello", Commit: fakeCommit, Trigger: store.TriggerWebhook}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.start(1)
	f.waitStarted(again.ID)
	f.shutdown()
	f.start(1)
	f.waitStarted(again.ID)
	f.runner.finish(again.ID, nil)
	if done := f.wait(again.ID); done.State != store.RunSucceeded || done.Artifact != fakeDigest || len(done.Steps) != 2 {
		t.Fatalf("requeued run = %+v", done)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		heard = len(f.finished)
		f.mu.Unlock()
		if heard == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if heard != 1 || f.finished[0].ID != again.ID {
		t.Fatalf("OnRunFinished heard %+v, want run %d once", f.finished, again.ID)
	}
}

// The logs of a run come section by section in order; following them
// prints output as it is written and ends with the run.
func TestRunLogs(t *testing.T) {
	f := newQueueFixture(t, 1)
	run := f.startRun("a")
	f.waitStarted(run.ID)

	var buf bytes.Buffer
	followed := make(chan error, 1)
	go func() { followed <- f.q.logs(t.Context(), run.ID, true, &buf) }()

	var now bytes.Buffer
	if err := f.q.logs(t.Context(), run.ID, false, &now); err != nil {
		t.Fatal(err)
	}
	if want := "==> setup\nchecked out\n==> test/unit\nunit 1\n"; now.String() != want {
		t.Errorf("logs while running = %q, want %q", now.String(), want)
	}
	time.Sleep(300 * time.Millisecond)
	f.runner.finish(run.ID, nil)
	select {
	case err := <-followed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("following the logs did not end with the run")
	}
	want := "==> setup\nchecked out\n==> test/unit\nunit 1\nunit 2\n==> build/compile\ncompiled\n==> finish\nartifact " + fakeDigest + "\n"
	if buf.String() != want {
		t.Errorf("followed logs = %q\nwant %q", buf.String(), want)
	}
	var after bytes.Buffer
	if err := f.q.logs(t.Context(), run.ID, true, &after); err != nil || after.String() != want {
		t.Errorf("logs after the run = %q, %v", after.String(), err)
	}
	if err := f.q.logs(t.Context(), 999, false, &after); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("logs of an unknown run: %v", err)
	}
}

func TestStartRunRefuses(t *testing.T) {
	f := newQueueFixture(t, 1)
	for name, req := range map[string]api.RunRequest{
		"bad app":         {App: "Hello!", Repo: "/src", Commit: "main"},
		"no commit":       {App: "hello", Repo: "/src"},
		"no repo":         {App: "hello", Commit: "main"},
		"relative repo":   {App: "hello", Repo: "src/hello", Commit: "main"},
		"dash repo":       {App: "hello", Repo: "--upload-pack=x", Commit: "main"},
		"spec outside":    {App: "hello", Repo: "/src", Commit: "main", SpecFile: "../slipway.yaml"},
		"unknown trigger": {App: "hello", Repo: "/src", Commit: "main", Trigger: "cron"},
	} {
		if _, err := f.q.startRun(t.Context(), req, 0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	r, err := f.q.startRun(t.Context(), api.RunRequest{App: "hello", Repo: "https://user:s3cret@git.example.com/hello.git", Commit: "main", Trigger: store.TriggerWebhook}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Repo, "s3cret") || r.Trigger != store.TriggerWebhook || r.Actor != "system" || r.SpecFile != "slipway.yaml" {
		t.Errorf("started run = %+v", r)
	}
}
