package auth

import (
	"fmt"
	"maps"
	"slices"

	"github.com/slipway-dev/slipway/internal/spec"
)

// LoosenedGates lists how next loosens the promotion rules of prev's
// environments: requires_from removed or pointed elsewhere, fewer
// approvals, an environment that had either removed. Like lowering a
// permission, only an admin may: otherwise whoever may deploy could
// reach a gated environment past its gates.
func LoosenedGates(prev, next spec.App) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(prev.Environments)) {
		was := prev.Environments[name]
		if was.RequiresFrom == "" && was.Approvals == 0 {
			continue
		}
		now, kept := next.Environments[name]
		if !kept {
			out = append(out, fmt.Sprintf("environments.%s removed", name))
			continue
		}
		if was.RequiresFrom != "" && now.RequiresFrom != was.RequiresFrom {
			to := "none"
			if now.RequiresFrom != "" {
				to = now.RequiresFrom
			}
			out = append(out, fmt.Sprintf("environments.%s.requires_from %s → %s", name, was.RequiresFrom, to))
		}
		if now.Approvals < was.Approvals {
			out = append(out, fmt.Sprintf("environments.%s.approvals %d → %d", name, was.Approvals, now.Approvals))
		}
	}
	return out
}
