package auth

import (
	"reflect"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
)

// A spec may tighten promotion rules; loosening them is listed.
func TestLoosenedGates(t *testing.T) {
	app := func(envs map[string]spec.Environment) spec.App { return spec.App{Name: "hello", Environments: envs} }
	staging := spec.Environment{Host: "s"}
	gated := spec.Environment{Host: "p", RequiresFrom: "staging", Approvals: 2}
	prev := app(map[string]spec.Environment{"staging": staging, "production": gated})
	for _, tt := range []struct {
		name string
		next spec.App
		want []string
	}{
		{"same", prev, nil},
		{"tightened", app(map[string]spec.Environment{"staging": {Host: "s", RequiresFrom: "dev"}, "production": {Host: "p", RequiresFrom: "staging", Approvals: 3}}), nil},
		{"other changes", app(map[string]spec.Environment{"staging": {Host: "s2", Replicas: 3}, "production": {Host: "p", RequiresFrom: "staging", Approvals: 2, Replicas: 2}}), nil},
		{"requires_from dropped", app(map[string]spec.Environment{"staging": staging, "production": {Host: "p", Approvals: 2}}),
			[]string{"environments.production.requires_from staging → none"}},
		{"requires_from elsewhere, fewer approvals", app(map[string]spec.Environment{"staging": staging, "production": {Host: "p", RequiresFrom: "qa", Approvals: 1}}),
			[]string{"environments.production.requires_from staging → qa", "environments.production.approvals 2 → 1"}},
		{"gated environment removed", app(map[string]spec.Environment{"staging": staging}), []string{"environments.production removed"}},
	} {
		if got := LoosenedGates(prev, tt.next); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: LoosenedGates = %q, want %q", tt.name, got, tt.want)
		}
	}
}
