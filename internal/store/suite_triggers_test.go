package store_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// A source is made once; the first RecordRefs sets the baseline, later
// ones record ref changes and queue runs with their actions in the same
// transaction; a run's trigger result and spec are kept with it.
func testSourceRefsAndRuns(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	if _, err := s.SourceState(ctx, "hello"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SourceState before InitSource = %v, want ErrNotFound", err)
	}
	created, err := s.InitSource(ctx, "hello", "/src/hello", []byte("sealed-1"), "alice")
	if err != nil || !created {
		t.Fatalf("InitSource = %v, %v", created, err)
	}
	if created, err := s.InitSource(ctx, "hello", "/src/hello", []byte("sealed-2"), "alice"); err != nil || created {
		t.Fatalf("second InitSource = %v, %v; want kept", created, err)
	}
	st, err := s.SourceState(ctx, "hello")
	if err != nil || st.Baseline || string(st.WebhookSecret) != "sealed-1" || len(st.Refs) != 0 {
		t.Fatalf("SourceState = %+v, %v", st, err)
	}
	if _, err := s.RecordRefs(ctx, store.RefUpdate{App: "hello", Repo: "/src/hello", Baseline: true, Polled: true,
		Changes: []store.RefChange{{Ref: "refs/heads/main", Commit: "a1"}, {Ref: "refs/heads/old", Commit: "b1"}}}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.RecordRefs(ctx, store.RefUpdate{App: "hello", Repo: "/src/hello", Polled: true,
		Changes: []store.RefChange{{Ref: "refs/heads/main", Commit: "a2"}, {Ref: "refs/heads/old", Deleted: true}},
		Runs: []store.TriggeredRun{{Ref: "refs/heads/main", Action: []byte(`{"Deploy":"staging"}`), Target: "staging",
			Run: store.NewRun{App: "hello", Repo: "/src/hello", SpecFile: "slipway.yaml", Revision: "a2", Branch: "main", Trigger: store.TriggerPoll, Actor: "trigger"}}}})
	if err != nil || len(runs) != 1 || runs[0].State != store.RunQueued || runs[0].Trigger != store.TriggerPoll {
		t.Fatalf("RecordRefs = %+v, %v", runs, err)
	}
	st, _ = s.SourceState(ctx, "hello")
	if !st.Baseline || st.PolledAt == nil || len(st.Refs) != 1 || st.Refs["refs/heads/main"] != "a2" {
		t.Fatalf("SourceState after two polls = %+v", st)
	}
	// A failing run in one RecordRefs leaves the refs as they were.
	if _, err := s.RecordRefs(ctx, store.RefUpdate{App: "hello", Changes: []store.RefChange{{Ref: "refs/heads/main", Commit: "a3"}},
		Runs: []store.TriggeredRun{{Run: store.NewRun{App: "hello", RerunOf: 999}}}}); err == nil {
		t.Fatal("RecordRefs with a run that cannot be created succeeded")
	}
	if st, _ := s.SourceState(ctx, "hello"); st.Refs["refs/heads/main"] != "a2" {
		t.Fatalf("a failed RecordRefs recorded main at %s", st.Refs["refs/heads/main"])
	}

	id := runs[0].ID
	tr, err := s.TriggerRunOf(ctx, id)
	if err != nil || tr.Target != "staging" || string(tr.Action) != `{"Deploy":"staging"}` {
		t.Fatalf("TriggerRunOf = %+v, %v", tr, err)
	}
	if _, err := s.TriggerRunOf(ctx, newRun(t, s, "hello", "main").ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TriggerRunOf of a manual run = %v", err)
	}
	if err := s.SetTriggerResult(ctx, id, "deployed to staging as release 1", true,
		store.Entry{Actor: "trigger", Action: "trigger.deploy", App: "hello", Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Run(ctx, id); err != nil || r.TriggerResult != "deployed to staging as release 1" {
		t.Fatalf("Run = %+v, %v", r, err)
	}
	if last, err := s.LastDelivered(ctx, "hello", "staging"); err != nil || last != id {
		t.Fatalf("LastDelivered = %d, %v; want %d", last, err, id)
	}

	if _, ok, err := s.RunSpec(ctx, id); ok || err != nil {
		t.Fatalf("RunSpec before SetRunSpec = %v, %v", ok, err)
	}
	if err := s.SetRunSpec(ctx, id, newApp("hello", "staging")); err != nil {
		t.Fatal(err)
	}
	if sp, ok, err := s.RunSpec(ctx, id); !ok || err != nil || sp.Environments["staging"].Host != host("hello", "staging") {
		t.Fatalf("RunSpec = %+v, %v, %v", sp, ok, err)
	}

	if err := s.SetWebhookSecret(ctx, "hello", []byte("sealed-3"), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWebhookSecret(ctx, "nosuch", []byte("x"), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetWebhookSecret of an unknown app = %v", err)
	}
	// A key rotation reseals webhook secrets with the secrets.
	if _, err := s.ReencryptSecrets(ctx, "age1new", "alice", func(v store.SecretVersion, ct []byte) ([]byte, error) {
		if v.App != "hello" || v.Env != "" || v.Key != store.WebhookSecretName {
			t.Errorf("reseal got %+v", v)
		}
		return bytes.ToUpper(ct), nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SourceState(ctx, "hello"); string(st.WebhookSecret) != "SEALED-3" {
		t.Fatalf("webhook secret after rotation = %q", st.WebhookSecret)
	}
}

// Candidates are found by tag or run number; a promotion of one knows it.
func testCandidates(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	run := newRun(t, s, "hello", "v1")
	c1, err := s.AddCandidate(ctx, store.Candidate{App: "hello", Env: "production", Ref: "v1.0.0", Commit: "c1", Artifact: digestA, Run: run.ID}, "trigger")
	if err != nil || c1.ID == 0 {
		t.Fatalf("AddCandidate = %+v, %v", c1, err)
	}
	run2 := newRun(t, s, "hello", "v2")
	c2, _ := s.AddCandidate(ctx, store.Candidate{App: "hello", Env: "production", Ref: "v2.0.0", Commit: "c2", Artifact: digestB, Run: run2.ID}, "trigger")
	for name, want := range map[string]int64{"v1.0.0": c1.ID, "refs/tags/v2.0.0": c2.ID, "1": c1.ID, "2": c2.ID} {
		if got, err := s.FindCandidate(ctx, "hello", name); err != nil || got.ID != want {
			t.Errorf("FindCandidate(%s) = %+v, %v; want candidate %d", name, got, err, want)
		}
	}
	if _, err := s.FindCandidate(ctx, "hello", "v9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindCandidate(v9) = %v", err)
	}
	cs, err := s.Candidates(ctx, "hello")
	if err != nil || len(cs) != 2 || cs[0].ID != c2.ID {
		t.Fatalf("Candidates = %+v, %v", cs, err)
	}
	p, err := s.AddCandidatePromotion(ctx, c1, store.Promotion{App: "hello", FromEnv: "candidate v1.0.0", ToEnv: "production",
		Artifact: digestA, Needed: 1, RequestedBy: "alice", ExpiresAt: c1.CreatedAt.Add(1e12)})
	if err != nil || p.State != store.PromotionPending {
		t.Fatalf("AddCandidatePromotion = %+v, %v", p, err)
	}
	if got, ok, err := s.PromotionCandidate(ctx, p.ID); !ok || err != nil || got.ID != c1.ID {
		t.Fatalf("PromotionCandidate = %+v, %v, %v", got, ok, err)
	}
	if _, err := s.Approve(ctx, p.ID, "bob"); err != nil {
		t.Fatalf("approving a candidate promotion: %v", err)
	}
	// Fully approved but still pending (its rollout could not start):
	// the approver may approve again to retry, adding no approval.
	if again, err := s.Approve(ctx, p.ID, "bob"); err != nil || len(again.Approvers) != 1 {
		t.Fatalf("retrying a fully approved promotion = %+v, %v", again, err)
	}
	other, _ := s.AddPromotion(ctx, store.Promotion{App: "hello", FromEnv: "staging", ToEnv: "production", FromRelease: 1, Artifact: digestA,
		Needed: 1, RequestedBy: "alice", ExpiresAt: c1.CreatedAt.Add(1e12)})
	if _, ok, err := s.PromotionCandidate(ctx, other.ID); ok || err != nil {
		t.Fatalf("PromotionCandidate of a release promotion = %v, %v", ok, err)
	}
}

// A preview joins the stored spec and its environments, may be updated,
// refuses to take over a spec's environment or another's host, and is
// removed in one step once no rollout runs there.
func testPreviews(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "preview-mine"))
	env := spec.Environment{Host: "feature-x.hello.preview.example.com", Replicas: 1}
	p := store.Preview{App: "hello", Env: "preview-feature-x", Branch: "feature/x"}
	if err := s.PutPreview(ctx, p, env, "trigger"); err != nil {
		t.Fatal(err)
	}
	env.Replicas = 2
	if err := s.PutPreview(ctx, p, env, "trigger"); err != nil {
		t.Fatalf("updating a preview: %v", err)
	}
	app, _ := s.App(ctx, "hello")
	if e := app.Environments["preview-feature-x"]; e.Replicas != 2 || e.Host != env.Host {
		t.Fatalf("stored spec has preview %+v", e)
	}
	pv, err := s.Previews(ctx, "hello")
	if err != nil || pv["preview-feature-x"].Branch != "feature/x" {
		t.Fatalf("Previews = %+v, %v", pv, err)
	}
	// feature-x's preview has feature/x's name: it may not take it over.
	if err := s.PutPreview(ctx, store.Preview{App: "hello", Env: "preview-feature-x", Branch: "feature-x"}, env, "trigger"); !errors.Is(err, store.ErrPreviewTaken) {
		t.Errorf("another branch's preview under the same name = %v, want ErrPreviewTaken", err)
	}
	if pv, _ := s.Previews(ctx, "hello"); pv["preview-feature-x"].Branch != "feature/x" {
		t.Errorf("Previews after a refused take-over = %+v", pv)
	}
	if err := s.PutPreview(ctx, store.Preview{App: "hello", Env: "preview-mine", Branch: "mine"}, env, "trigger"); !errors.Is(err, store.ErrNotPreview) {
		t.Errorf("a preview over a spec's environment = %v, want ErrNotPreview", err)
	}
	if err := s.PutPreview(ctx, store.Preview{App: "hello", Env: "preview-y", Branch: "y"}, spec.Environment{Host: host("hello", "staging")}, "trigger"); !errors.Is(err, store.ErrHostTaken) {
		t.Errorf("a preview at staging's host = %v, want ErrHostTaken", err)
	}
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "preview-feature-x", Artifact: digestA})
	var conflict *store.ConflictError
	if err := s.RemovePreview(ctx, "hello", "preview-feature-x", "feature/x", "trigger", "branch deleted"); !errors.As(err, &conflict) {
		t.Fatalf("RemovePreview during a rollout = %v", err)
	}
	succeed(t, s, ro)
	mustLive(t, s, "hello", "preview-feature-x", 1)
	if err := s.RemovePreview(ctx, "hello", "preview-mine", "mine", "trigger", "x"); !errors.Is(err, store.ErrNotPreview) {
		t.Errorf("RemovePreview of a spec's environment = %v", err)
	}
	// Deleting feature-x does not tear down feature/x's preview.
	if err := s.RemovePreview(ctx, "hello", "preview-feature-x", "feature-x", "trigger", "branch feature-x deleted"); !errors.Is(err, store.ErrPreviewTaken) {
		t.Errorf("RemovePreview for another branch = %v, want ErrPreviewTaken", err)
	}
	if err := s.RemovePreview(ctx, "hello", "preview-feature-x", "feature/x", "trigger", "branch feature/x deleted"); err != nil {
		t.Fatal(err)
	}
	app, _ = s.App(ctx, "hello")
	if _, ok := app.Environments["preview-feature-x"]; ok {
		t.Error("the preview is still in the stored spec")
	}
	envs, _ := s.Environments(ctx)
	if slices.ContainsFunc(envs, func(e store.Environment) bool { return e.Env == "preview-feature-x" }) {
		t.Errorf("Environments still lists the preview: %+v", envs)
	}
	if pv, _ := s.Previews(ctx, "hello"); len(pv) != 0 {
		t.Errorf("Previews after teardown = %+v", pv)
	}
}
