package store_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// A rollback rolls out an existing release again: no new number, the
// release goes live again, and PreviousLive toggles.
func testRollbackReactivates(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	deploy(t, s, "hello", "staging", digestB)
	if prev, err := s.PreviousLive(ctx, "hello", "staging"); err != nil || prev != 1 {
		t.Fatalf("PreviousLive = %d, %v; want 1", prev, err)
	}
	rel, ro, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Existing: 1, Kind: "rollback",
		Strategy: "flip", Source: "rollback", Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Number != 1 || rel.Artifact != digestA || ro.ToRelease != 1 || ro.FromRelease != 2 || ro.Kind != "rollback" {
		t.Fatalf("rollback rollout: release %+v rollout %+v", rel, ro)
	}
	succeed(t, s, ro)
	mustLive(t, s, "hello", "staging", 1)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:superseded", "1:live"}) {
		t.Errorf("statuses = %v (no new release for a rollback)", got)
	}
	if prev, _ := s.PreviousLive(ctx, "hello", "staging"); prev != 2 {
		t.Errorf("PreviousLive after the rollback = %d, want 2 (undo toggles)", prev)
	}
	// A failed rollback leaves the target's status alone.
	_, ro, err = s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Existing: 2, Kind: "rollback", Strategy: "blue-green", Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "instance never healthy"); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:superseded", "1:live"}) {
		t.Errorf("statuses after a failed rollback = %v", got)
	}
	if _, _, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Existing: 9, Actor: "bob", Strategy: "flip"}); err == nil {
		t.Error("rollback to a missing release was accepted")
	}
}

// Canary progress, pauses, decisions and an abort are recorded.
func testCanaryBookkeeping(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB, Strategy: "canary"})
	if err := s.SetRolloutProgress(ctx, ro.ID, store.PhaseProgress, 1, 25, "step 2/4: 25%"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRolloutPaused(ctx, ro.ID, true); err != nil {
		t.Fatal(err)
	}
	evidence, _ := json.Marshal(map[string]any{"verdict": "fail", "canary_requests": 500})
	if err := s.AddDecision(ctx, store.Decision{RolloutID: ro.ID, Action: "abort", Actor: "analysis", Step: 1, Weight: 25,
		Reason: "error rate 48% vs 0.2%", Evidence: evidence}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Rollout(ctx, ro.ID)
	if got.Phase != store.PhaseProgress || got.Step != 1 || got.Weight != 25 || !got.Paused || got.Message != "step 2/4: 25%" {
		t.Fatalf("rollout in progress: %+v", got)
	}
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutAborted, "analysis failed"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Rollout(ctx, ro.ID)
	if got.State != store.RolloutAborted || got.Weight != 0 || got.Paused {
		t.Errorf("aborted rollout keeps weight %d paused %v", got.Weight, got.Paused)
	}
	if st := statuses(t, s, "hello", "staging"); !slices.Equal(st, []string{"2:aborted", "1:live"}) {
		t.Errorf("statuses = %v", st)
	}
	ds, err := s.Decisions(ctx, ro.ID)
	if err != nil || len(ds) != 1 || ds[0].Actor != "analysis" || !strings.Contains(string(ds[0].Evidence), "canary_requests") {
		t.Fatalf("decisions = %+v, %v", ds, err)
	}
	if err := s.SetRolloutProgress(ctx, ro.ID, store.PhaseProgress, 2, 50, ""); err == nil {
		t.Error("progress on a finished rollout was accepted")
	}
	ev, _ := s.Events(ctx, 20)
	found := false
	for _, e := range ev {
		found = found || (e.Action == "rollout.abort" && e.Actor == "analysis")
	}
	if !found {
		t.Errorf("no audit event for the abort decision: %+v", ev)
	}
}

// Instances become ready after their gate and can be kept warm.
func testInstanceReadyAndWarm(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if err := s.AddInstance(ctx, store.Instance{ID: "i1", App: "a", Env: "e", Release: 1, Addr: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.Instances(ctx, "a", "e")
	if len(list) != 1 || list[0].Ready || !list[0].WarmUntil.IsZero() {
		t.Fatalf("new instance: %+v", list)
	}
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	if err := s.SetInstanceReady(ctx, "i1", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWarm(ctx, []string{"i1"}, until); err != nil {
		t.Fatal(err)
	}
	list, _ = s.Instances(ctx, "a", "e")
	if !list[0].Ready || !list[0].WarmUntil.Equal(until) {
		t.Fatalf("ready warm instance: %+v, want warm until %v", list[0], until)
	}
	s.SetWarm(ctx, []string{"i1"}, time.Time{})
	s.SetInstanceReady(ctx, "i1", false)
	list, _ = s.Instances(ctx, "a", "e")
	if list[0].Ready || !list[0].WarmUntil.IsZero() {
		t.Fatalf("instance after clearing: %+v", list[0])
	}
}
