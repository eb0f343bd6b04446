package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/auth"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// runAs runs the CLI as the owner of token.
func (e *env) runAs(token string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(binary, append(args, "--server", "http://"+e.apiAddr, "--data", e.data)...)
	cmd.Dir = e.work
	cmd.Env = append(os.Environ(), "SLIPWAY_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func (e *env) okAs(token string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.runAs(token, args...)
	if code != 0 {
		e.t.Fatalf("slipway %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// refused runs the CLI as token's owner and fails the test unless it exits 1
// with a 403 whose message contains every want.
func (e *env) refused(token string, want []string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.runAs(token, args...)
	if code != 1 || !strings.Contains(errOut, "forbidden") {
		e.t.Fatalf("slipway %s: exit %d, stderr %q; want a refusal (403)\nstdout: %s", strings.Join(args, " "), code, errOut, out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			e.t.Errorf("slipway %s: refusal %q does not say %q", strings.Join(args, " "), errOut, w)
		}
	}
	return errOut
}

// addUser creates a user as the admin and returns its token.
func (e *env) addUser(name, role string) string {
	e.t.Helper()
	var res api.UserAdded
	if err := json.Unmarshal([]byte(e.ok("user", "add", name, "--role", role, "--json")), &res); err != nil {
		e.t.Fatal(err)
	}
	if res.User.Name != name || res.User.Role != role || !strings.HasPrefix(res.Secret, auth.TokenPrefix) {
		e.t.Fatalf("user add %s: %+v", name, res)
	}
	return res.Secret
}

func (e *env) audit(limit int) []store.Event {
	e.t.Helper()
	var evs []store.Event
	if err := json.Unmarshal([]byte(e.ok("audit", "list", "--limit", strconv.Itoa(limit), "--json")), &evs); err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func findEvent(evs []store.Event, actor, action, target, outcome string) *store.Event {
	for i, ev := range evs {
		if ev.Actor == actor && ev.Action == action && ev.Target == target && ev.Outcome == outcome {
			return &evs[i]
		}
	}
	return nil
}

// Users with roles and grants: a viewer is refused a deploy and nothing
// changes; a deployer of staging deploys there but not to production; an
// environment's permissions refuse even a granted deployer; every refusal
// and change is in the audit log.
func TestUsersAndRoles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adminToken, err := os.ReadFile(filepath.Join(e.data, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if out := e.ok("whoami"); strings.TrimSpace(out) != "admin: admin" {
		t.Fatalf("whoami as the first admin: %q", out)
	}
	e.deploy("staging", "v1")

	alice := e.addUser("alice", "viewer")
	bob := e.addUser("bob", "viewer")
	e.ok("user", "grant", "bob", "deployer", "--env", "staging")
	if out := e.okAs(bob, "whoami"); strings.TrimSpace(out) != "bob: viewer; deployer on staging" {
		t.Fatalf("bob's whoami: %q", out)
	}
	users := e.ok("user", "list")
	for _, w := range []string{"alice", "bob", "deployer on staging", "admin"} {
		if !strings.Contains(users, w) {
			t.Errorf("user list does not show %q:\n%s", w, users)
		}
	}

	// Alice reads but may not deploy; her refused deploy changes nothing.
	e.okAs(alice, "status", "hello", "--env", "staging")
	before := releases(t, e, "hello", "staging")
	e.setVersion("v2", true)
	e.refused(alice, []string{"alice (viewer) may not deploy", "deployer, approver or admin"}, "deploy", "-f", "slipway.yaml", "--env", "staging")
	// Through the API with an artifact the server has: the deploy itself
	// is refused, naming the environment.
	app, err := spec.Parse("slipway.yaml", mustRead(t, filepath.Join(e.work, "slipway.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.NewClient("http://"+e.apiAddr, alice).Deploy(ctx, *app, "staging", before[0].Artifact)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden ||
		!strings.Contains(se.Msg, "alice (viewer) may not deploy to hello/staging: it needs deployer, approver or admin") {
		t.Fatalf("alice's deploy through the API: %v", err)
	}
	if after := releases(t, e, "hello", "staging"); len(after) != len(before) {
		t.Fatalf("a refused deploy made releases: %d before, %d after", len(before), len(after))
	}
	e.mustServe(stagingHost, "v1")
	evs := e.audit(100)
	denied := findEvent(evs, "alice", "deploy", "hello/staging", store.OutcomeDenied)
	if denied == nil || !strings.Contains(denied.Detail, "may not deploy to hello/staging") {
		t.Fatalf("no denied deploy by alice in the audit log:\n%s", e.ok("audit", "list"))
	}

	// Bob deploys staging, not production.
	e.okAs(bob, "deploy", "-f", "slipway.yaml", "--env", "staging")
	e.mustServe(stagingHost, "v2")
	e.refused(bob, []string{"bob (viewer) may not deploy to hello/production", "slipway user grant bob deployer --env production"},
		"deploy", "-f", "slipway.yaml", "--env", "production")
	e.refused(bob, []string{"bob (viewer) may not promote to hello/production"}, "promote", "hello", "--from", "staging", "--to", "production")
	if rels := releases(t, e, "hello", "production"); len(rels) != 0 {
		t.Fatalf("refused deploys to production left releases: %+v", rels)
	}

	// Only admins manage users and verify the audit log.
	e.refused(bob, []string{"bob (viewer) may not manage users", "it needs admin"}, "user", "add", "eve", "--role", "admin")
	e.refused(alice, []string{"it needs admin"}, "user", "list")
	e.refused(alice, []string{"it needs admin"}, "audit", "verify")
	e.refused(bob, []string{"it needs admin"}, "user", "grant", "bob", "admin")

	// A token of one's own: created once, listed without the secret,
	// revoked, dead.
	var created api.TokenCreated
	if err := json.Unmarshal([]byte(e.okAs(alice, "token", "create", "--name", "laptop", "--json")), &created); err != nil {
		t.Fatal(err)
	}
	laptop := created.Secret
	if out := e.okAs(laptop, "whoami"); !strings.HasPrefix(out, "alice: viewer") {
		t.Fatalf("whoami with alice's new token: %q", out)
	}
	if out := e.okAs(alice, "token", "list"); !strings.Contains(out, "laptop") || !strings.Contains(out, "default") {
		t.Fatalf("alice's token list:\n%s", out)
	}
	if _, errOut, code := e.runAs(bob, "token", "revoke", strconv.FormatInt(created.Token.ID, 10)); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("bob revoking alice's token: exit %d %q", code, errOut)
	}
	e.refused(bob, []string{"it needs admin"}, "token", "list", "--user", "alice")
	e.okAs(alice, "token", "revoke", strconv.FormatInt(created.Token.ID, 10))
	if _, errOut, code := e.runAs(laptop, "whoami"); code != 1 || !strings.Contains(errOut, "missing or invalid API token") {
		t.Fatalf("a revoked token: exit %d %q", code, errOut)
	}

	// Permissions in slipway.yaml raise what staging's deploys need: bob's
	// grant is not enough, and bob may not lower them again.
	e.writeFullSpec("permissions:\n  deploy: admin\n", "")
	e.ok("apply", "-f", "slipway.yaml")
	e.setVersion("v3", true)
	e.refused(bob, []string{"bob (deployer on staging) may not deploy to hello/staging: it needs admin (environments.staging.permissions.deploy in slipway.yaml)"},
		"deploy", "-f", "slipway.yaml", "--env", "staging")
	e.writeFullSpec("", "")
	e.refused(bob, []string{"may not lower permissions or loosen promotion rules of hello", "environments.staging.permissions.deploy from admin to deployer"},
		"apply", "-f", "slipway.yaml")
	if evs := e.audit(5); findEvent(evs, "bob", "apply", "hello", store.OutcomeDenied) == nil {
		t.Errorf("bob's refused apply is not in the audit log")
	}
	e.writeFullSpec("permissions:\n  deploy: admin\n", "")
	if out := e.ok("plan", "-f", "slipway.yaml"); !strings.Contains(out, "No changes") {
		t.Fatalf("a refused apply changed the stored spec:\n%s", out)
	}
	e.mustServe(stagingHost, "v2")
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging") // the admin may
	e.mustServe(stagingHost, "v3")

	// Removing bob kills his token at once.
	e.ok("user", "remove", "bob")
	if _, errOut, code := e.runAs(bob, "whoami"); code != 1 || !strings.Contains(errOut, "missing or invalid API token") {
		t.Fatalf("a removed user's token: exit %d %q", code, errOut)
	}

	// Every change is in the audit log with actor, action, target, outcome.
	evs = e.audit(1000)
	for _, want := range [][4]string{
		{"admin", "deploy", "hello/staging", "ok"},
		{"bob", "deploy", "hello/staging", "ok"},
		{"admin", "apply", "hello", "ok"},
		{"admin", "user.add", "user alice", "ok"},
		{"admin", "user.grant", "user bob", "ok"},
		{"admin", "user.remove", "user bob", "ok"},
		{"alice", "token.create", "token " + strconv.FormatInt(created.Token.ID, 10) + " (alice/laptop)", "ok"},
		{"alice", "token.revoke", "token " + strconv.FormatInt(created.Token.ID, 10) + " (alice/laptop)", "ok"},
		{"bob", "deploy", "hello/production", "denied"},
		{"bob", "promote", "hello/production", "denied"},
		{"bob", "admin", "", "denied"},
	} {
		if findEvent(evs, want[0], want[1], want[2], want[3]) == nil {
			t.Errorf("no %v in the audit log", want)
		}
	}

	// The chain verifies; an edited row and a deleted row are caught.
	out := e.ok("audit", "verify")
	if !strings.Contains(out, "audit log intact") || !strings.Contains(out, "head: ") {
		t.Fatalf("audit verify: %s", out)
	}
	head := strings.TrimSpace(out[strings.Index(out, "head: ")+len("head: "):])

	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.data, "slipway.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE events SET detail = 'nothing to see' WHERE id = ?`, denied.ID); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("editing an event with the triggers in place: %v", err)
	}
	for _, q := range []string{`DROP TRIGGER events_no_update`, `DROP TRIGGER events_no_delete`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE events SET detail = 'nothing to see' WHERE id = ?`, denied.ID); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(denied.ID, 10)
	_, errOut, code := e.run("audit", "verify")
	if code != 1 || !strings.Contains(errOut, "event "+id+" (hash)") || !strings.Contains(errOut, "edited") {
		t.Fatalf("audit verify after editing event %s: exit %d %q", id, code, errOut)
	}
	if _, err := db.Exec(`UPDATE events SET detail = ? WHERE id = ?`, denied.Detail, denied.ID); err != nil {
		t.Fatal(err)
	}
	e.ok("audit", "verify", "--head", head)
	if _, err := db.Exec(`DELETE FROM events WHERE id = ?`, denied.ID); err != nil {
		t.Fatal(err)
	}
	next := strconv.FormatInt(denied.ID+1, 10)
	_, errOut, code = e.run("audit", "verify")
	if code != 1 || !strings.Contains(errOut, "event "+next+" (id)") || !strings.Contains(errOut, "event "+id+" is missing") {
		t.Fatalf("audit verify after deleting event %s: exit %d %q", id, code, errOut)
	}

	// No token, nor its hash, shows in any answer other than its creation,
	// nor in the server's log.
	secrets := []string{strings.TrimSpace(string(adminToken)), alice, bob, laptop}
	var seen strings.Builder
	for _, args := range [][]string{
		{"user", "list", "--json"}, {"token", "list", "--all", "--json"}, {"whoami", "--json"},
		{"audit", "list", "--limit", "10000", "--json"}, {"status", "hello", "--env", "staging", "--json"},
		{"releases", "hello", "--env", "staging", "--json"},
	} {
		seen.WriteString(e.ok(args...))
	}
	req, _ := http.NewRequest("GET", "http://"+e.apiAddr+"/v1/events?limit=10000", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(adminToken)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seen.Write(body)
	e.stopServer(syscall.SIGTERM)
	seen.WriteString(e.serverLog.String())
	for _, s := range secrets {
		for _, leak := range []string{s, auth.HashToken(s)} {
			if strings.Contains(seen.String(), leak) {
				t.Errorf("a token (or its hash) %.12s… shows in an answer or the server log", leak)
			}
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The auth commands answer --help.
func TestAuthHelp(t *testing.T) {
	for _, c := range []string{"user", "user add", "user list", "user remove", "user grant", "user revoke",
		"token", "token create", "token list", "token revoke", "whoami", "audit", "audit list", "audit verify"} {
		out, err := exec.Command(binary, append(strings.Fields(c), "--help")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage:") {
			t.Errorf("slipway %s --help: %v\n%s", c, err, out)
		}
	}
	// Usage mistakes exit 2 before reaching the server.
	for _, args := range [][]string{{"user", "add", "x"}, {"user", "revoke", "x"}, {"token", "create"}, {"token", "revoke", "abc"}} {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "SLIPWAY_TOKEN=slw_x", "SLIPWAY_SERVER=127.0.0.1:1")
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("slipway %s: %v, want exit 2", strings.Join(args, " "), err)
		}
	}
}
