// Package auth decides who may do what. Users have a global role and may
// have a different role in some environments (a grant); each action needs a
// minimum role, which an environment's permissions in slipway.yaml can
// raise. Everything here is a pure function; the control plane looks up the
// user and the stored spec, calls Decide, and records the outcome.
package auth

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/spec"
)

// Role is what a user may do. Roles are ordered: each may do everything the
// ones before it may.
type Role string

// Roles, lowest first.
const (
	Viewer   Role = "viewer"   // read state, logs, releases, the audit log
	Deployer Role = "deployer" // also apply, deploy, rollback, config, rollout commands, promote, secrets
	Approver Role = "approver" // also approve promotions
	Admin    Role = "admin"    // also users, other users' tokens, audit verification
)

// Roles lists every role, lowest first.
func Roles() []Role { return []Role{Viewer, Deployer, Approver, Admin} }

// rank orders roles; an unknown role ranks above admin, so a misspelt
// permission in a spec locks an action rather than opening it.
func (r Role) rank() int {
	if i := slices.Index(Roles(), r); i >= 0 {
		return i
	}
	return len(Roles())
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// AtLeast reports whether r may do what min may. An unknown r may do
// nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q; roles are %s", s, roleList())
	}
	return r, nil
}

func roleList() string {
	var names []string
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// Action is what a request does. The names match api.Action.
type Action string

// Actions.
const (
	ActRead    Action = "read"    // see state, logs, releases, the audit log
	ActApply   Action = "apply"   // change an app's spec
	ActDeploy  Action = "deploy"  // deploy, rollback, config, rollout commands, upload artifacts
	ActPromote Action = "promote" // promote a release into an environment
	ActApprove Action = "approve" // approve a pending promotion
	ActSecret  Action = "secret"  // set or unset secrets
	ActAdmin   Action = "admin"   // users, tokens of others, audit verification
)

// Required is the least role action needs in an environment with perms,
// and the spec field that raised it ("" when it is the default). A
// permission can raise the default, never lower it.
func Required(action Action, perms spec.Permissions) (Role, string) {
	var def Role
	var field, set string
	switch action {
	case ActRead:
		return Viewer, ""
	case ActApply:
		return Deployer, ""
	case ActDeploy:
		def, field, set = Deployer, "deploy", perms.Deploy
	case ActPromote:
		def, field, set = Deployer, "promote", perms.Promote
	case ActApprove:
		def, field, set = Approver, "approve", perms.Approve
	case ActSecret:
		def, field, set = Deployer, "secret", perms.Secret
	default: // ActAdmin, and anything unknown
		return Admin, ""
	}
	if set == "" {
		return def, ""
	}
	raised := Role(set)
	if raised.rank() <= def.rank() {
		return def, ""
	}
	if !raised.Valid() {
		raised = Admin // unknown names rank above admin; only an admin passes
	}
	return raised, "permissions." + field
}

// Decision is the outcome of Decide, with what a refusal message needs.
type Decision struct {
	Allowed bool
	// Role is the caller's effective role for the request.
	Role Role
	// Grant says Role comes from a grant for Env rather than the global
	// role.
	Grant bool
	Env   string
	// Needed is the least role the request needs.
	Needed Role
	// Rule is the spec field that raised Needed ("permissions.deploy"), or
	// "" for the default.
	Rule string
}

// Decide says whether a user with global role and grants (environment →
// role) may do action in env, whose permissions in the app's stored spec
// are perms (zero for none or no app).
//
// The effective role in an environment is the grant for it if there is
// one, else the global role. Admin actions use the global role only. A
// deploy or apply not tied to one environment (an artifact upload, a spec
// change) takes the highest role the user has anywhere: a deployer of
// staging may upload what it deploys there.
func Decide(role Role, grants map[string]Role, action Action, env string, perms spec.Permissions) Decision {
	d := Decision{Role: role, Env: env}
	switch {
	case action == ActAdmin:
	case env != "":
		if g, ok := grants[env]; ok {
			d.Role, d.Grant = g, true
		}
	case action == ActApply || action == ActDeploy:
		for _, e := range slices.Sorted(maps.Keys(grants)) {
			if g := grants[e]; g.Valid() && (!d.Role.Valid() || g.rank() > d.Role.rank()) {
				d.Role, d.Grant, d.Env = g, true, e
			}
		}
	}
	if action == ActAdmin || env == "" {
		perms = spec.Permissions{}
	}
	d.Needed, d.Rule = Required(action, perms)
	d.Allowed = d.Role.AtLeast(d.Needed)
	return d
}

// Explain says why d refused user: who, what, and what it would take, e.g.
// "alice (deployer on production) may not promote to hello/production: it
// needs approver or admin (permissions.promote in slipway.yaml)".
func (d Decision) Explain(user string, action Action, app, env string) string {
	who := fmt.Sprintf("%s (%s)", user, d.Role)
	if d.Grant {
		who = fmt.Sprintf("%s (%s on %s)", user, d.Role, d.Env)
	}
	msg := fmt.Sprintf("%s may not %s: it needs %s", who, describe(action, app, env), anyOf(d.Needed))
	if d.Rule != "" {
		return msg + fmt.Sprintf(" (environments.%s.%s in slipway.yaml)", env, d.Rule)
	}
	if action != ActAdmin && d.Needed != Admin {
		scope := ""
		if env != "" {
			scope = " --env " + env
		}
		msg += fmt.Sprintf("; an admin can grant it with `slipway user grant %s %s%s`", user, d.Needed, scope)
	}
	return msg
}

// anyOf lists min and every role above it: "approver or admin".
func anyOf(min Role) string {
	var ok []string
	for _, r := range Roles() {
		if r.AtLeast(min) {
			ok = append(ok, string(r))
		}
	}
	if len(ok) == 1 {
		return ok[0]
	}
	return strings.Join(ok[:len(ok)-1], ", ") + " or " + ok[len(ok)-1]
}

// describe is the action in words, for messages.
func describe(action Action, app, env string) string {
	target := app
	if env != "" {
		target = app + "/" + env
	}
	on := func(verb string) string {
		if target == "" {
			return verb
		}
		return verb + " " + target
	}
	switch action {
	case ActRead:
		return on("read")
	case ActApply:
		if app == "" {
			return "apply specs"
		}
		return "apply the spec of " + app
	case ActDeploy:
		if target == "" {
			return "deploy (upload artifacts)"
		}
		return "deploy to " + target
	case ActPromote:
		return on("promote to")
	case ActApprove:
		return on("approve promotions to")
	case ActSecret:
		if target == "" {
			return "change secrets"
		}
		return "change secrets of " + target
	case ActAdmin:
		return "manage users, their tokens or the audit log"
	}
	return on(string(action))
}
