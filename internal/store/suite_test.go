package store_test

import (
	"fmt"
	"testing"
	"time"

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
		{"Users", testUsers}, {"Grants", testGrants}, {"AuditChain", testAuditChain},
		{"Artifacts", testArtifacts},
		{"NextProxyVersion", testNextProxyVersion},
		{"Events", testEvents},
		{"RollbackReactivates", testRollbackReactivates},
		{"CanaryBookkeeping", testCanaryBookkeeping},
		{"InstanceReadyAndWarm", testInstanceReadyAndWarm},
		{"SecretVersions", testSecretVersions}, {"SecretPinning", testSecretPinning}, {"SecretRotation", testSecretRotation},
		{"RunLifecycle", testRunLifecycle}, {"RunFinishSteps", testRunFinishSteps}, {"RunQueueAndList", testRunQueueAndList}, {"RunRequeue", testRunRequeue},
		{"SourceRefsAndRuns", testSourceRefsAndRuns}, {"Candidates", testCandidates}, {"Previews", testPreviews},
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
