package store_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

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
