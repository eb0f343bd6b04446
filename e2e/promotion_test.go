package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

	// A deployer may not drop the gates (apply or deploy -f); an admin may.
	e.writeFullSpec("", "requires_from: staging\n")
	e.refused(carol, []string{"loosen promotion rules", "environments.production.approvals 1 → 0"}, "apply", "-f", "slipway.yaml")
	e.refused(carol, []string{"environments.production.approvals 1 → 0"}, "deploy", "-f", "slipway.yaml", "--env", "staging")
	e.ok("apply", "-f", "slipway.yaml")
}

// The last approval of a promotion whose rollout cannot start (another
// rollout of production is running) leaves it pending with its approvals;
// the approver approves again once production is free, and it deploys.
func TestApprovedPromotionRetriesWhenProductionIsBusy(t *testing.T) {
	e := newEnv(t)
	e.writeFullSpec("", "approvals: 1\nconfig:\n  HELLO_STARTUP_DELAY: 3s\n")
	alice := e.addUser("alice", "approver")
	bob := e.addUser("bob", "approver")
	e.setVersion("v1", true)
	e.okAs(alice, "deploy", "-f", "slipway.yaml", "--env", "staging")
	e.okAs(alice, "promote", "hello", "--from", "staging", "--to", "production")
	e.okAs(alice, "promote", "hello", "--from", "staging", "--to", "production")

	// Approving promotion 1 starts a rollout whose instances take 3 s to
	// start; promotion 2's approval meanwhile cannot start another.
	first := make(chan string, 1)
	go func() {
		out, errOut, code := e.runAs(bob, "approve", "hello", "1")
		first <- fmt.Sprintf("exit %d: %s%s", code, out, errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := e.status("hello", "production"); st.Rollout != nil && st.Rollout.State == store.RolloutRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("promotion 1's rollout never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, errOut, code := e.runAs(bob, "approve", "hello", "2")
	if code == 0 || !strings.Contains(errOut, "in progress") {
		t.Fatalf("approving while production is busy: exit %d %q", code, errOut)
	}
	if out := <-first; !strings.Contains(out, "exit 0") {
		t.Fatalf("promotion 1: %s", out)
	}
	if out := e.okAs(bob, "approvals"); !strings.Contains(out, "approvals 1/1") {
		t.Fatalf("promotion 2 should wait, fully approved: %q", out)
	}
	out := e.okAs(bob, "approve", "hello", "2")
	if !strings.Contains(out, "production release 2 is live") {
		t.Fatalf("retrying the approval: %q", out)
	}
	if out := e.okAs(bob, "approvals"); strings.Contains(out, "approvals 1/1") {
		t.Fatalf("promotion 2 still pending after it deployed: %q", out)
	}
}

// A promotion waiting for approval expires after the environment's
// approval_ttl: approving it then is refused with a message that says it
// expired and how to ask again, the listing shows it expired, and
// production never receives anything.
func TestPromotionApprovalExpires(t *testing.T) {
	e := newEnv(t)
	e.writeFullSpec("", "requires_from: staging\napprovals: 1\napproval_ttl: 1s\n")
	alice := e.addUser("alice", "approver")
	bob := e.addUser("bob", "approver")
	e.setVersion("v1", true)
	e.okAs(alice, "deploy", "-f", "slipway.yaml", "--env", "staging")

	var p store.Promotion
	if err := json.Unmarshal([]byte(e.okAs(alice, "promote", "hello", "--from", "staging", "--to", "production", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.State != store.PromotionPending || p.Needed != 1 {
		t.Fatalf("promotion needing approval = %+v", p)
	}
	if ttl := p.ExpiresAt.Sub(p.RequestedAt); ttl <= 0 || ttl > time.Second {
		t.Fatalf("promotion expires %s after it was asked for, want approval_ttl 1s", ttl)
	}
	time.Sleep(time.Until(p.ExpiresAt) + 200*time.Millisecond)

	// Approving it now is refused, and says why and what to do: before
	// anything listed it, and after the listing marked it expired.
	id := strconv.FormatInt(p.ID, 10)
	approveExpired := func(when string) {
		t.Helper()
		out, errOut, code := e.runAs(bob, "approve", "hello", id)
		if code != 1 || !strings.Contains(errOut, "promotion "+id+" expired at") || !strings.Contains(errOut, "slipway promote") {
			t.Fatalf("approving an expired promotion %s: exit %d\nstdout: %s\nstderr: %s", when, code, out, errOut)
		}
	}
	approveExpired("before it was listed")
	if out := e.okAs(bob, "approvals"); !strings.Contains(out, "No promotions waiting for approval") {
		t.Fatalf("pending approvals after expiry:\n%s", out)
	}
	approveExpired("after it was listed")
	var all []store.Promotion
	if err := json.Unmarshal([]byte(e.okAs(bob, "approvals", "--all", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != p.ID || all[0].State != store.PromotionExpired || len(all[0].Approvers) != 0 || all[0].RolloutID != 0 {
		t.Fatalf("promotions after expiry = %+v", all)
	}
	if out := e.okAs(bob, "approvals", "--all"); !strings.Contains(out, "expired") {
		t.Fatalf("approvals --all does not show the promotion expired:\n%s", out)
	}

	// Nothing reached production.
	if rels := releases(t, e, "hello", "production"); len(rels) != 0 {
		t.Fatalf("an expired promotion deployed: %+v", rels)
	}
	if _, err := e.get(prodHost); err == nil {
		t.Fatal("production serves after its only promotion expired")
	}
	evs := e.audit(20)
	if findEvent(evs, "system", "promotion.expired", "hello/production", store.OutcomeOK) == nil {
		t.Fatalf("the expiry is not in the audit log: %+v", evs)
	}
	for _, ev := range evs {
		if ev.Action == "promotion.approve" || ev.Action == "promote" {
			t.Fatalf("an expired promotion was approved or started: %+v", ev)
		}
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
