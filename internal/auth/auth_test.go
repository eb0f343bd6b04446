package auth

import (
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
)

func TestDecide(t *testing.T) {
	none := spec.Permissions{}
	strict := spec.Permissions{Deploy: "admin", Promote: "approver", Approve: "admin", Secret: "approver"}
	tests := []struct {
		name    string
		role    Role
		grants  map[string]Role
		action  Action
		env     string
		perms   spec.Permissions
		allowed bool
		needed  Role
		rule    string
		eff     Role // effective role; "" means role
	}{
		{"viewer reads", Viewer, nil, ActRead, "production", none, true, Viewer, "", ""},
		{"viewer reads anywhere", Viewer, nil, ActRead, "", strict, true, Viewer, "", ""},
		{"viewer may not deploy", Viewer, nil, ActDeploy, "staging", none, false, Deployer, "", ""},
		{"viewer may not apply", Viewer, nil, ActApply, "", none, false, Deployer, "", ""},
		{"deployer deploys", Deployer, nil, ActDeploy, "staging", none, true, Deployer, "", ""},
		{"deployer applies", Deployer, nil, ActApply, "", none, true, Deployer, "", ""},
		{"deployer promotes by default", Deployer, nil, ActPromote, "production", none, true, Deployer, "", ""},
		{"deployer may not approve", Deployer, nil, ActApprove, "production", none, false, Approver, "", ""},
		{"approver approves", Approver, nil, ActApprove, "production", none, true, Approver, "", ""},
		{"deployer sets secrets", Deployer, nil, ActSecret, "staging", none, true, Deployer, "", ""},
		{"deployer may not admin", Deployer, nil, ActAdmin, "", none, false, Admin, "", ""},
		{"approver may not admin", Approver, nil, ActAdmin, "", none, false, Admin, "", ""},
		{"admin admins", Admin, nil, ActAdmin, "", none, true, Admin, "", ""},

		{"permissions raise deploy", Deployer, nil, ActDeploy, "production", strict, false, Admin, "permissions.deploy", ""},
		{"admin passes raised deploy", Admin, nil, ActDeploy, "production", strict, true, Admin, "permissions.deploy", ""},
		{"permissions raise promote", Deployer, nil, ActPromote, "production", strict, false, Approver, "permissions.promote", ""},
		{"approver passes raised promote", Approver, nil, ActPromote, "production", strict, true, Approver, "permissions.promote", ""},
		{"permissions raise secret", Deployer, nil, ActSecret, "production", strict, false, Approver, "permissions.secret", ""},
		{"permissions raise approve", Approver, nil, ActApprove, "production", strict, false, Admin, "permissions.approve", ""},
		{"permissions never lower", Viewer, nil, ActApprove, "production", spec.Permissions{Approve: "viewer"}, false, Approver, "", ""},
		{"permission equal to default is the default", Deployer, nil, ActDeploy, "production", spec.Permissions{Deploy: "deployer"}, true, Deployer, "", ""},
		{"unknown permission role needs admin", Approver, nil, ActDeploy, "production", spec.Permissions{Deploy: "root"}, false, Admin, "permissions.deploy", ""},
		{"unknown permission role, admin passes", Admin, nil, ActDeploy, "production", spec.Permissions{Deploy: "root"}, true, Admin, "permissions.deploy", ""},
		{"read ignores permissions", Viewer, nil, ActRead, "production", strict, true, Viewer, "", ""},

		{"grant raises in its environment", Viewer, map[string]Role{"staging": Deployer}, ActDeploy, "staging", none, true, Deployer, "", Deployer},
		{"grant does not reach other environments", Viewer, map[string]Role{"staging": Deployer}, ActDeploy, "production", none, false, Deployer, "", Viewer},
		{"grant lowers in its environment", Admin, map[string]Role{"production": Viewer}, ActDeploy, "production", none, false, Deployer, "", Viewer},
		{"grant does not beat raised permissions", Viewer, map[string]Role{"production": Deployer}, ActDeploy, "production", strict, false, Admin, "permissions.deploy", Deployer},
		{"admin grant passes raised permissions", Viewer, map[string]Role{"production": Admin}, ActDeploy, "production", strict, true, Admin, "permissions.deploy", Admin},
		{"grant does not make an admin", Viewer, map[string]Role{"staging": Admin}, ActAdmin, "", none, false, Admin, "", Viewer},
		{"admin actions ignore the environment", Viewer, map[string]Role{"staging": Admin}, ActAdmin, "staging", none, false, Admin, "", Viewer},
		{"upload takes the best grant", Viewer, map[string]Role{"staging": Deployer, "qa": Viewer}, ActDeploy, "", none, true, Deployer, "", Deployer},
		{"apply takes the best grant", Viewer, map[string]Role{"staging": Deployer}, ActApply, "", none, true, Deployer, "", Deployer},
		{"apply keeps a higher global role", Admin, map[string]Role{"staging": Viewer}, ActApply, "", none, true, Deployer, "", Admin},
		{"promote without a target uses the global role", Viewer, map[string]Role{"staging": Deployer}, ActPromote, "", none, false, Deployer, "", Viewer},
		{"unknown global role may do nothing", Role("root"), nil, ActRead, "", none, false, Viewer, "", ""},
		{"unknown action needs admin", Approver, nil, Action("explode"), "", none, false, Admin, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.role, tt.grants, tt.action, tt.env, tt.perms)
			eff := tt.eff
			if eff == "" {
				eff = tt.role
			}
			if d.Allowed != tt.allowed || d.Needed != tt.needed || d.Rule != tt.rule || d.Role != eff {
				t.Errorf("Decide(%s, %v, %s, %q, %+v) = %+v; want allowed %v, needed %s, rule %q, role %s",
					tt.role, tt.grants, tt.action, tt.env, tt.perms, d, tt.allowed, tt.needed, tt.rule, eff)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name   string
		role   Role
		grants map[string]Role
		action Action
		app    string
		env    string
		perms  spec.Permissions
		want   string
	}{
		{"raised by permissions, grant", Deployer, map[string]Role{"production": Deployer}, ActPromote, "hello", "production",
			spec.Permissions{Promote: "approver"},
			"alice (deployer on production) may not promote to hello/production: it needs approver or admin (environments.production.permissions.promote in slipway.yaml)"},
		{"default, global role", Viewer, nil, ActDeploy, "hello", "staging", spec.Permissions{},
			"alice (viewer) may not deploy to hello/staging: it needs deployer, approver or admin; an admin can grant it with `slipway user grant alice deployer --env staging`"},
		{"apply", Viewer, nil, ActApply, "hello", "", spec.Permissions{},
			"alice (viewer) may not apply the spec of hello: it needs deployer, approver or admin; an admin can grant it with `slipway user grant alice deployer`"},
		{"admin", Approver, nil, ActAdmin, "", "", spec.Permissions{},
			"alice (approver) may not manage users, their tokens or the audit log: it needs admin"},
		{"approve", Deployer, nil, ActApprove, "hello", "production", spec.Permissions{},
			"alice (deployer) may not approve promotions to hello/production: it needs approver or admin; an admin can grant it with `slipway user grant alice approver --env production`"},
		{"upload", Viewer, nil, ActDeploy, "", "", spec.Permissions{},
			"alice (viewer) may not deploy (upload artifacts): it needs deployer, approver or admin; an admin can grant it with `slipway user grant alice deployer`"},
		{"secret", Viewer, nil, ActSecret, "hello", "staging", spec.Permissions{Secret: "admin"},
			"alice (viewer) may not change secrets of hello/staging: it needs admin (environments.staging.permissions.secret in slipway.yaml)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.role, tt.grants, tt.action, tt.env, tt.perms)
			if d.Allowed {
				t.Fatalf("Decide allowed %+v", d)
			}
			if got := d.Explain("alice", tt.action, tt.app, tt.env); got != tt.want {
				t.Errorf("Explain =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "Admin", "root", "viewer,admin"} {
		if _, err := ParseRole(bad); err == nil || !strings.Contains(err.Error(), "viewer, deployer, approver, admin") {
			t.Errorf("ParseRole(%q) = %v; want an error listing the roles", bad, err)
		}
	}
	if !Admin.AtLeast(Viewer) || Viewer.AtLeast(Deployer) || !Approver.AtLeast(Approver) || Role("x").AtLeast(Viewer) {
		t.Error("AtLeast does not follow viewer < deployer < approver < admin")
	}
}

func TestLowered(t *testing.T) {
	app := func(perms map[string]spec.Permissions) *spec.App {
		a := &spec.App{Name: "hello", Environments: map[string]spec.Environment{}}
		for env, p := range perms {
			a.Environments[env] = spec.Environment{Host: env + ".localhost", Permissions: p}
		}
		return a
	}
	strict := spec.Permissions{Deploy: "admin", Approve: "admin"}
	tests := []struct {
		name       string
		prev, next *spec.App
		want       []string
	}{
		{"new app", nil, app(map[string]spec.Permissions{"production": {}}), nil},
		{"no change", app(map[string]spec.Permissions{"production": strict}), app(map[string]spec.Permissions{"production": strict}), nil},
		{"raise", app(map[string]spec.Permissions{"production": {}}), app(map[string]spec.Permissions{"production": strict}), nil},
		{"drop", app(map[string]spec.Permissions{"production": strict, "staging": {}}), app(map[string]spec.Permissions{"production": {}, "staging": {}}), []string{
			"environments.production.permissions.deploy from admin to deployer",
			"environments.production.permissions.approve from admin to approver",
		}},
		{"lower within raised", app(map[string]spec.Permissions{"production": {Deploy: "admin"}}), app(map[string]spec.Permissions{"production": {Deploy: "approver"}}), []string{
			"environments.production.permissions.deploy from admin to approver",
		}},
		{"remove environment", app(map[string]spec.Permissions{"production": {Secret: "approver"}, "staging": {}}), app(map[string]spec.Permissions{"staging": {}}), []string{
			"removing environment production drops its permissions.secret (approver)",
		}},
		{"remove plain environment", app(map[string]spec.Permissions{"production": {}, "staging": {}}), app(map[string]spec.Permissions{"staging": {}}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range Lowered(tt.prev, tt.next) {
				got = append(got, l.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Lowered =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"alice", "ci-bot", "a.b_c", "0", strings.Repeat("a", 64)} {
		if err := ValidUserName(ok); err != nil {
			t.Errorf("ValidUserName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alice", "-x", "a b", "a/b", strings.Repeat("a", 65), "system", "analysis"} {
		if err := ValidUserName(bad); err == nil {
			t.Errorf("ValidUserName(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"laptop", "CI.2026", "bootstrap"} {
		if err := ValidTokenName(ok); err != nil {
			t.Errorf("ValidTokenName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " x", "a/b", "_x"} {
		if err := ValidTokenName(bad); err == nil {
			t.Errorf("ValidTokenName(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"staging", "pr-12"} {
		if err := ValidEnvName(ok); err != nil {
			t.Errorf("ValidEnvName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Staging", "1st", "a_b"} {
		if err := ValidEnvName(bad); err == nil {
			t.Errorf("ValidEnvName(%q) accepted", bad)
		}
	}
}

func TestToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || !strings.HasPrefix(a, TokenPrefix) || len(a) != len(TokenPrefix)+43 {
		t.Fatalf("NewToken = %q, %q", a, b)
	}
	if h := HashToken(a); len(h) != 64 || h == HashToken(b) || strings.Contains(h, a) {
		t.Fatalf("HashToken = %q", h)
	}
	// The hash is plain sha256 hex, which docs/security.md promises.
	if got := HashToken("slw_x"); got != "734829d830787a9d6b61e00a8f15a5335aad604bdca6a8c6f765d4bb7546905f" {
		t.Fatalf("HashToken(slw_x) = %q", got)
	}
}
