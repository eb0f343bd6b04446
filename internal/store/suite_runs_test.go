package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

func newRun(t *testing.T, s *store.Store, app, rev string) store.Run {
	t.Helper()
	r, err := s.CreateRun(t.Context(), store.NewRun{App: app, Repo: "/src/" + app, SpecFile: "slipway.yaml", Revision: rev,
		Branch: "main", Trigger: store.TriggerManual, Actor: "alice"})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return r
}

func claim(t *testing.T, s *store.Store) store.Run {
	t.Helper()
	r, err := s.ClaimRun(t.Context())
	if err != nil {
		t.Fatalf("ClaimRun: %v", err)
	}
	return r
}

func stepStates(r store.Run) []string {
	var out []string
	for _, st := range r.Steps {
		out = append(out, st.Stage+"/"+st.Step+":"+st.State)
	}
	return out
}

// A run goes queued → running → succeeded, with its steps, commit,
// artifact and audit events recorded.
func testRunLifecycle(t *testing.T, s *store.Store) {
	ctx := t.Context()
	r := newRun(t, s, "hello", "main")
	if r.ID == 0 || r.State != store.RunQueued || r.StartedAt != nil || r.CreatedAt.IsZero() || r.Trigger != store.TriggerManual {
		t.Fatalf("created run = %+v", r)
	}
	got := claim(t, s)
	if got.ID != r.ID || got.State != store.RunRunning || got.StartedAt == nil {
		t.Fatalf("claimed run = %+v", got)
	}
	if _, err := s.ClaimRun(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second ClaimRun = %v, want ErrNotFound", err)
	}
	commit := strings.Repeat("ab", 20)
	if err := s.SetRunCommit(ctx, r.ID, commit); err != nil {
		t.Fatal(err)
	}
	steps := []store.RunStep{{Stage: "test", Step: "vet"}, {Stage: "test", Step: "unit"}, {Stage: "build", Step: "compile"}}
	if err := s.PlanRun(ctx, r.ID, steps); err != nil {
		t.Fatalf("PlanRun: %v", err)
	}
	for _, st := range steps {
		if err := s.StartRunStep(ctx, r.ID, st.Stage, st.Step, st.Stage+"/"+st.Step+".log", 4242); err != nil {
			t.Fatalf("StartRunStep: %v", err)
		}
		mid, _ := s.Run(ctx, r.ID)
		if i := slices.IndexFunc(mid.Steps, func(x store.RunStep) bool { return x.Step == st.Step }); mid.Steps[i].PGID != 4242 || mid.Steps[i].State != store.StepRunning {
			t.Fatalf("running step = %+v", mid.Steps[i])
		}
		zero := 0
		if err := s.FinishRunStep(ctx, r.ID, st.Stage, st.Step, store.StepSucceeded, &zero, ""); err != nil {
			t.Fatalf("FinishRunStep: %v", err)
		}
	}
	if err := s.StartRunStep(ctx, r.ID, "nope", "nope", "", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StartRunStep of an unknown step = %v, want ErrNotFound", err)
	}
	done, err := s.FinishRun(ctx, r.ID, store.RunOutcome{State: store.RunSucceeded, Artifact: digestA})
	if err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	if done.State != store.RunSucceeded || done.Artifact != digestA || done.Commit != commit || done.FinishedAt == nil || !done.Done() {
		t.Fatalf("finished run = %+v", done)
	}
	want := []string{"test/vet:succeeded", "test/unit:succeeded", "build/compile:succeeded"}
	if got := stepStates(done); !slices.Equal(got, want) {
		t.Errorf("steps = %q, want %q", got, want)
	}
	for _, st := range done.Steps {
		if st.ExitCode == nil || *st.ExitCode != 0 || st.PGID != 0 || st.Log == "" || st.StartedAt == nil || st.FinishedAt == nil {
			t.Errorf("finished step = %+v", st)
		}
	}
	if _, err := s.FinishRun(ctx, r.ID, store.RunOutcome{State: store.RunFailed}); !errors.Is(err, store.ErrRunDone) {
		t.Errorf("finishing twice = %v, want ErrRunDone", err)
	}
	if err := s.PlanRun(ctx, r.ID, steps); err == nil {
		t.Error("planning a finished run succeeded")
	}
	ev, err := s.Events(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range ev {
		if strings.HasPrefix(e.Action, "run.") {
			actions = append(actions, e.Action+" "+e.Actor+" "+e.App)
		}
	}
	if !slices.Equal(actions, []string{"run.succeeded alice hello", "run.start alice hello"}) {
		t.Errorf("audit events = %q", actions)
	}
}

// A failed run skips the steps that never started and fails the running
// ones; a cancelled run cancels them; a queued run can end without ever
// starting.
func testRunFinishSteps(t *testing.T, s *store.Store) {
	ctx := t.Context()
	plan := func(id int64) {
		t.Helper()
		if err := s.PlanRun(ctx, id, []store.RunStep{{Stage: "test", Step: "a"}, {Stage: "test", Step: "b"}, {Stage: "build", Step: "c"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.StartRunStep(ctx, id, "test", "a", "test/a.log", 1); err != nil {
			t.Fatal(err)
		}
		if err := s.StartRunStep(ctx, id, "test", "b", "test/b.log", 2); err != nil {
			t.Fatal(err)
		}
		one := 1
		if err := s.FinishRunStep(ctx, id, "test", "a", store.StepFailed, &one, ""); err != nil {
			t.Fatal(err)
		}
	}
	failed := newRun(t, s, "hello", "aaa")
	claim(t, s)
	plan(failed.ID)
	got, err := s.FinishRun(ctx, failed.ID, store.RunOutcome{State: store.RunFailed, Error: "step test/a failed with exit code 1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"test/a:failed", "test/b:failed", "build/c:skipped"}; !slices.Equal(stepStates(got), want) {
		t.Errorf("failed run steps = %q, want %q", stepStates(got), want)
	}
	if got.Error == "" || got.Artifact != "" {
		t.Errorf("failed run = %+v", got)
	}

	cancelled := newRun(t, s, "hello", "bbb")
	claim(t, s)
	plan(cancelled.ID)
	got, err = s.FinishRun(ctx, cancelled.ID, store.RunOutcome{State: store.RunCancelled, Error: "cancelled by bob", Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"test/a:failed", "test/b:cancelled", "build/c:skipped"}; !slices.Equal(stepStates(got), want) {
		t.Errorf("cancelled run steps = %q, want %q", stepStates(got), want)
	}
	ev, _ := s.Events(ctx, 1)
	if len(ev) != 1 || ev[0].Action != "run.cancelled" || ev[0].Actor != "bob" {
		t.Errorf("last event = %+v, want run.cancelled by bob", ev)
	}

	queued := newRun(t, s, "hello", "ccc")
	got, err = s.FinishRun(ctx, queued.ID, store.RunOutcome{State: store.RunCancelled})
	if err != nil || got.State != store.RunCancelled || got.StartedAt != nil || len(got.Steps) != 0 {
		t.Fatalf("cancel queued = %+v, %v", got, err)
	}
	if _, err := s.ClaimRun(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a cancelled queued run was claimed: %v", err)
	}
	if _, err := s.FinishRun(ctx, 9999, store.RunOutcome{State: store.RunFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun of an unknown run = %v, want ErrNotFound", err)
	}
	r := newRun(t, s, "hello", "ddd")
	if _, err := s.FinishRun(ctx, r.ID, store.RunOutcome{State: store.RunRunning}); err == nil {
		t.Error("FinishRun accepted a state that is not final")
	}
}

// Runs are claimed oldest first; listing filters by app and state, newest
// first; a rerun points at its original.
func testRunQueueAndList(t *testing.T, s *store.Store) {
	ctx := t.Context()
	var ids []int64
	for i, app := range []string{"hello", "api", "hello"} {
		ids = append(ids, newRun(t, s, app, fmt.Sprint(i)).ID)
	}
	if got := claim(t, s); got.ID != ids[0] {
		t.Fatalf("claimed %d first, want %d", got.ID, ids[0])
	}
	list := func(app, state string) []int64 {
		t.Helper()
		rs, err := s.Runs(ctx, app, state, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rs {
			if len(r.Steps) != 0 {
				t.Errorf("Runs returned steps")
			}
			out = append(out, r.ID)
		}
		return out
	}
	if got := list("", ""); !slices.Equal(got, []int64{ids[2], ids[1], ids[0]}) {
		t.Errorf("all runs = %v", got)
	}
	if got := list("hello", ""); !slices.Equal(got, []int64{ids[2], ids[0]}) {
		t.Errorf("runs of hello = %v", got)
	}
	if got := list("", store.RunQueued); !slices.Equal(got, []int64{ids[2], ids[1]}) {
		t.Errorf("queued runs = %v", got)
	}
	if got := list("nope", ""); len(got) != 0 {
		t.Errorf("runs of an unknown app = %v", got)
	}

	re, err := s.CreateRun(ctx, store.NewRun{App: "hello", Repo: "/src/hello", SpecFile: "slipway.yaml", Revision: "0",
		Trigger: store.TriggerManual, Actor: "bob", RerunOf: ids[0]})
	if err != nil || re.RerunOf != ids[0] {
		t.Fatalf("rerun = %+v, %v", re, err)
	}
	if _, err := s.CreateRun(ctx, store.NewRun{App: "hello", Revision: "0", Trigger: store.TriggerManual, Actor: "bob", RerunOf: 9999}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rerun of an unknown run = %v, want ErrNotFound", err)
	}
	if _, err := s.Run(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run(9999) = %v, want ErrNotFound", err)
	}
	if _, err := s.CreateRun(ctx, store.NewRun{App: "hello", Repo: "https://bob:s3cret@git.example.com/hello.git", Revision: "main",
		Trigger: store.TriggerWebhook, Actor: "trigger"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := s.Events(ctx, 1)
	if len(ev) != 1 || strings.Contains(ev[0].Detail, "s3cret") || !strings.Contains(ev[0].Detail, "bob:xxxxx@") {
		t.Errorf("run.start event = %+v; the password must not reach the audit log", ev)
	}
	// A token written as the user name (https://TOKEN@host/...) is a
	// credential too.
	if _, err := s.CreateRun(ctx, store.NewRun{App: "hello", Repo: "https://ghp_t0ken@github.com/acme/hello.git", Revision: "main",
		Trigger: store.TriggerWebhook, Actor: "trigger"}); err != nil {
		t.Fatal(err)
	}
	ev, _ = s.Events(ctx, 1)
	if len(ev) != 1 || strings.Contains(ev[0].Detail, "ghp_t0ken") || !strings.Contains(ev[0].Detail, "https://xxxxx@github.com/acme/hello.git") {
		t.Errorf("run.start event = %+v; the token must not reach the audit log", ev)
	}
}

func testRunRequeue(t *testing.T, s *store.Store) {
	ctx := t.Context()
	r := newRun(t, s, "hello", "main")
	if _, err := s.RequeueRun(ctx, r.ID, "interrupted", 2); err == nil {
		t.Error("requeueing a queued run succeeded")
	}
	for attempt := 1; attempt <= 2; attempt++ {
		claim(t, s)
		s.SetRunCommit(ctx, r.ID, strings.Repeat("ab", 20))
		if err := s.SetRunSpec(ctx, r.ID, spec.App{Name: "hello"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PlanRun(ctx, r.ID, []store.RunStep{{Stage: "test", Step: "unit"}}); err != nil {
			t.Fatalf("PlanRun of attempt %d: %v", attempt, err)
		}
		s.StartRunStep(ctx, r.ID, "test", "unit", "test/unit.log", 4242)
		n, err := s.RequeueRun(ctx, r.ID, "interrupted by a restart", 2)
		if err != nil || n != attempt {
			t.Fatalf("RequeueRun of attempt %d = %d, %v", attempt, n, err)
		}
		got, _ := s.Run(ctx, r.ID)
		if got.State != store.RunQueued || got.StartedAt != nil || got.Commit != "" || len(got.Steps) != 0 || got.Revision != "main" {
			t.Fatalf("requeued run = %+v", got)
		}
		if _, ok, err := s.RunSpec(ctx, r.ID); ok || err != nil {
			t.Fatalf("requeued run still has the spec its attempt read (%v)", err)
		}
		ev, _ := s.Events(ctx, 1)
		if len(ev) != 1 || ev[0].Action != "run.requeued" || ev[0].Target != fmt.Sprintf("run %d", r.ID) || !strings.Contains(ev[0].Detail, "interrupted by a restart") {
			t.Fatalf("last event = %+v", ev)
		}
	}
	claim(t, s)
	if _, err := s.RequeueRun(ctx, r.ID, "interrupted", 2); !errors.Is(err, store.ErrRequeueLimit) {
		t.Fatalf("third RequeueRun = %v, want ErrRequeueLimit", err)
	}
	if got, _ := s.Run(ctx, r.ID); got.State != store.RunRunning {
		t.Fatalf("run refused a requeue is %s, want still running", got.State)
	}
}
