package auth

import (
	"fmt"
	"maps"
	"slices"

	"github.com/slipway-dev/slipway/internal/spec"
)

// Lowering is one permission a spec change would lower.
type Lowering struct {
	Env    string
	Field  string // deploy, promote, approve, secret
	From   Role
	To     Role
	Remove bool // the environment is removed from the spec
}

func (l Lowering) String() string {
	if l.Remove {
		return fmt.Sprintf("removing environment %s drops its permissions.%s (%s)", l.Env, l.Field, l.From)
	}
	return fmt.Sprintf("environments.%s.permissions.%s from %s to %s", l.Env, l.Field, l.From, l.To)
}

// Lowered lists the permissions next would lower compared with prev (nil
// for an app not stored yet, which has nothing to lower). Only admins may
// lower a permission: otherwise a deployer could apply a spec that opens
// production to itself. Removing an environment whose permissions were
// raised counts as lowering them.
func Lowered(prev, next *spec.App) []Lowering {
	if prev == nil {
		return nil
	}
	var out []Lowering
	for _, env := range slices.Sorted(maps.Keys(prev.Environments)) {
		was := prev.Environments[env].Permissions
		now, kept := spec.Permissions{}, false
		if next != nil {
			var e spec.Environment
			e, kept = next.Environments[env]
			now = e.Permissions
		}
		for _, f := range []struct {
			field  string
			action Action
		}{{"deploy", ActDeploy}, {"promote", ActPromote}, {"approve", ActApprove}, {"secret", ActSecret}} {
			from, _ := Required(f.action, was)
			to, _ := Required(f.action, now)
			if to.rank() < from.rank() {
				out = append(out, Lowering{Env: env, Field: f.field, From: from, To: to, Remove: !kept})
			}
		}
	}
	return out
}
