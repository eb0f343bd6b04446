package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

const (
	stagingHost = "hello.staging.localhost"
	prodHost    = "hello.localhost"
)

func releases(t *testing.T, e *env, app, envName string) []store.Release {
	t.Helper()
	var rels []store.Release
	if err := json.Unmarshal([]byte(e.ok("releases", app, "--env", envName, "--json")), &rels); err != nil {
		t.Fatal(err)
	}
	return rels
}

// The core loop: deploy, promote, a failed health check, a good deploy, the
// undo button, a config change, releases, logs and status.
func TestDeployPromoteFailRollbackConfig(t *testing.T) {
	e := newEnv(t)

	out := e.deploy("staging", "v1")
	if !strings.Contains(out, "release 1 is live") {
		t.Fatalf("deploy output: %q", out)
	}
	e.mustServe(stagingHost, "v1")
	body, _ := e.get(stagingHost)
	if !strings.Contains(body, "hello from staging") {
		t.Fatalf("staging config not delivered: %q", body)
	}

	e.ok("promote", "hello", "--from", "staging", "--to", "production")
	e.mustServe(prodHost, "v1")
	body, _ = e.get(prodHost)
	if !strings.Contains(body, "hello from production") {
		t.Fatalf("production must run with its own config: %q", body)
	}
	stagingRel, prodRel := releases(t, e, "hello", "staging")[0], releases(t, e, "hello", "production")[0]
	if stagingRel.Artifact != prodRel.Artifact {
		t.Fatalf("promote rebuilt: staging %s, production %s", stagingRel.Artifact, prodRel.Artifact)
	}
	if st := e.status("hello", "production"); len(st.Instances) != 2 {
		t.Fatalf("production has %d instances, want 2 replicas", len(st.Instances))
	}

	// A broken build never gets traffic; the deploy fails with the reason.
	tr := e.startTraffic(prodHost, 4)
	e.setVersion("v2-broken", false)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "production")
	if code != 1 || !strings.Contains(errOut, "health check") || !strings.Contains(errOut, "503") {
		t.Fatalf("broken deploy: exit %d, stderr %q; want exit 1 naming the failed health check", code, errOut)
	}
	e.mustServe(prodHost, "v1")

	e.deploy("production", "v2")
	e.mustServe(prodHost, "v2")

	out = e.ok("rollback", "hello", "--env", "production")
	if !strings.Contains(out, "release 1 is live") {
		t.Fatalf("rollback output: %q", out)
	}
	e.mustServe(prodHost, "v1")
	tr.stop()

	// The undo re-activated release 1 itself: same artifact, same config.
	rels := releases(t, e, "hello", "production")
	want := []struct{ status, source string }{
		{"superseded", "deploy"}, {"failed", "deploy"}, {"live", "promote from staging #1"},
	}
	if len(rels) != 3 {
		t.Fatalf("got %d releases, want 3: %+v", len(rels), rels)
	}
	for i, w := range want {
		if rels[i].Status != w.status || rels[i].Source != w.source {
			t.Errorf("release %d: status %q source %q, want %q %q", rels[i].Number, rels[i].Status, rels[i].Source, w.status, w.source)
		}
	}
	var history []store.Rollout
	if err := json.Unmarshal([]byte(e.ok("rollout", "history", "hello", "--env", "production", "--json")), &history); err != nil {
		t.Fatal(err)
	}
	if len(history) != 4 || history[0].Kind != "rollback" || history[0].FromRelease != 3 || history[0].ToRelease != 1 || history[0].State != "succeeded" {
		t.Fatalf("rollout history: %+v", history)
	}
	if !strings.Contains(rels[1].Reason, "health check") {
		t.Errorf("failed release reason %q should name the health check", rels[1].Reason)
	}
	text := e.ok("releases", "hello", "--env", "production")
	for _, col := range []string{"RELEASE", "ARTIFACT", "CONFIG", "STATUS", "BY", "CREATED", "DURATION", "admin"} {
		if !strings.Contains(text, col) {
			t.Errorf("releases table lacks %q:\n%s", col, text)
		}
	}

	// config set makes a new release with the same artifact.
	e.ok("config", "set", "hello", "GREETING=bonjour", "--env", "production")
	body, _ = e.get(prodHost)
	if !strings.HasPrefix(body, "bonjour [v1]") {
		t.Fatalf("after config set: %q", body)
	}
	list := e.ok("config", "list", "hello", "--env", "production")
	if !strings.Contains(list, "GREETING") || !strings.Contains(list, "override") {
		t.Fatalf("config list: %s", list)
	}
	_, errOut, code = e.run("config", "unset", "hello", "NOPE", "--env", "production")
	if code != 1 || !strings.Contains(errOut, "not set") {
		t.Fatalf("unset of a missing key: exit %d %q", code, errOut)
	}
	e.ok("config", "unset", "hello", "GREETING", "--env", "production")
	body, _ = e.get(prodHost)
	if !strings.HasPrefix(body, "hello from production [v1]") {
		t.Fatalf("after config unset: %q", body)
	}

	logs := e.ok("logs", "hello", "--env", "production")
	if !strings.Contains(logs, "listening on") {
		t.Fatalf("logs lack the app's startup line:\n%s", logs)
	}
	var entry struct{ Instance, Line string }
	first, _, _ := strings.Cut(e.ok("logs", "hello", "--env", "production", "--json", "-n", "1"), "\n")
	if err := json.Unmarshal([]byte(first), &entry); err != nil || !strings.HasPrefix(entry.Instance, "hello-production-r") || entry.Line == "" {
		t.Fatalf("logs --json line %q: %+v %v", first, entry, err)
	}
	failedLogs := e.ok("logs", "hello", "--env", "production", "--release", "2")
	if !strings.Contains(failedLogs, "v2-broken") {
		t.Fatalf("logs of the failed release should stay readable:\n%s", failedLogs)
	}
}

// A second rollout of the same environment gets a clear conflict error.
func TestConcurrentRolloutConflicts(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	e.ok("config", "set", "hello", "HELLO_STARTUP_DELAY=3s", "--env", "staging")
	e.setVersion("v2", true)
	out := e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	if !strings.Contains(out, "started") {
		t.Fatalf("--no-wait output: %q", out)
	}
	_, errOut, code := e.run("rollback", "hello", "--env", "staging")
	if code != 1 || !strings.Contains(errOut, "already in progress") {
		t.Fatalf("second rollout: exit %d, %q; want a conflict", code, errOut)
	}
}

// Bad input gets a clear error and the right exit code, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	if _, _, code := e.run("frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if _, errOut, code := e.run("deploy", "-f", "slipway.yaml"); code != 2 || !strings.Contains(errOut, "--env") {
		t.Errorf("deploy without --env: exit %d %q, want 2 naming --env", code, errOut)
	}
	if _, _, code := e.run("rollback"); code != 2 {
		t.Errorf("rollback without APP: exit %d, want 2", code)
	}
	bad := filepath.Join(e.work, "bad.yaml")
	os.WriteFile(bad, []byte("name: hello\nbuild:\n  command: true\n  output: dist\nrun:\n  command: ./hello\nhealth:\n  path: /healthz\nenvironments:\n  staging:\n    host: a.localhost\n    replica: 2\n"), 0o644)
	_, errOut, code := e.run("plan", "-f", bad)
	if code != 1 || !strings.Contains(errOut, "bad.yaml:12:5") || !strings.Contains(errOut, "replicas") {
		t.Errorf("bad spec: exit %d %q; want file:line:col and a suggestion", code, errOut)
	}
	t.Setenv("SLIPWAY_TOKEN", "slw_wrong")
	_, errOut, code = e.run("status")
	if code != 1 || !strings.Contains(strings.ToLower(errOut), "token") {
		t.Errorf("wrong token: exit %d %q", code, errOut)
	}
	os.Unsetenv("SLIPWAY_TOKEN")
	if out := e.ok("status"); !strings.Contains(out, "No apps yet") {
		t.Errorf("bad input left state behind: %q", out)
	}
	if _, errOut, code := e.run("rollback", "hello", "--env", "staging"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("rollback of an unknown app: exit %d %q", code, errOut)
	}
}

// After a restart of the control plane the instances are re-adopted, not
// restarted, and the proxy keeps serving throughout.
func TestRestartReadoptsInstances(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	before := e.status("hello", "staging")
	tr := e.startTraffic(stagingHost, 2)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		e.stopServer(sig)
		time.Sleep(300 * time.Millisecond) // traffic keeps flowing with no control plane
		e.startServer()
		after := e.status("hello", "staging")
		if len(after.Instances) != len(before.Instances) {
			t.Fatalf("after %v: %d instances, before %d", sig, len(after.Instances), len(before.Instances))
		}
		for i := range after.Instances {
			if after.Instances[i].ID != before.Instances[i].ID || after.Instances[i].PID != before.Instances[i].PID {
				t.Fatalf("after %v: instance %+v was restarted or replaced (before %+v)", sig, after.Instances[i], before.Instances[i])
			}
		}
	}
	e.deploy("staging", "v2") // and the restarted server still deploys
	tr.stop()
	e.mustServe(stagingHost, "v2")
}

// kill -9 of the server in the middle of a rollout, under load: no request
// fails, and the restarted server cleanly fails the interrupted rollout.
func TestKillServerMidRollout(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	e.ok("config", "set", "hello", "HELLO_STARTUP_DELAY=2s", "--env", "staging")
	tr := e.startTraffic(stagingHost, 4)
	e.setVersion("v2", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	time.Sleep(500 * time.Millisecond) // new instance still starting
	e.stopServer(syscall.SIGKILL)
	time.Sleep(300 * time.Millisecond)
	e.startServer()
	st := e.status("hello", "staging")
	if st.Rollout == nil || st.Rollout.State != store.RolloutFailed || !strings.Contains(st.Rollout.Reason, "interrupted") {
		t.Fatalf("interrupted rollout: %+v; want failed with a reason", st.Rollout)
	}
	for _, in := range st.Instances {
		if in.Release != st.Live.Number {
			t.Errorf("instance %s of release %d left running; live is %d", in.ID, in.Release, st.Live.Number)
		}
	}
	e.mustServe(stagingHost, "v1")
	// The environment is usable again at once.
	e.ok("config", "unset", "hello", "HELLO_STARTUP_DELAY", "--env", "staging")
	e.deploy("staging", "v3")
	tr.stop()
	e.mustServe(stagingHost, "v3")
}

// 20 deploy and rollback switches under continuous load: 0 failed
// requests, and responses move between versions.
func TestZeroDowntimeSwitches(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	e.deploy("staging", "v2")
	tr := e.startTraffic(stagingHost, 8)
	for i := range 20 {
		to := "1"
		if i%2 == 1 {
			to = "2"
		}
		e.ok("rollback", "hello", "--env", "staging", "--to", to)
	}
	tr.stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.versions["v1"] == 0 || tr.versions["v2"] == 0 {
		t.Fatalf("responses did not move between versions: %v", tr.versions)
	}
	var st api.EnvStatus = e.status("hello", "staging")
	if st.Live == nil || st.Live.Number != 2 {
		t.Fatalf("live release after 20 switches: %+v", st.Live)
	}
}

// kill -9 of the server after the switch, while an old instance is still
// draining a slow request: the restarted server finishes the rollout, the
// slow request completes, and the old instances are stopped.
func TestKillServerAfterSwitch(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	slow := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+e.proxyAddr+"/?sleep=4s", nil)
		req.Host = stagingHost
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "[v1]") {
				err = fmt.Errorf("slow request answered %d %q", resp.StatusCode, body)
			}
		}
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond) // the slow request is in flight to v1
	tr := e.startTraffic(stagingHost, 4)
	e.setVersion("v2", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := e.status("hello", "staging")
		if st.Rollout != nil && st.Rollout.Phase == store.PhaseSwitched {
			break
		}
		if time.Now().After(deadline) || (st.Rollout != nil && st.Rollout.State != store.RolloutRunning) {
			t.Fatalf("rollout never seen draining: %+v", st.Rollout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.stopServer(syscall.SIGKILL)
	// The store recorded the switch; the proxy may or may not have the new
	// table yet (the kill can land between the two). Either way traffic
	// flows, and the restarted server republishes.
	if _, err := e.get(stagingHost); err != nil {
		t.Fatalf("with no control plane the proxy must keep serving: %v", err)
	}
	e.startServer()
	e.mustServe(stagingHost, "v2")
	if err := <-slow; err != nil {
		t.Fatalf("the in-flight request to the old release: %v", err)
	}
	st := e.status("hello", "staging")
	for deadline := time.Now().Add(15 * time.Second); st.Rollout != nil && st.Rollout.State == store.RolloutRunning && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		st = e.status("hello", "staging")
	}
	if st.Rollout == nil || st.Rollout.State != store.RolloutSucceeded || st.Live.Number != 2 {
		t.Fatalf("after restart: rollout %+v, live %+v", st.Rollout, st.Live)
	}
	for _, in := range st.Instances {
		if in.Release != 2 {
			t.Errorf("old instance %s still running", in.ID)
		}
	}
	tr.stop()
}
