package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/store"
)

// writeFullSpec writes a spec with staging and a production environment
// whose extra settings are given (indented under production).
func (e *env) writeFullSpec(stagingConfig, production string) {
	e.t.Helper()
	spec := `name: hello
build:
  command: CGO_ENABLED=0 go build -trimpath -o dist/hello .
  output: dist
run:
  command: ./hello
  drain_timeout: 5s
health:
  path: /healthz
  interval: 100ms
  deploy_timeout: 10s
environments:
  staging:
    host: hello.staging.localhost
` + indent(stagingConfig, "    ") + `  production:
    host: hello.localhost
` + indent(production, "    ")
	if err := os.WriteFile(filepath.Join(e.work, "slipway.yaml"), []byte(spec), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// Production only takes artifacts that went live in staging first.
func TestRequiresFrom(t *testing.T) {
	e := newEnv(t)
	e.writeFullSpec("", "requires_from: staging\n")
	e.ok("apply", "-f", "slipway.yaml")
	e.setVersion("v1", true)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "production")
	if code != 1 || !strings.Contains(errOut, "requires_from") || !strings.Contains(errOut, "slipway promote") {
		t.Fatalf("direct deploy to production: exit %d %q; want a refusal naming requires_from", code, errOut)
	}
	if rels := releases(t, e, "hello", "production"); len(rels) != 0 {
		t.Fatalf("a refused deploy left releases: %+v", rels)
	}
	if evs := e.audit(5); !slicesContainsDenied(evs, "deploy", "production") {
		t.Fatalf("the refusal is not in the audit log: %+v", evs)
	}
	e.deploy("staging", "v1")
	e.ok("promote", "hello", "--from", "staging", "--to", "production")
	e.mustServe(prodHost, "v1")
}

// A smoke check that fails after the switch rolls back at once.
func TestSmokeCheckRollsBack(t *testing.T) {
	e := newEnv(t)
	smoke := "smoke:\n  - name: home\n    http:\n      path: /\n      contains: \"[v\"\n"
	e.writeFullSpec("", smoke)
	e.deploy("production", "v1")
	e.mustServe(prodHost, "v1")
	tr := e.startTraffic(prodHost, 2)
	// v2 is healthy (/healthz) but its home page fails: only the smoke
	// check can tell.
	e.writeFullSpec("", smoke+"config:\n  HELLO_FAIL_RATE: \"1\"\n")
	e.setVersion("v2", true)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "production")
	tr.cancel()
	tr.wg.Wait()
	if code != 1 || !strings.Contains(errOut, `smoke check "home"`) || !strings.Contains(errOut, "rolled back to release 1") {
		t.Fatalf("deploy failing its smoke check: exit %d %q", code, errOut)
	}
	for range 20 {
		e.mustServe(prodHost, "v1")
	}
	rels := releases(t, e, "hello", "production")
	if rels[0].Status != "failed" || !strings.Contains(rels[0].Reason, "smoke") || rels[1].Status != "live" {
		t.Fatalf("releases after the smoke rollback: %+v", rels)
	}
	if st := e.status("hello", "production"); len(st.Instances) != 1 || st.Instances[0].Release != 1 {
		t.Fatalf("instances after the smoke rollback: %+v", st.Instances)
	}
}

// A promotion into an environment that asks for an approval waits until a
// different user with the approver role approves it; then it deploys.
func TestPromotionNeedsApproval(t *testing.T) {
	e := newEnv(t)
	e.writeFullSpec("", "requires_from: staging\napprovals: 1\n")
	alice := e.addUser("alice", "approver") // may approve, but not her own request
	bob := e.addUser("bob", "approver")
	carol := e.addUser("carol", "deployer")
	e.setVersion("v1", true)
	e.okAs(alice, "deploy", "-f", "slipway.yaml", "--env", "staging")

	out := e.okAs(alice, "promote", "hello", "--from", "staging", "--to", "production")
	if !strings.Contains(out, "waits for 1 approval") || !strings.Contains(out, "slipway approve hello 1") {
		t.Fatalf("promotion needing approval: %q", out)
	}
	if rels := releases(t, e, "hello", "production"); len(rels) != 0 {
		t.Fatalf("an unapproved promotion deployed: %+v", rels)
	}
	if out := e.okAs(bob, "approvals"); !strings.Contains(out, "staging #1 → production") || !strings.Contains(out, "approvals 0/1") {
		t.Fatalf("pending approvals: %q", out)
	}
	e.refused(alice, []string{"cannot approve", "another user"}, "approve", "hello", "1")
	e.refused(carol, []string{"needs approver"}, "approve", "hello", "1")
	out = e.okAs(bob, "approve", "hello", "1")
	if !strings.Contains(out, "production release 1 is live") {
		t.Fatalf("approval output: %q", out)
	}
	e.mustServe(prodHost, "v1")
	if _, errOut, code := e.runAs(bob, "approve", "hello", "1"); code != 1 || !strings.Contains(errOut, "not pending") {
		t.Fatalf("approving twice: exit %d %q", code, errOut)
	}
}

func slicesContainsDenied(evs []store.Event, action, env string) bool {
	for _, ev := range evs {
		if ev.Action == action && ev.Env == env && ev.Outcome == store.OutcomeDenied {
			return true
		}
	}
	return false
}
