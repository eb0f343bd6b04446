package release

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
)

func parityApp() spec.App {
	return spec.App{
		Name:   "hello",
		Run:    spec.Run{Command: "./hello", DrainTimeout: spec.Duration(10 * time.Second)},
		Health: spec.Health{Path: "/healthz"},
		Environments: map[string]spec.Environment{
			"staging":    {Host: "s.example.com", Replicas: 1},
			"production": {Host: "p.example.com", Replicas: 1},
		},
	}
}

func TestCompare(t *testing.T) {
	base := func(env string) EnvState {
		return EnvState{Env: env, Release: 3, Artifact: "sha256:aa", Spec: parityApp(), Config: map[string]string{"GREETING": "hi"}, Secrets: []string{"DB_PASSWORD"}}
	}
	tests := []struct {
		name string
		edit func(a, b *EnvState)
		want Parity
	}{
		{"same except the host", func(a, b *EnvState) {}, Parity{}},
		{"config", func(a, b *EnvState) {
			a.Config = map[string]string{"GREETING": "hi", "ONLY_A": "1", "LEVEL": "debug"}
			b.Config = map[string]string{"GREETING": "hello", "ONLY_B": "2", "LEVEL": "debug"}
		}, Parity{ConfigOnlyInA: []string{"ONLY_A"}, ConfigOnlyInB: []string{"ONLY_B"}, ConfigDiffers: []Difference{{"GREETING", "hi", "hello"}}}},
		{"secrets by name", func(a, b *EnvState) {
			a.Secrets = []string{"DB_PASSWORD", "STRIPE_KEY"}
			b.Secrets = []string{"SENTRY_DSN", "DB_PASSWORD"}
		}, Parity{SecretsOnlyInA: []string{"STRIPE_KEY"}, SecretsOnlyInB: []string{"SENTRY_DSN"}}},
		{"artifact and commit", func(a, b *EnvState) {
			b.Artifact, a.Commit = "sha256:bb", "abc123"
		}, Parity{ArtifactDiffers: true, CommitDiffers: true}},
		{"nothing live on one side", func(a, b *EnvState) {
			b.Release, b.Artifact = 0, ""
		}, Parity{ArtifactDiffers: true}},
		{"replicas and runtime settings", func(a, b *EnvState) {
			b.Spec = parityApp()
			b.Spec.Run.Command = "./hello --prod"
			b.Spec.Health.Path = "/ready"
			e := b.Spec.Environments["production"]
			e.Replicas, e.Rollout.Strategy = 3, spec.StrategyRolling
			e.SecretFiles = map[string]string{"DB_PASSWORD": "db.pass"}
			b.Spec.Environments["production"] = e
		}, Parity{Settings: []Difference{
			{"run.command", `"./hello"`, `"./hello --prod"`},
			{"health.path", `"/healthz"`, `"/ready"`},
			{"replicas", "1", "3"},
			{"secret_files.DB_PASSWORD", "", `"db.pass"`},
			{"rollout.strategy", `"blue-green"`, `"rolling"`},
			{"rollout.promotion", `"auto"`, ""},
			{"rollout.promote_after", `"0s"`, ""},
			{"rollout.max_surge", "", "1"},
			{"rollout.max_unavailable", "", "0"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base("staging"), base("production")
			tt.edit(&a, &b)
			got := Compare("hello", a, b)
			want := tt.want
			want.App, want.A, want.B = "hello", a, b
			for _, l := range []*[]string{&want.ConfigOnlyInA, &want.ConfigOnlyInB, &want.SecretsOnlyInA, &want.SecretsOnlyInB} {
				if *l == nil {
					*l = []string{}
				}
			}
			for _, l := range []*[]Difference{&want.ConfigDiffers, &want.Settings} {
				if *l == nil {
					*l = []Difference{}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Compare =\n%+v\nwant\n%+v", got, want)
			}
			if got.Same() != (tt.name == "same except the host") {
				t.Errorf("Same() = %v", got.Same())
			}
		})
	}
}

// The JSON has lists, never null, and no secret or config values of the
// environments beyond the differences.
func TestParityJSON(t *testing.T) {
	a := EnvState{Env: "staging", Spec: parityApp(), Config: map[string]string{"K": "same"}, Secrets: []string{"S"}}
	b := EnvState{Env: "production", Spec: parityApp(), Config: map[string]string{"K": "same"}, Secrets: []string{"S"}}
	raw, err := json.Marshal(Compare("hello", a, b))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "null") || strings.Contains(string(raw), "same") {
		t.Errorf("JSON = %s", raw)
	}
}
