package store_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/store"
)

func testBeginRolloutNumbersReleases(t *testing.T, s *store.Store) {
	mustApply(t, s, newApp("hello", "staging", "production"))
	mustApply(t, s, newApp("api", "staging"))

	for want := 1; want <= 3; want++ {
		if rel := deploy(t, s, "hello", "staging", digestA); rel.Number != want {
			t.Fatalf("staging release %d numbered %d", want, rel.Number)
		}
	}
	if rel := deploy(t, s, "hello", "production", digestA); rel.Number != 1 {
		t.Errorf("first production release numbered %d, want 1", rel.Number)
	}
	if rel := deploy(t, s, "api", "staging", digestA); rel.Number != 1 {
		t.Errorf("first release of another app numbered %d, want 1", rel.Number)
	}
	// A failed release still takes its number.
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	if err := s.FinishRollout(t.Context(), ro.ID, store.RolloutFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	if rel := deploy(t, s, "hello", "staging", digestA); rel.Number != 5 {
		t.Errorf("release after a failed one numbered %d, want 5", rel.Number)
	}
}

func testBeginRolloutPinsRelease(t *testing.T, s *store.Store) {
	ctx := t.Context()
	app := newApp("hello", "staging")
	mustApply(t, s, app)
	first := deploy(t, s, "hello", "staging", digestA)

	rel, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB,
		Source: "deploy", Strategy: "blue-green", Actor: "bob"})
	wantConfig := map[string]string{"GREETING": "hello", "LEVEL": "staging"}
	if rel.Number != 2 || rel.Artifact != digestB || rel.Status != release.StatusDeploying ||
		rel.Source != "deploy" || rel.CreatedBy != "bob" || rel.FinishedAt != nil {
		t.Errorf("new release = %+v", rel)
	}
	if !reflect.DeepEqual(rel.Spec, app) {
		t.Errorf("pinned spec = %+v, want the stored one %+v", rel.Spec, app)
	}
	if !maps.Equal(rel.Config, wantConfig) {
		t.Errorf("pinned config = %v, want %v", rel.Config, wantConfig)
	}
	if rel.ConfigHash != release.ConfigHash(wantConfig) {
		t.Errorf("config hash = %s, want %s", rel.ConfigHash, release.ConfigHash(wantConfig))
	}
	if rel.CreatedAt.IsZero() || time.Since(rel.CreatedAt) > time.Minute {
		t.Errorf("created at %v", rel.CreatedAt)
	}
	if ro.ID == 0 || ro.App != "hello" || ro.Env != "staging" || ro.FromRelease != first.Number || ro.ToRelease != 2 ||
		ro.State != store.RolloutRunning || ro.Phase != store.PhaseStarting || ro.Strategy != "blue-green" || ro.CreatedBy != "bob" {
		t.Errorf("new rollout = %+v", ro)
	}

	// What BeginRollout returned is what was stored.
	stored := mustRelease(t, s, "hello", "staging", 2)
	if !reflect.DeepEqual(stored, rel) {
		t.Errorf("stored release = %+v\nreturned      %+v", stored, rel)
	}
	storedRo, err := s.Rollout(ctx, ro.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(storedRo, ro) {
		t.Errorf("stored rollout = %+v\nreturned      %+v", storedRo, ro)
	}

	// Later changes to the spec do not touch what a release pinned.
	changed := newApp("hello", "staging")
	changed.Run.Command = "./other"
	changed.Run.Env["GREETING"] = "bye"
	mustApply(t, s, changed)
	if again := mustRelease(t, s, "hello", "staging", 2); !reflect.DeepEqual(again, rel) {
		t.Errorf("release changed after apply: %+v", again)
	}
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "cancelled"); err != nil {
		t.Fatal(err)
	}
	third, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	if third.Spec.Run.Command != "./other" || third.Config["GREETING"] != "bye" || third.ConfigHash == rel.ConfigHash {
		t.Errorf("next release did not pin the new spec and config: %+v", third)
	}
}

func testBeginRolloutWithSpec(t *testing.T, s *store.Store) {
	ctx := t.Context()
	// A deploy with -f applies and deploys in one step, even for a new app.
	app := newApp("hello", "staging")
	rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Spec: &app})
	stored, err := s.App(ctx, "hello")
	if err != nil {
		t.Fatalf("App after a deploy with a spec: %v", err)
	}
	if !reflect.DeepEqual(stored, app) || !reflect.DeepEqual(rel.Spec, app) {
		t.Errorf("stored %+v, pinned %+v; want both %+v", stored, rel.Spec, app)
	}

	// A refused deploy with a spec leaves the stored spec alone.
	other := newApp("hello", "staging")
	other.Run.Command = "./changed"
	if err := s.AddArtifact(ctx, digestB, 1); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB, Spec: &other, Actor: "alice"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second rollout: %v, want ErrConflict", err)
	}
	if stored, _ := s.App(ctx, "hello"); stored.Run.Command != app.Run.Command {
		t.Errorf("refused rollout changed the stored spec to %+v", stored.Run)
	}
}

func testBeginRolloutPinSpec(t *testing.T, s *store.Store) {
	ctx := t.Context()
	app := newApp("hello", "staging")
	mustApply(t, s, app)
	old := newApp("hello", "staging")
	old.Run.Command = "./old-server"

	rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, PinSpec: &old, Source: "rollback to #1"})
	if rel.Spec.Run.Command != "./old-server" {
		t.Errorf("pinned spec command %q, want ./old-server", rel.Spec.Run.Command)
	}
	if got := mustRelease(t, s, "hello", "staging", rel.Number); got.Spec.Run.Command != "./old-server" {
		t.Errorf("stored release pins command %q, want ./old-server", got.Spec.Run.Command)
	}
	stored, err := s.App(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, app) {
		t.Errorf("PinSpec changed the stored spec to %+v", stored)
	}
}

func testBeginRolloutPinnedConfig(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	old := map[string]string{"GREETING": "from release 1", "ONLY_THEN": "x"}
	rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Config: old})
	if !maps.Equal(rel.Config, old) || rel.ConfigHash != release.ConfigHash(old) {
		t.Errorf("release pinned %v (%s), want exactly %v", rel.Config, rel.ConfigHash, old)
	}
	if got := mustRelease(t, s, "hello", "staging", rel.Number); !maps.Equal(got.Config, old) {
		t.Errorf("stored config %v, want %v", got.Config, old)
	}
	if o, _ := s.ConfigOverrides(ctx, "hello", "staging"); len(o) != 0 {
		t.Errorf("pinning a config created overrides %v", o)
	}
}

func testBeginRolloutRequires(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))

	// An artifact that was never uploaded.
	_, _, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Artifact: digestC, Actor: "alice",
		ConfigSet: map[string]string{"A": "1"}})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "upload") {
		t.Errorf("rollout of a missing artifact: %v, want ErrNotFound telling to upload it", err)
	}
	if o, _ := s.ConfigOverrides(ctx, "hello", "staging"); len(o) != 0 {
		t.Errorf("refused rollout changed overrides: %v", o)
	}

	if err := s.AddArtifact(ctx, digestC, 10); err != nil {
		t.Fatal(err)
	}
	// An environment the spec does not have.
	_, _, err = s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "qa", Artifact: digestC, Actor: "alice"})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "production, staging") {
		t.Errorf("rollout to an unknown environment: %v, want ErrNotFound listing the environments", err)
	}
	// An app that was never applied.
	_, _, err = s.BeginRollout(ctx, store.NewRollout{App: "ghost", Env: "staging", Artifact: digestC, Actor: "alice"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rollout of an unknown app: %v, want ErrNotFound", err)
	}

	// None of the refusals left a release or a running rollout behind.
	if rels, _ := s.Releases(ctx, "hello", "staging"); len(rels) != 0 {
		t.Errorf("refused rollouts created releases: %+v", rels)
	}
	if ros, _ := s.Rollouts(ctx, "", "", true, 10); len(ros) != 0 {
		t.Errorf("refused rollouts left running rollouts: %+v", ros)
	}
	if rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestC}); rel.Number != 1 {
		t.Errorf("first successful rollout numbered %d, want 1", rel.Number)
	}
}

func testBeginRolloutConflict(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	mustApply(t, s, newApp("api", "staging"))
	_, first := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA})

	_, _, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Actor: "bob",
		ConfigSet: map[string]string{"A": "1"}})
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("second rollout of staging: %v, want a *ConflictError", err)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("errors.Is(%v, ErrConflict) = false", err)
	}
	if conflict.Running.ID != first.ID || conflict.Running.ToRelease != 1 {
		t.Errorf("conflict names rollout %+v, want %+v", conflict.Running, first)
	}
	if !strings.Contains(err.Error(), "wait for it to finish") {
		t.Errorf("conflict error %q does not say what to do", err)
	}
	if rels, _ := s.Releases(ctx, "hello", "staging"); len(rels) != 1 {
		t.Errorf("conflicting rollout created a release: %+v", rels)
	}
	if o, _ := s.ConfigOverrides(ctx, "hello", "staging"); len(o) != 0 {
		t.Errorf("conflicting rollout changed overrides: %v", o)
	}

	// Other environments and other apps are independent.
	begin(t, s, store.NewRollout{App: "hello", Env: "production", Artifact: digestA})
	begin(t, s, store.NewRollout{App: "api", Env: "staging", Artifact: digestA})

	// Once the first rollout ends, staging takes a new one.
	if err := s.FinishRollout(ctx, first.ID, store.RolloutFailed, "cancelled"); err != nil {
		t.Fatal(err)
	}
	if rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA}); rel.Number != 2 {
		t.Errorf("rollout after the conflict ended made release %d, want 2", rel.Number)
	}
}

func testBeginRolloutConfigOverrides(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	deploy(t, s, "hello", "staging", digestA)

	rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Source: "config set LEVEL, SECRET",
		ConfigSet: map[string]string{"LEVEL": "debug", "SECRET": "s3cret"}})
	want := map[string]string{"GREETING": "hello", "LEVEL": "debug", "SECRET": "s3cret"}
	if !maps.Equal(rel.Config, want) {
		t.Errorf("config after set = %v, want %v", rel.Config, want)
	}
	overrides, err := s.ConfigOverrides(ctx, "hello", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(overrides, map[string]string{"LEVEL": "debug", "SECRET": "s3cret"}) {
		t.Errorf("overrides = %v", overrides)
	}
	if o, _ := s.ConfigOverrides(ctx, "hello", "production"); len(o) != 0 {
		t.Errorf("overrides leaked into production: %v", o)
	}
	if rels, _ := s.Releases(ctx, "hello", "staging"); len(rels) != 2 {
		t.Fatalf("want 2 releases, got %d", len(rels))
	}
	succeed(t, s, store.Rollout{ID: mustRunning(t, s, "hello", "staging").ID})

	// Setting again replaces the value; unsetting falls back to the spec.
	rel, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA,
		ConfigSet: map[string]string{"SECRET": "rotated"}, ConfigUnset: []string{"LEVEL"}})
	want = map[string]string{"GREETING": "hello", "LEVEL": "staging", "SECRET": "rotated"}
	if !maps.Equal(rel.Config, want) {
		t.Errorf("config after unset = %v, want %v", rel.Config, want)
	}
	succeed(t, s, ro)

	// The next plain deploy keeps the overrides.
	rel = deploy(t, s, "hello", "staging", digestB)
	if !maps.Equal(rel.Config, want) {
		t.Errorf("config of the next deploy = %v, want %v", rel.Config, want)
	}
}

func mustRunning(t *testing.T, s *store.Store, app, env string) store.Rollout {
	t.Helper()
	ros, err := s.Rollouts(t.Context(), app, env, true, 10)
	if err != nil || len(ros) != 1 {
		t.Fatalf("running rollouts of %s/%s = %+v, %v; want one", app, env, ros, err)
	}
	return ros[0]
}

func testBeginRolloutConcurrent(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	if err := s.AddArtifact(ctx, digestA, 1); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, errs[i] = s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA,
				Actor: fmt.Sprintf("user%d", i), Source: "deploy"})
		}()
	}
	close(start)
	wg.Wait()

	ok, conflicts := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			var c *store.ConflictError
			if !errors.As(err, &c) {
				t.Errorf("goroutine %d: conflict %v is not a *ConflictError", i, err)
			}
			conflicts++
		default:
			t.Errorf("goroutine %d: %v, want success or a conflict", i, err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
	}
	if rels, _ := s.Releases(ctx, "hello", "staging"); len(rels) != 1 || rels[0].Number != 1 {
		t.Errorf("releases after the race = %+v, want exactly release 1", rels)
	}
	mustRunning(t, s, "hello", "staging")
}

func testSwitchMakesReleaseLive(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	deploy(t, s, "hello", "production", digestA)
	deploy(t, s, "hello", "staging", digestA)

	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	if ro.FromRelease != 1 {
		t.Errorf("rollout from %d, want 1", ro.FromRelease)
	}
	if err := s.SetRolloutPhase(ctx, ro.ID, store.PhaseProgress); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rollout(ctx, ro.ID); got.Phase != store.PhaseProgress {
		t.Errorf("phase = %q, want %q", got.Phase, store.PhaseProgress)
	}
	// Before the switch the old release still serves.
	mustLive(t, s, "hello", "staging", 1)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:deploying", "1:live"}) {
		t.Errorf("statuses before the switch = %v", got)
	}

	if err := s.SetRolloutPhase(ctx, ro.ID, store.PhaseSwitched); err != nil {
		t.Fatal(err)
	}
	mustLive(t, s, "hello", "staging", 2)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:live", "1:superseded"}) {
		t.Errorf("statuses after the switch = %v", got)
	}
	if got := mustRelease(t, s, "hello", "staging", 2); got.FinishedAt == nil {
		t.Error("live release has no finish time")
	}
	if got, _ := s.Rollout(ctx, ro.ID); got.Phase != store.PhaseSwitched || got.State != store.RolloutRunning {
		t.Errorf("rollout after the switch = %+v", got)
	}
	// Another environment is untouched.
	mustLive(t, s, "hello", "production", 1)
	if got := statuses(t, s, "hello", "production"); !slices.Equal(got, []string{"1:live"}) {
		t.Errorf("production statuses = %v", got)
	}
	envs, _ := s.Environments(ctx)
	if want := []store.Environment{{"hello", "production", 1}, {"hello", "staging", 2}}; !slices.Equal(envs, want) {
		t.Errorf("Environments = %+v, want %+v", envs, want)
	}

	if err := s.FinishRollout(ctx, ro.ID, store.RolloutSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Rollout(ctx, ro.ID)
	if got.State != store.RolloutSucceeded || got.Phase != store.PhaseDone || got.FinishedAt == nil {
		t.Errorf("finished rollout = %+v", got)
	}
	if err := s.SetRolloutPhase(ctx, ro.ID, store.PhaseSwitched); err == nil {
		t.Error("SetRolloutPhase on a finished rollout succeeded")
	}
	if err := s.SetRolloutPhase(ctx, 9999, store.PhaseSwitched); err == nil {
		t.Error("SetRolloutPhase on a missing rollout succeeded")
	}

	// A third release supersedes the second; the first stays superseded.
	deploy(t, s, "hello", "staging", digestC)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"3:live", "2:superseded", "1:superseded"}) {
		t.Errorf("statuses after a third deploy = %v", got)
	}
}

func testFinishRolloutFailed(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})

	// A rollout that never switched traffic cannot succeed.
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutSucceeded, ""); err == nil || !strings.Contains(err.Error(), "never switched") {
		t.Errorf("succeeding a rollout that never switched: %v", err)
	}

	const reason = "instance hello-staging-2-0 never became healthy: GET /healthz: 500"
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, reason); err != nil {
		t.Fatal(err)
	}
	rel := mustRelease(t, s, "hello", "staging", 2)
	if rel.Status != release.StatusFailed || rel.Reason != reason || rel.FinishedAt == nil {
		t.Errorf("failed release = status %q, reason %q, finished %v", rel.Status, rel.Reason, rel.FinishedAt)
	}
	got, err := s.Rollout(ctx, ro.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RolloutFailed || got.Reason != reason || got.Phase != store.PhaseDone || got.FinishedAt == nil {
		t.Errorf("failed rollout = %+v", got)
	}
	// The previous release keeps serving.
	mustLive(t, s, "hello", "staging", 1)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:failed", "1:live"}) {
		t.Errorf("statuses = %v", got)
	}

	// Finishing twice is refused and changes nothing.
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutSucceeded, ""); err == nil {
		t.Error("finishing a rollout twice succeeded")
	}
	if got, _ := s.Rollout(ctx, ro.ID); got.State != store.RolloutFailed || got.Reason != reason {
		t.Errorf("second finish changed the rollout to %+v", got)
	}
	if err := s.FinishRollout(ctx, 9999, store.RolloutFailed, "x"); err == nil {
		t.Error("finishing a missing rollout succeeded")
	}
	if _, err := s.Rollout(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Rollout(9999): %v, want ErrNotFound", err)
	}
}

func testFinishRolloutAfterSwitch(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	if err := s.SetRolloutPhase(ctx, ro.ID, store.PhaseSwitched); err != nil {
		t.Fatal(err)
	}
	// Draining the old instances failed, but traffic already moved: the
	// release that serves is not marked failed.
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "stop old instance: timeout"); err != nil {
		t.Fatal(err)
	}
	mustLive(t, s, "hello", "staging", 2)
	if got := statuses(t, s, "hello", "staging"); !slices.Equal(got, []string{"2:live", "1:superseded"}) {
		t.Errorf("statuses = %v", got)
	}
}

func testRolloutInstancesAndListing(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	mustApply(t, s, newApp("api", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	_, ro2 := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	_, ro3 := begin(t, s, store.NewRollout{App: "hello", Env: "production", Artifact: digestB})
	_, ro4 := begin(t, s, store.NewRollout{App: "api", Env: "staging", Artifact: digestB})

	if err := s.SetRolloutInstances(ctx, ro2.ID, []string{"new-1", "new-2"}, []string{"old-1"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Rollout(ctx, ro2.ID)
	if !slices.Equal(got.NewInstances, []string{"new-1", "new-2"}) || !slices.Equal(got.OldInstances, []string{"old-1"}) {
		t.Errorf("instances = %v / %v", got.NewInstances, got.OldInstances)
	}
	if err := s.SetRolloutInstances(ctx, ro2.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rollout(ctx, ro2.ID); got.NewInstances == nil || len(got.NewInstances) != 0 || got.OldInstances == nil || len(got.OldInstances) != 0 {
		t.Errorf("nil instances read back as %#v / %#v, want empty lists", got.NewInstances, got.OldInstances)
	}

	ids := func(ros []store.Rollout, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range ros {
			out = append(out, r.ID)
		}
		return out
	}
	all := ids(s.Rollouts(ctx, "", "", false, 100))
	if len(all) != 4 || all[0] != ro4.ID || all[1] != ro3.ID || all[2] != ro2.ID {
		t.Errorf("all rollouts = %v, want newest first ending with %d, %d, %d", all, ro4.ID, ro3.ID, ro2.ID)
	}
	if got := ids(s.Rollouts(ctx, "", "", true, 100)); !slices.Equal(got, []int64{ro4.ID, ro3.ID, ro2.ID}) {
		t.Errorf("running rollouts = %v", got)
	}
	if got := ids(s.Rollouts(ctx, "hello", "", true, 100)); !slices.Equal(got, []int64{ro3.ID, ro2.ID}) {
		t.Errorf("running rollouts of hello = %v", got)
	}
	if got := ids(s.Rollouts(ctx, "", "staging", true, 100)); !slices.Equal(got, []int64{ro4.ID, ro2.ID}) {
		t.Errorf("running rollouts of staging = %v", got)
	}
	if got := ids(s.Rollouts(ctx, "hello", "staging", false, 100)); len(got) != 2 || got[0] != ro2.ID {
		t.Errorf("rollouts of hello/staging = %v", got)
	}
	if got := ids(s.Rollouts(ctx, "", "", false, 2)); !slices.Equal(got, []int64{ro4.ID, ro3.ID}) {
		t.Errorf("rollouts with limit 2 = %v", got)
	}
}

func testReleasesNewestFirst(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	if rels, err := s.Releases(ctx, "hello", "staging"); err != nil || len(rels) != 0 {
		t.Fatalf("Releases before any deploy = %v, %v", rels, err)
	}

	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA})
	time.Sleep(20 * time.Millisecond)
	succeed(t, s, ro)
	_, ro = begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	time.Sleep(20 * time.Millisecond)
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestC})
	deploy(t, s, "hello", "production", digestA)

	rels, err := s.Releases(ctx, "hello", "staging")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, fmt.Sprintf("%d:%s:%s", r.Number, r.Status, r.Artifact[7:8]))
	}
	if want := []string{"3:deploying:c", "2:failed:b", "1:live:a"}; !slices.Equal(got, want) {
		t.Errorf("Releases = %v, want %v", got, want)
	}
	if d := rels[0].Duration(); d != 0 {
		t.Errorf("deploying release has duration %v, want 0", d)
	}
	for _, r := range rels[1:] {
		if d := r.Duration(); d < 20*time.Millisecond || d > time.Minute {
			t.Errorf("release %d took %v, want at least the 20ms it was deploying", r.Number, d)
		}
	}
	if _, err := s.Release(ctx, "hello", "staging", 4); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Release(4): %v, want ErrNotFound", err)
	}
	if _, err := s.Release(ctx, "hello", "qa", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Release of an unknown environment: %v, want ErrNotFound", err)
	}
}
