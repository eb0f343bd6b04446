package release_test

import (
	"errors"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/spec"
)

func TestEffectiveConfig(t *testing.T) {
	app := spec.App{
		Run: spec.Run{Env: map[string]string{"A": "run", "B": "run", "C": "run"}},
		Environments: map[string]spec.Environment{
			"staging":    {Config: map[string]string{"B": "staging", "C": "staging", "S": "only-staging"}},
			"production": {Config: map[string]string{"B": "production"}},
			"bare":       {},
		},
	}
	tests := []struct {
		name      string
		app       spec.App
		env       string
		overrides map[string]string
		want      map[string]string
	}{
		{
			name: "environment config wins over run.env",
			app:  app, env: "staging",
			want: map[string]string{"A": "run", "B": "staging", "C": "staging", "S": "only-staging"},
		},
		{
			name: "overrides win over both",
			app:  app, env: "staging",
			overrides: map[string]string{"C": "override", "O": "new"},
			want:      map[string]string{"A": "run", "B": "staging", "C": "override", "S": "only-staging", "O": "new"},
		},
		{
			name: "another environment's config does not leak",
			app:  app, env: "production",
			want: map[string]string{"A": "run", "B": "production", "C": "run"},
		},
		{
			name: "environment without config gets run.env",
			app:  app, env: "bare",
			want: map[string]string{"A": "run", "B": "run", "C": "run"},
		},
		{
			name: "unknown environment gets run.env and overrides",
			app:  app, env: "nope",
			overrides: map[string]string{"A": "o"},
			want:      map[string]string{"A": "o", "B": "run", "C": "run"},
		},
		{
			name: "empty app gives an empty, non-nil config",
			env:  "x",
			want: map[string]string{},
		},
		{
			name: "an override may set an empty value",
			app:  app, env: "bare",
			overrides: map[string]string{"A": ""},
			want:      map[string]string{"A": "", "B": "run", "C": "run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := release.EffectiveConfig(tt.app, tt.env, tt.overrides)
			if got == nil {
				t.Fatal("EffectiveConfig returned nil")
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("EffectiveConfig(%q) = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

func TestEffectiveConfigDoesNotAliasInputs(t *testing.T) {
	app := spec.App{
		Run:          spec.Run{Env: map[string]string{"A": "run"}},
		Environments: map[string]spec.Environment{"e": {Config: map[string]string{"B": "env"}}},
	}
	overrides := map[string]string{"C": "o"}
	got := release.EffectiveConfig(app, "e", overrides)
	got["A"], got["B"], got["C"] = "x", "x", "x"
	if app.Run.Env["A"] != "run" || app.Environments["e"].Config["B"] != "env" || overrides["C"] != "o" {
		t.Fatalf("changing the result changed the inputs: run.env %v, config %v, overrides %v",
			app.Run.Env, app.Environments["e"].Config, overrides)
	}
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{12}$`)

func TestConfigHash(t *testing.T) {
	base := map[string]string{"A": "1", "B": "2", "DATABASE_URL": "postgres://db/app"}
	h := release.ConfigHash(base)
	if !hashRE.MatchString(h) {
		t.Fatalf("ConfigHash = %q, want 12 lowercase hex digits", h)
	}

	// The same config built in every insertion order hashes the same.
	keys := []string{"A", "B", "DATABASE_URL"}
	for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		m := map[string]string{}
		for _, i := range order {
			m[keys[i]] = base[keys[i]]
		}
		if got := release.ConfigHash(m); got != h {
			t.Fatalf("ConfigHash of the same config inserted in order %v = %q, want %q", order, got, h)
		}
	}

	if release.ConfigHash(nil) != release.ConfigHash(map[string]string{}) {
		t.Error("nil and empty config hash differently")
	}
	if !hashRE.MatchString(release.ConfigHash(nil)) {
		t.Errorf("ConfigHash(nil) = %q, want 12 hex digits", release.ConfigHash(nil))
	}

	differs := []struct {
		name string
		a, b map[string]string
	}{
		{"value changed", base, with(base, "B", "3")},
		{"key added", base, with(base, "C", "")},
		{"key removed", base, without(base, "A")},
		{"value emptied", base, with(base, "A", "")},
		{"key renamed", map[string]string{"A": "1"}, map[string]string{"B": "1"}},
		{"value moved to another key", map[string]string{"A": "1", "B": ""}, map[string]string{"A": "", "B": "1"}},
		{"newline in a value is not a key boundary",
			map[string]string{"A": "1\nB=2"}, map[string]string{"A": "1", "B": "2"}},
		{"= in a value is not a key boundary",
			map[string]string{"A": "B=C"}, map[string]string{"A=B": "C"}},
	}
	for _, tt := range differs {
		if ha, hb := release.ConfigHash(tt.a), release.ConfigHash(tt.b); ha == hb {
			t.Errorf("%s: ConfigHash(%q) == ConfigHash(%q) == %s, want different", tt.name, tt.a, tt.b, ha)
		}
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	out[k] = v
	return out
}

func without(m map[string]string, k string) map[string]string {
	out := maps.Clone(m)
	delete(out, k)
	return out
}

func TestRollbackTarget(t *testing.T) {
	const (
		live       = release.StatusLive
		superseded = release.StatusSuperseded
		failed     = release.StatusFailed
		aborted    = release.StatusAborted
		deploying  = release.StatusDeploying
	)
	type rel = release.Entry
	tests := []struct {
		name               string
		releases           []release.Entry
		live, previous, to int
		want               int
		wantErr            string // substring; "" means success
		noTarget           bool   // error wraps ErrNoRollbackTarget
	}{
		{name: "nothing deployed", live: 0, wantErr: "nothing is live", noTarget: true},
		{name: "first release failed, nothing live", releases: []rel{{1, failed}}, live: 0, wantErr: "nothing is live", noTarget: true},
		{name: "--to with nothing live", releases: []rel{{1, failed}}, live: 0, to: 1, wantErr: "nothing is live", noTarget: true},
		{name: "only one release went live", releases: []rel{{1, live}}, live: 1, wantErr: "release 1 is the first that went live", noTarget: true},
		{name: "default goes to the previous live release", releases: []rel{{1, superseded}, {2, superseded}, {3, live}}, live: 3, previous: 2, want: 2},
		{name: "previous skips failed releases in between", releases: []rel{{1, superseded}, {2, failed}, {3, failed}, {4, live}}, live: 4, previous: 1, want: 1},
		{
			// 1 then 2 went live, then a rollback made 1 live again: undo
			// toggles back to 2.
			name: "undo after a rollback toggles back", releases: []rel{{1, live}, {2, superseded}}, live: 1, previous: 2, want: 2,
		},
		{name: "order of the list does not matter", releases: []rel{{3, live}, {1, superseded}, {2, superseded}}, live: 3, previous: 2, want: 2},
		{name: "--to an older superseded release", releases: []rel{{1, superseded}, {2, superseded}, {3, live}}, live: 3, previous: 2, to: 1, want: 1},
		{name: "--to a newer superseded release", releases: []rel{{1, live}, {2, superseded}, {3, superseded}}, live: 1, previous: 3, to: 2, want: 2},
		{name: "--to the live release", releases: []rel{{1, superseded}, {2, live}}, live: 2, to: 2, wantErr: "release 2 is already live"},
		{name: "--to a failed release", releases: []rel{{1, superseded}, {2, failed}, {3, live}}, live: 3, to: 2, wantErr: "release 2 failed and never served traffic"},
		{name: "--to an aborted canary", releases: []rel{{1, live}, {2, aborted}}, live: 1, to: 2, wantErr: "release 2 was aborted"},
		{name: "--to a deploying release", releases: []rel{{1, superseded}, {2, live}, {3, deploying}}, live: 2, to: 3, wantErr: "release 3 is still deploying"},
		{name: "--to a missing number", releases: []rel{{1, superseded}, {2, live}}, live: 2, to: 7, wantErr: "release 7 does not exist"},
		{name: "--to a negative number", releases: []rel{{1, superseded}, {2, live}}, live: 2, to: -1, wantErr: "release -1 does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := release.RollbackTarget(tt.releases, tt.live, tt.previous, tt.to)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("RollbackTarget = error %v, want %d", err, tt.want)
				}
				if got != tt.want {
					t.Fatalf("RollbackTarget = %d, want %d", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("RollbackTarget = %d, %v; want error containing %q", got, err, tt.wantErr)
			}
			if got := errors.Is(err, release.ErrNoRollbackTarget); got != tt.noTarget {
				t.Errorf("errors.Is(err, ErrNoRollbackTarget) = %v, want %v (err: %v)", got, tt.noTarget, err)
			}
		})
	}
}

func TestValidateConfigKey(t *testing.T) {
	tests := []struct {
		key     string
		wantErr string // substring; "" means valid
	}{
		{"DATABASE_URL", ""},
		{"a", ""},
		{"_", ""},
		{"_PRIVATE", ""},
		{"lower_case", ""},
		{"A1", ""},
		{"X_2_Y", ""},
		{"PORTS", ""},
		{"MY_PORT", ""},
		{"SLIPWAY", ""},
		{"SLIPWAYX", ""},
		{"slipway_lower", ""},
		{"", "empty"},
		{"PORT", "PORT is set by Slipway"},
		{"SLIPWAY_", "SLIPWAY_ prefix is reserved"},
		{"SLIPWAY_TOKEN", "SLIPWAY_ prefix is reserved"},
		{"1ABC", "not a valid environment variable name"},
		{"9", "not a valid environment variable name"},
		{"A-B", "not a valid environment variable name"},
		{"A B", "not a valid environment variable name"},
		{"A=B", "not a valid environment variable name"},
		{"A.B", "not a valid environment variable name"},
		{"KEY\n", "not a valid environment variable name"},
		{"CAFÉ", "not a valid environment variable name"},
		{"Ä", "not a valid environment variable name"},
		{"$HOME", "not a valid environment variable name"},
	}
	for _, tt := range tests {
		err := release.ValidateConfigKey(tt.key)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateConfigKey(%q) = %v, want nil", tt.key, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidateConfigKey(%q) = nil, want error containing %q", tt.key, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ValidateConfigKey(%q) = %q, want it to contain %q", tt.key, err, tt.wantErr)
		}
	}
}

// The hash is shown in `slipway releases` and compared by people across
// releases; it must not change between versions of Slipway.
func TestConfigHashIsStableAcrossVersions(t *testing.T) {
	got := release.ConfigHash(map[string]string{"GREETING": "hello", "DATABASE_URL": "postgres://db/app"})
	const want = "f28dbe477066"
	if got != want {
		t.Errorf("ConfigHash = %q, want %q", got, want)
	}
}
