package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// writeSpec replaces the example's slipway.yaml with one whose staging
// environment uses the given rollout section (indented under staging).
func (e *env) writeSpec(replicas int, config, rollout string) {
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
  healthy_threshold: 2
  deploy_timeout: 10s
environments:
  staging:
    host: hello.staging.localhost
    replicas: ` + itoa(replicas) + `
    config:
      GREETING: hello
` + indent(config, "      ") + `    rollout:
` + indent(rollout, "      ") + `  production:
    host: hello.localhost
`
	if err := os.WriteFile(filepath.Join(e.work, "slipway.yaml"), []byte(spec), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func indent(s, prefix string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, prefix+l)
	}
	return strings.Join(out, "\n") + "\n"
}

func (e *env) rolloutStatus() api.RolloutStatus {
	e.t.Helper()
	var st api.RolloutStatus
	if err := json.Unmarshal([]byte(e.ok("rollout", "status", "hello", "--env", "staging", "--json")), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// waitRollout polls until the latest rollout is no longer running.
func (e *env) waitRollout(limit time.Duration) api.RolloutStatus {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := e.rolloutStatus()
		if st.Rollout.State != store.RolloutRunning {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("rollout still running after %s: %+v", limit, st.Rollout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls the rollout until cond holds.
func (e *env) waitFor(limit time.Duration, what string, cond func(api.RolloutStatus) bool) api.RolloutStatus {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := e.rolloutStatus()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waited %s for %s: %+v", limit, what, st.Rollout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const canarySteps = `strategy: canary
progress_deadline: 60s
steps:
  - weight: 50
  - analysis: 40s
analysis:
  interval: 500ms
  min_requests: 50
  max_error_rate: 0.05
  max_error_rate_increase: 0.01
  latency:
    - percentile: 50
      max_ratio: 1.5
`

// A canary failing half its requests is aborted by the analysis, all
// traffic goes back to stable, and the release is marked aborted with the
// error-rate evidence.
func TestCanaryErrorsAborted(t *testing.T) {
	e := newEnv(t)
	e.writeSpec(2, "", canarySteps)
	e.deploy("staging", "v1")
	tr := e.startTraffic(stagingHost, 8)
	e.setVersion("v2", true)
	e.writeSpec(2, "HELLO_FAIL_RATE: \"0.5\"", canarySteps)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "staging")
	tr.cancel()
	tr.wg.Wait()
	if code != 1 || !strings.Contains(errOut, "aborted") || !strings.Contains(errOut, "error rate") {
		t.Fatalf("bad canary deploy: exit %d, %q; want aborted by the error-rate check", code, errOut)
	}
	st := e.rolloutStatus()
	var abort *store.Decision
	for i, d := range st.Decisions {
		if d.Action == "abort" {
			abort = &st.Decisions[i]
		}
	}
	if abort == nil || abort.Actor != "analysis" || !strings.Contains(string(abort.Evidence), "requests") {
		t.Fatalf("abort decision with evidence: %+v", st.Decisions)
	}
	for range 50 {
		e.mustServe(stagingHost, "v1")
	}
	rels := releases(t, e, "hello", "staging")
	if rels[0].Status != "aborted" || rels[1].Status != "live" {
		t.Fatalf("releases after abort: %+v", rels)
	}
}

// A canary twice as slow is aborted by the latency check.
func TestCanaryLatencyAborted(t *testing.T) {
	e := newEnv(t)
	e.writeSpec(2, "HELLO_DELAY: 5ms", canarySteps)
	e.deploy("staging", "v1")
	tr := e.startTraffic(stagingHost, 8)
	defer func() { tr.cancel(); tr.wg.Wait() }()
	e.setVersion("v2", true)
	e.writeSpec(2, "HELLO_DELAY: 10ms", canarySteps)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "staging")
	if code != 1 || !strings.Contains(errOut, "aborted") || !strings.Contains(strings.ToLower(errOut), "latency") {
		t.Fatalf("slow canary: exit %d, %q; want aborted by the latency check", code, errOut)
	}
	e.mustServe(stagingHost, "v1")
}

// A healthy canary passes every step; a client with a cookie stays on one
// version for the whole rollout; decisions are recorded.
func TestCanaryHealthyPassesSticky(t *testing.T) {
	e := newEnv(t)
	steps := `strategy: canary
steps:
  - weight: 30
  - pause: 4s
  - analysis: 40s
  - weight: 60
  - pause: 1s
analysis:
  interval: 500ms
  min_requests: 100
`
	e.writeSpec(2, "", steps)
	e.deploy("staging", "v1")
	tr := e.startTraffic(stagingHost, 8)
	e.setVersion("v2", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	e.waitFor(20*time.Second, "canary at 30%", func(st api.RolloutStatus) bool { return st.Rollout.Weight == 30 })

	// Sticky clients: 20 new clients each get a version at 30% (with 20
	// of them, all landing on stable would happen 0.08% of the time)...
	type client struct {
		http  *http.Client
		first string
	}
	fetch := func(c *http.Client) string {
		req, _ := http.NewRequest("GET", "http://"+e.proxyAddr+"/", nil)
		req.Host = stagingHost
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body [128]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if strings.Contains(string(body[:n]), "[v2]") {
			return "v2"
		}
		return "v1"
	}
	seenCanary := false
	var clients []client
	for range 20 {
		jar, _ := cookiejar.New(nil)
		c := client{http: &http.Client{Jar: jar, Timeout: 5 * time.Second}}
		c.first = fetch(c.http)
		seenCanary = seenCanary || c.first == "v2"
		clients = append(clients, c)
	}
	if st := e.rolloutStatus(); st.Rollout.State != store.RolloutRunning || st.Rollout.Weight != 30 {
		t.Fatalf("the canary left 30%% while the clients were assigned (the 4s pause should hold it): %+v", st.Rollout)
	}
	// ...and keeps it while the canary runs, also across weights.
	for i, c := range clients {
		for range 5 {
			if v := fetch(c.http); v != c.first {
				if st := e.rolloutStatus(); st.Rollout.State == store.RolloutRunning {
					t.Fatalf("client %d moved from %s to %s during the canary", i, c.first, v)
				}
			}
		}
	}
	// Testers can force a version.
	for _, force := range []string{"canary", "stable"} {
		req, _ := http.NewRequest("GET", "http://"+e.proxyAddr+"/", nil)
		req.Host = stagingHost
		req.Header.Set("X-Slipway-Release", force)
		resp, err := httpClient.Do(req)
		if err == nil {
			var body [128]byte
			n, _ := resp.Body.Read(body[:])
			resp.Body.Close()
			want := map[string]string{"canary": "[v2]", "stable": "[v1]"}[force]
			if st := e.rolloutStatus(); st.Rollout.State == store.RolloutRunning && !strings.Contains(string(body[:n]), want) {
				t.Errorf("X-Slipway-Release: %s answered %q", force, body[:n])
			}
		}
	}
	st := e.waitRollout(90 * time.Second)
	tr.stop()
	if st.Rollout.State != store.RolloutSucceeded {
		t.Fatalf("healthy canary: %+v", st.Rollout)
	}
	if !seenCanary {
		t.Error("no sticky client was ever sent to the canary at 30%")
	}
	var passed bool
	for _, d := range st.Decisions {
		if d.Action == "advance" && d.Actor == "analysis" && len(d.Evidence) > 2 {
			passed = true
		}
		if d.Action == "abort" {
			t.Errorf("healthy canary had an abort decision: %+v", d)
		}
	}
	if !passed {
		t.Errorf("no recorded analysis pass with evidence: %+v", st.Decisions)
	}
	e.mustServe(stagingHost, "v2")
}

// A manual pause waits for `slipway rollout promote`; pause and resume
// hold it; the progress deadline aborts one left alone.
func TestManualPausePromoteAndDeadline(t *testing.T) {
	e := newEnv(t)
	steps := `strategy: canary
progress_deadline: 4s
steps:
  - weight: 20
  - pause: manual
`
	e.writeSpec(1, "", steps)
	e.deploy("staging", "v1")
	e.setVersion("v2", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	e.waitFor(15*time.Second, "manual pause", func(st api.RolloutStatus) bool {
		return strings.Contains(st.Rollout.Message, "rollout promote")
	})
	e.ok("rollout", "pause", "hello", "--env", "staging")
	e.waitFor(5*time.Second, "paused", func(st api.RolloutStatus) bool { return st.Rollout.Paused })
	time.Sleep(5 * time.Second) // past the deadline, but held by a user: no abort
	if st := e.rolloutStatus(); st.Rollout.State != store.RolloutRunning {
		t.Fatalf("a paused rollout was ended: %+v", st.Rollout)
	}
	e.ok("rollout", "resume", "hello", "--env", "staging")
	e.ok("rollout", "promote", "hello", "--env", "staging")
	if st := e.waitRollout(20 * time.Second); st.Rollout.State != store.RolloutSucceeded {
		t.Fatalf("promoted rollout: %+v", st.Rollout)
	}
	e.mustServe(stagingHost, "v2")

	// Left alone at a manual pause, the deadline aborts it.
	e.setVersion("v3", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	st := e.waitRollout(30 * time.Second)
	if st.Rollout.State != store.RolloutAborted || !strings.Contains(st.Rollout.Reason, "progress deadline") {
		t.Fatalf("stalled rollout: %+v", st.Rollout)
	}
	e.mustServe(stagingHost, "v2")
	if _, errOut, code := e.run("rollout", "promote", "hello", "--env", "staging"); code != 1 || !strings.Contains(errOut, "no rollout in progress") {
		t.Fatalf("promote with nothing running: exit %d %q", code, errOut)
	}
}

// With the previous release kept warm, a rollback under load is a route
// flip: no new instance starts, and no request fails.
func TestWarmRollbackFlip(t *testing.T) {
	e := newEnv(t)
	e.writeSpec(2, "", "keep_previous: 2m\n")
	e.deploy("staging", "v1")
	e.deploy("staging", "v2")
	before := e.status("hello", "staging")
	if len(before.Instances) != 4 {
		t.Fatalf("with keep_previous the old release stays warm: %d instances", len(before.Instances))
	}
	tr := e.startTraffic(stagingHost, 8)
	start := time.Now()
	e.ok("rollback", "hello", "--env", "staging")
	took := time.Since(start)
	tr.stop()
	e.mustServe(stagingHost, "v1")
	st := e.rolloutStatus()
	if st.Rollout.Strategy != "flip" || st.Rollout.ToRelease != 1 {
		t.Fatalf("warm rollback: %+v", st.Rollout)
	}
	after := e.status("hello", "staging")
	for _, in := range after.Instances {
		found := false
		for _, b := range before.Instances {
			found = found || b.ID == in.ID
		}
		if !found {
			t.Errorf("a warm rollback started a new instance %s", in.ID)
		}
	}
	t.Logf("warm rollback took %s from command to done", took)
	// Undo the undo: back to 2, also warm.
	e.ok("rollback", "hello", "--env", "staging")
	e.mustServe(stagingHost, "v2")
}

// A rolling update replaces instances in batches with no failed request.
func TestRollingUpdate(t *testing.T) {
	e := newEnv(t)
	e.writeSpec(3, "", "strategy: rolling\nmax_surge: 1\nmax_unavailable: 0\n")
	e.deploy("staging", "v1")
	tr := e.startTraffic(stagingHost, 8)
	e.deploy("staging", "v2")
	tr.stop()
	e.mustServe(stagingHost, "v2")
	st := e.status("hello", "staging")
	if len(st.Instances) != 3 {
		t.Fatalf("after a rolling update: %d instances, want 3", len(st.Instances))
	}
	ro := e.rolloutStatus().Rollout
	if ro.Strategy != "rolling" || ro.Step < 3 {
		t.Fatalf("rolling rollout: %+v (want 3 batches)", ro)
	}
}

// Blue-green with a preview host and manual promotion: the preview host
// serves the new release while the main host serves the old, until promote.
func TestBlueGreenPreviewManual(t *testing.T) {
	e := newEnv(t)
	e.writeSpec(1, "", "strategy: blue-green\npreview_host: preview.hello.staging.localhost\npromotion: manual\n")
	e.deploy("staging", "v1")
	e.setVersion("v2", true)
	e.ok("deploy", "-f", "slipway.yaml", "--env", "staging", "--no-wait")
	e.waitFor(15*time.Second, "waiting for promotion", func(st api.RolloutStatus) bool {
		return strings.Contains(st.Rollout.Message, "rollout promote")
	})
	e.mustServe("preview.hello.staging.localhost", "v2")
	e.mustServe(stagingHost, "v1")
	e.ok("rollout", "promote", "hello", "--env", "staging")
	if st := e.waitRollout(15 * time.Second); st.Rollout.State != store.RolloutSucceeded {
		t.Fatalf("promoted blue-green: %+v", st.Rollout)
	}
	e.mustServe(stagingHost, "v2")
	if _, err := e.get("preview.hello.staging.localhost"); err == nil {
		t.Error("the preview host still answers after the switch")
	}
}
