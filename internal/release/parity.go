package release

import (
	"maps"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/spec"
)

// EnvState is what Compare knows of one environment: its live release, or,
// when nothing is live yet, what its next release would pin.
type EnvState struct {
	Env string `json:"env"`
	// Release is the live release, 0 when none.
	Release  int    `json:"release"`
	Artifact string `json:"artifact,omitempty"`
	// Commit is the source commit the artifact was built from, when known.
	Commit  string            `json:"commit,omitempty"`
	Spec    spec.App          `json:"-"`
	Config  map[string]string `json:"-"`
	Secrets []string          `json:"-"` // names only
}

// Difference is one key or setting whose values differ; an empty side
// means the key is not set there.
type Difference struct {
	Key string `json:"key"`
	A   string `json:"a"`
	B   string `json:"b"`
}

// Parity is what differs between two environments of an app: config,
// secrets (by name only), the artifact and commit, replicas and the
// runtime settings (run, health, rollout, secret files). Lists are never
// nil, so the JSON has [] rather than null.
type Parity struct {
	App             string       `json:"app"`
	A               EnvState     `json:"a"`
	B               EnvState     `json:"b"`
	ArtifactDiffers bool         `json:"artifact_differs"`
	CommitDiffers   bool         `json:"commit_differs"`
	ConfigOnlyInA   []string     `json:"config_only_in_a"`
	ConfigOnlyInB   []string     `json:"config_only_in_b"`
	ConfigDiffers   []Difference `json:"config_differs"`
	SecretsOnlyInA  []string     `json:"secrets_only_in_a"`
	SecretsOnlyInB  []string     `json:"secrets_only_in_b"`
	// Settings are replicas, run, health, rollout and secret_files fields,
	// named as in slipway.yaml under the environment (replicas,
	// rollout.strategy) or at the top (run.command, health.path), with
	// their values as written there.
	Settings []Difference `json:"settings_differ"`
}

// Same reports whether nothing differs.
func (p Parity) Same() bool {
	return !p.ArtifactDiffers && !p.CommitDiffers && len(p.ConfigOnlyInA)+len(p.ConfigOnlyInB)+len(p.ConfigDiffers)+
		len(p.SecretsOnlyInA)+len(p.SecretsOnlyInB)+len(p.Settings) == 0
}

// Compare lists what differs between environments a and b of app. Config
// values are shown; secret values never reach it.
func Compare(app string, a, b EnvState) Parity {
	p := Parity{App: app, A: a, B: b,
		ArtifactDiffers: a.Artifact != b.Artifact, CommitDiffers: a.Commit != b.Commit,
		ConfigOnlyInA: []string{}, ConfigOnlyInB: []string{}, ConfigDiffers: []Difference{}}
	for _, k := range slices.Sorted(maps.Keys(a.Config)) {
		bv, ok := b.Config[k]
		switch {
		case !ok:
			p.ConfigOnlyInA = append(p.ConfigOnlyInA, k)
		case bv != a.Config[k]:
			p.ConfigDiffers = append(p.ConfigDiffers, Difference{Key: k, A: a.Config[k], B: bv})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.Config)) {
		if _, ok := a.Config[k]; !ok {
			p.ConfigOnlyInB = append(p.ConfigOnlyInB, k)
		}
	}
	p.SecretsOnlyInA, p.SecretsOnlyInB = onlyIn(a.Secrets, b.Secrets), onlyIn(b.Secrets, a.Secrets)
	p.Settings = settings(a, b)
	return p
}

// onlyIn returns the names in x but not in y, sorted.
func onlyIn(x, y []string) []string {
	out := []string{}
	for _, n := range x {
		if !slices.Contains(y, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// settings compares the runtime settings with spec.Diff, on views of each
// spec that keep only those settings, under one environment name.
func settings(a, b EnvState) []Difference {
	const env = "env"
	view := func(s EnvState) *spec.App {
		e := s.Spec.Environments[s.Env]
		return &spec.App{
			Run:          spec.Run{Command: s.Spec.Run.Command, DrainTimeout: s.Spec.Run.DrainTimeout},
			Health:       s.Spec.Health,
			Environments: map[string]spec.Environment{env: {Replicas: e.Replicas, Rollout: e.Rollout, SecretFiles: e.SecretFiles}},
		}
	}
	out := []Difference{}
	for _, c := range spec.Diff(view(a), view(b)) {
		out = append(out, Difference{Key: strings.TrimPrefix(c.Path, "environments."+env+"."), A: c.Old, B: c.New})
	}
	return out
}
