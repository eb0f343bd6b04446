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
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// runStoreSuite checks the behaviour every Store backend must share. open
// returns a new, empty store, isolated from every other store it returns
// (the cases run in parallel), and closes it when the test ends.
func runStoreSuite(t *testing.T, open func(t *testing.T) *store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"ApplyCreatesAppAndEnvironments", testApplyCreatesAppAndEnvironments},
		{"ApplyUpdatesSpecAndAddsEnvironments", testApplyUpdatesSpec},
		{"ApplyRefusesHostOfAnotherApp", testApplyRefusesHostOfAnotherApp},
		{"ApplyRefusesDroppingLiveEnvironment", testApplyRefusesDroppingLiveEnvironment},
		{"ApplyRefusesDroppingEnvironmentMidRollout", testApplyRefusesDroppingEnvironmentMidRollout},
		{"ApplyDropsIdleEnvironment", testApplyDropsIdleEnvironment},
		{"BeginRolloutNumbersReleases", testBeginRolloutNumbersReleases},
		{"BeginRolloutPinsRelease", testBeginRolloutPinsRelease},
		{"BeginRolloutWithSpec", testBeginRolloutWithSpec},
		{"BeginRolloutPinSpec", testBeginRolloutPinSpec},
		{"BeginRolloutPinnedConfig", testBeginRolloutPinnedConfig},
		{"BeginRolloutRequiresArtifactAndEnvironment", testBeginRolloutRequires},
		{"BeginRolloutConflict", testBeginRolloutConflict},
		{"BeginRolloutConfigOverrides", testBeginRolloutConfigOverrides},
		{"BeginRolloutConcurrent", testBeginRolloutConcurrent},
		{"SwitchMakesReleaseLive", testSwitchMakesReleaseLive},
		{"FinishRolloutFailed", testFinishRolloutFailed},
		{"FinishRolloutAfterSwitch", testFinishRolloutAfterSwitch},
		{"RolloutInstancesAndListing", testRolloutInstancesAndListing},
		{"ReleasesNewestFirst", testReleasesNewestFirst},
		{"Instances", testInstances},
		{"Tokens", testTokens},
		{"Artifacts", testArtifacts},
		{"NextProxyVersion", testNextProxyVersion},
		{"Events", testEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// newApp returns a spec with the given environments, each with its own
// host and a LEVEL config that overrides run.env.
func newApp(name string, envs ...string) spec.App {
	app := spec.App{
		Name:   name,
		Build:  spec.Build{Command: "make", Output: "dist"},
		Run:    spec.Run{Command: "./server", Env: map[string]string{"GREETING": "hello", "LEVEL": "info"}, DrainTimeout: spec.Duration(5 * time.Second)},
		Health: spec.Health{Path: "/healthz", Interval: spec.Duration(time.Second)},
	}
	app.Environments = map[string]spec.Environment{}
	for _, env := range envs {
		app.Environments[env] = spec.Environment{Host: host(name, env), Replicas: 2, Config: map[string]string{"LEVEL": env}}
	}
	return app
}

func host(app, env string) string { return app + "." + env + ".example.com" }

func mustApply(t *testing.T, s *store.Store, app spec.App) {
	t.Helper()
	if err := s.ApplyApp(t.Context(), app, "alice"); err != nil {
		t.Fatalf("ApplyApp(%s): %v", app.Name, err)
	}
}

func begin(t *testing.T, s *store.Store, nr store.NewRollout) (store.Release, store.Rollout) {
	t.Helper()
	if nr.Actor == "" {
		nr.Actor = "alice"
	}
	if nr.Strategy == "" {
		nr.Strategy = "blue-green"
	}
	if nr.Source == "" {
		nr.Source = "deploy"
	}
	if err := s.AddArtifact(t.Context(), nr.Artifact, 1234); err != nil {
		t.Fatal(err)
	}
	rel, ro, err := s.BeginRollout(t.Context(), nr)
	if err != nil {
		t.Fatalf("BeginRollout(%s/%s): %v", nr.App, nr.Env, err)
	}
	return rel, ro
}

// succeed takes a running rollout through the switch to success.
func succeed(t *testing.T, s *store.Store, ro store.Rollout) {
	t.Helper()
	if err := s.SetRolloutPhase(t.Context(), ro.ID, store.PhaseSwitched); err != nil {
		t.Fatalf("SetRolloutPhase(switched): %v", err)
	}
	if err := s.FinishRollout(t.Context(), ro.ID, store.RolloutSucceeded, ""); err != nil {
		t.Fatalf("FinishRollout(succeeded): %v", err)
	}
}

// deploy makes a new live release of an applied app.
func deploy(t *testing.T, s *store.Store, app, env, digest string) store.Release {
	t.Helper()
	rel, ro := begin(t, s, store.NewRollout{App: app, Env: env, Artifact: digest})
	succeed(t, s, ro)
	return rel
}

func mustRelease(t *testing.T, s *store.Store, app, env string, n int) store.Release {
	t.Helper()
	rel, err := s.Release(t.Context(), app, env, n)
	if err != nil {
		t.Fatalf("Release(%s/%s #%d): %v", app, env, n, err)
	}
	return rel
}

func mustLive(t *testing.T, s *store.Store, app, env string, want int) {
	t.Helper()
	live, err := s.LiveRelease(t.Context(), app, env)
	if err != nil {
		t.Fatalf("LiveRelease(%s/%s): %v", app, env, err)
	}
	if live != want {
		t.Fatalf("LiveRelease(%s/%s) = %d, want %d", app, env, live, want)
	}
}

func statuses(t *testing.T, s *store.Store, app, env string) []string {
	t.Helper()
	rels, err := s.Releases(t.Context(), app, env)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rels {
		out = append(out, fmt.Sprintf("%d:%s", r.Number, r.Status))
	}
	return out
}

func testApplyCreatesAppAndEnvironments(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if _, err := s.App(ctx, "hello"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("App before apply: %v, want ErrNotFound", err)
	}
	if apps, err := s.Apps(ctx); err != nil || len(apps) != 0 {
		t.Fatalf("Apps of an empty store = %v, %v", apps, err)
	}

	hello := newApp("hello", "staging", "production")
	mustApply(t, s, hello)
	mustApply(t, s, newApp("api", "production"))

	got, err := s.App(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, hello) {
		t.Errorf("App(hello) = %+v\nwant %+v", got, hello)
	}
	if apps, err := s.Apps(ctx); err != nil || !slices.Equal(apps, []string{"api", "hello"}) {
		t.Errorf("Apps = %v, %v; want [api hello]", apps, err)
	}
	envs, err := s.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Environment{{App: "api", Env: "production"}, {App: "hello", Env: "production"}, {App: "hello", Env: "staging"}}
	if !slices.Equal(envs, want) {
		t.Errorf("Environments = %+v, want %+v", envs, want)
	}
	mustLive(t, s, "hello", "staging", 0)
	if _, err := s.LiveRelease(ctx, "hello", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LiveRelease of an unknown environment: %v, want ErrNotFound", err)
	}
}

func testApplyUpdatesSpec(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)

	updated := newApp("hello", "staging", "production")
	updated.Run.Command = "./server --v2"
	mustApply(t, s, updated)

	got, err := s.App(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if got.Run.Command != "./server --v2" || len(got.Environments) != 2 {
		t.Errorf("App after re-apply = %+v, want the updated spec", got)
	}
	// The existing environment keeps its live release; the new one starts empty.
	mustLive(t, s, "hello", "staging", 1)
	mustLive(t, s, "hello", "production", 0)
}

func testApplyRefusesHostOfAnotherApp(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))

	thief := newApp("thief", "web")
	thief.Environments["web"] = spec.Environment{Host: host("hello", "production")}
	err := s.ApplyApp(ctx, thief, "mallory")
	if !errors.Is(err, store.ErrHostTaken) {
		t.Fatalf("ApplyApp with another app's host: %v, want ErrHostTaken", err)
	}
	for _, want := range []string{host("hello", "production"), "hello/production"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := s.App(ctx, "thief"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused app was stored anyway: %v", err)
	}
	if envs, _ := s.Environments(ctx); len(envs) != 2 {
		t.Errorf("refused app created environments: %+v", envs)
	}

	// Re-applying an app with its own hosts is fine.
	mustApply(t, s, newApp("hello", "staging", "production"))

	// Once hello gives the host up, another app may take it.
	moved := newApp("hello", "staging", "production")
	moved.Environments["production"] = spec.Environment{Host: "www.example.com"}
	mustApply(t, s, moved)
	mustApply(t, s, thief)
}

func testApplyRefusesDroppingLiveEnvironment(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	deploy(t, s, "hello", "production", digestA)

	err := s.ApplyApp(ctx, newApp("hello", "staging"), "alice")
	if !errors.Is(err, store.ErrEnvInUse) {
		t.Fatalf("dropping a live environment: %v, want ErrEnvInUse", err)
	}
	if !strings.Contains(err.Error(), "production") {
		t.Errorf("error %q does not name the environment", err)
	}
	got, err := s.App(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Environments["production"]; !ok {
		t.Error("the refused apply changed the stored spec anyway")
	}
	mustLive(t, s, "hello", "production", 1)
}

func testApplyRefusesDroppingEnvironmentMidRollout(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "preview"))
	// The first deploy of preview is still starting: nothing is live yet,
	// but instances are coming up and the switch is about to happen.
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "preview", Artifact: digestA})

	if err := s.ApplyApp(ctx, newApp("hello", "staging"), "alice"); !errors.Is(err, store.ErrEnvInUse) {
		t.Fatalf("dropping an environment with a running rollout: %v, want ErrEnvInUse", err)
	}
	succeed(t, s, ro)
	mustLive(t, s, "hello", "preview", 1)
}

func testApplyDropsIdleEnvironment(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "preview"))
	// A failed first deploy leaves nothing live, and a config override.
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "preview", Artifact: digestA,
		ConfigSet: map[string]string{"DATABASE_URL": "postgres://old-preview-db"}})
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "unhealthy"); err != nil {
		t.Fatal(err)
	}

	mustApply(t, s, newApp("hello", "staging"))
	envs, err := s.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Environment{{App: "hello", Env: "staging"}}; !slices.Equal(envs, want) {
		t.Errorf("Environments after dropping preview = %+v, want %+v", envs, want)
	}
	if _, err := s.LiveRelease(ctx, "hello", "preview"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LiveRelease of a dropped environment: %v, want ErrNotFound", err)
	}
	if err := s.AddArtifact(ctx, digestA, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "preview", Artifact: digestA, Actor: "alice"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BeginRollout to a dropped environment: %v, want ErrNotFound", err)
	}

	// Bringing an environment of the same name back starts it clean: the
	// old environment's overrides do not come back with it.
	mustApply(t, s, newApp("hello", "staging", "preview"))
	overrides, err := s.ConfigOverrides(ctx, "hello", "preview")
	if err != nil {
		t.Fatal(err)
	}
	if len(overrides) != 0 {
		t.Errorf("re-created environment inherited overrides %v", overrides)
	}
	rel, _ := begin(t, s, store.NewRollout{App: "hello", Env: "preview", Artifact: digestA})
	if _, ok := rel.Config["DATABASE_URL"]; ok {
		t.Errorf("re-created environment's first release pinned the old override: %v", rel.Config)
	}
}

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
	if err := s.SetRolloutPhase(ctx, ro.ID, store.PhaseSwitching); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rollout(ctx, ro.ID); got.Phase != store.PhaseSwitching {
		t.Errorf("phase = %q, want %q", got.Phase, store.PhaseSwitching)
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

func testInstances(t *testing.T, s *store.Store) {
	ctx := t.Context()
	add := func(in store.Instance) {
		t.Helper()
		if err := s.AddInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	list := func(app, env string) []string {
		t.Helper()
		ins, err := s.Instances(ctx, app, env)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range ins {
			if in.CreatedAt.IsZero() {
				t.Errorf("instance %s has no creation time", in.ID)
			}
			out = append(out, fmt.Sprintf("%s %s/%s#%d %s", in.ID, in.App, in.Env, in.Release, in.Addr))
		}
		return out
	}
	add(store.Instance{ID: "hello-staging-2-0", App: "hello", Env: "staging", Release: 2, Addr: "127.0.0.1:4002"})
	add(store.Instance{ID: "hello-staging-1-0", App: "hello", Env: "staging", Release: 1, Addr: "127.0.0.1:4001"})
	add(store.Instance{ID: "hello-production-1-0", App: "hello", Env: "production", Release: 1})
	add(store.Instance{ID: "api-staging-1-0", App: "api", Env: "staging", Release: 1, Addr: "127.0.0.1:5001"})

	want := []string{
		"api-staging-1-0 api/staging#1 127.0.0.1:5001",
		"hello-production-1-0 hello/production#1 ",
		"hello-staging-1-0 hello/staging#1 127.0.0.1:4001",
		"hello-staging-2-0 hello/staging#2 127.0.0.1:4002",
	}
	if got := list("", ""); !slices.Equal(got, want) {
		t.Errorf("all instances = %q\nwant %q", got, want)
	}
	if got := list("hello", ""); !slices.Equal(got, want[1:]) {
		t.Errorf("instances of hello = %q", got)
	}
	if got := list("", "staging"); !slices.Equal(got, []string{want[0], want[2], want[3]}) {
		t.Errorf("instances in staging = %q", got)
	}
	if got := list("hello", "staging"); !slices.Equal(got, want[2:]) {
		t.Errorf("instances of hello/staging = %q", got)
	}

	// Adding again records the address the instance got.
	add(store.Instance{ID: "hello-production-1-0", App: "hello", Env: "production", Release: 1, Addr: "127.0.0.1:4100"})
	if got := list("hello", "production"); !slices.Equal(got, []string{"hello-production-1-0 hello/production#1 127.0.0.1:4100"}) {
		t.Errorf("after re-adding = %q", got)
	}

	if err := s.RemoveInstance(ctx, "hello-staging-1-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveInstance(ctx, "never-existed"); err != nil {
		t.Errorf("removing an unknown instance: %v", err)
	}
	if got := list("hello", "staging"); !slices.Equal(got, want[3:]) {
		t.Errorf("after remove = %q", got)
	}
}

func testTokens(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if n, err := s.CountTokens(ctx); err != nil || n != 0 {
		t.Fatalf("CountTokens of an empty store = %d, %v", n, err)
	}
	if err := s.AddToken(ctx, "ci", "hash-ci", "deployer"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, "admin", "hash-admin", "admin"); err != nil {
		t.Fatal(err)
	}
	tok, err := s.TokenByHash(ctx, "hash-ci")
	if err != nil || tok != (store.Token{Name: "ci", Role: "deployer"}) {
		t.Errorf("TokenByHash(hash-ci) = %+v, %v", tok, err)
	}
	if _, err := s.TokenByHash(ctx, "hash-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	if err := s.AddToken(ctx, "ci", "hash-other", "admin"); err == nil {
		t.Error("adding a token under a taken name succeeded")
	}
	if err := s.AddToken(ctx, "other", "hash-ci", "admin"); err == nil {
		t.Error("adding a token with a taken hash succeeded")
	}
	if tok, _ := s.TokenByHash(ctx, "hash-ci"); tok.Role != "deployer" {
		t.Errorf("a refused add changed the token to %+v", tok)
	}
	if n, err := s.CountTokens(ctx); err != nil || n != 2 {
		t.Errorf("CountTokens = %d, %v; want 2", n, err)
	}
}

func testArtifacts(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if ok, err := s.HasArtifact(ctx, digestA); err != nil || ok {
		t.Fatalf("HasArtifact before upload = %v, %v", ok, err)
	}
	for range 2 {
		if err := s.AddArtifact(ctx, digestA, 100); err != nil {
			t.Fatalf("AddArtifact: %v", err)
		}
	}
	if ok, err := s.HasArtifact(ctx, digestA); err != nil || !ok {
		t.Errorf("HasArtifact after upload = %v, %v", ok, err)
	}
	if ok, _ := s.HasArtifact(ctx, digestB); ok {
		t.Error("HasArtifact of another digest = true")
	}
}

func testNextProxyVersion(t *testing.T, s *store.Store) {
	ctx := t.Context()
	next := func(min uint64) uint64 {
		t.Helper()
		v, err := s.NextProxyVersion(ctx, min)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v1 := next(0)
	if v1 == 0 {
		t.Fatal("first version is 0")
	}
	v2 := next(0)
	if v2 <= v1 {
		t.Fatalf("versions %d then %d, want strictly increasing", v1, v2)
	}
	// A proxy that already saw version 1000 (say, from before a restart
	// with a fresh database) must get a higher one.
	v3 := next(1000)
	if v3 < 1000 {
		t.Fatalf("NextProxyVersion(1000) = %d", v3)
	}
	if v4 := next(10); v4 <= v3 {
		t.Fatalf("a lower min took the version back: %d after %d", v4, v3)
	}

	// Concurrent callers never get the same version.
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				v, err := s.NextProxyVersion(ctx, 0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[v] {
					t.Errorf("version %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func testEvents(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if evs, err := s.Events(ctx, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Events of an empty store = %v, %v", evs, err)
	}
	mustApply(t, s, newApp("hello", "staging"))
	_, ro1 := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Actor: "bob", Source: "deploy"})
	succeed(t, s, ro1)
	_, ro2 := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB, Actor: "carol", Source: "config set LEVEL",
		ConfigSet: map[string]string{"LEVEL": "debug"}})
	if err := s.FinishRollout(ctx, ro2.ID, store.RolloutFailed, "unhealthy"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, "ci", "hash", "deployer"); err != nil {
		t.Fatal(err)
	}

	evs, err := s.Events(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range evs {
		got = append(got, fmt.Sprintf("%s %s %s/%s", e.Actor, e.Action, e.App, e.Env))
		if e.At.IsZero() || time.Since(e.At) > time.Minute {
			t.Errorf("event %d at %v", e.ID, e.At)
		}
		if i > 0 && e.ID >= evs[i-1].ID {
			t.Errorf("events not newest first: %d after %d", e.ID, evs[i-1].ID)
		}
	}
	want := []string{
		"system token.create /",
		"carol rollout.failed hello/staging",
		"carol rollout.begin hello/staging",
		"bob rollout.succeeded hello/staging",
		"bob release.live hello/staging",
		"bob rollout.begin hello/staging",
		"alice apply hello/",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Events =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	details := []struct {
		i    int
		want []string
	}{
		{0, []string{"ci"}},
		{1, []string{fmt.Sprintf("rollout %d", ro2.ID), "release 2", "unhealthy"}},
		{2, []string{"release 2", "config set LEVEL", digestB[:19]}},
		{4, []string{"release 1 is live"}},
		{5, []string{"release 1", "deploy", digestA[:19]}},
	}
	for _, d := range details {
		for _, w := range d.want {
			if !strings.Contains(evs[d.i].Detail, w) {
				t.Errorf("%s detail %q does not mention %q", evs[d.i].Action, evs[d.i].Detail, w)
			}
		}
	}
	// Config values may be secrets; the audit log names keys only.
	for _, e := range evs {
		if strings.Contains(e.Detail, "debug") {
			t.Errorf("event %s leaks a config value: %q", e.Action, e.Detail)
		}
	}

	if evs, _ := s.Events(ctx, 2); len(evs) != 2 || evs[0].Action != "token.create" {
		t.Errorf("Events(2) = %+v, want the two newest", evs)
	}
}
