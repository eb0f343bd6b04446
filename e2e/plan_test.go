package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/api"
)

// plan shows field-by-field changes; apply stores them; applying the same
// file again changes nothing; a bad apply leaves the stored spec as it was.
func TestPlanApply(t *testing.T) {
	e := newEnv(t)
	out := e.ok("plan", "-f", "slipway.yaml")
	if !strings.Contains(out, "will be created") || !strings.Contains(out, "+ environments.production.replicas = 2") {
		t.Fatalf("plan of a new app:\n%s", out)
	}
	e.ok("apply", "-f", "slipway.yaml")
	if out := e.ok("apply", "-f", "slipway.yaml"); !strings.Contains(out, "No changes.") {
		t.Fatalf("second apply of the same file:\n%s", out)
	}

	raw, _ := os.ReadFile(filepath.Join(e.work, "slipway.yaml"))
	changed := strings.Replace(string(raw), "replicas: 2", "replicas: 3", 1)
	changed = strings.Replace(changed, "path: /healthz", "path: /ready", 1)
	os.WriteFile(filepath.Join(e.work, "changed.yaml"), []byte(changed), 0o644)
	var p api.Plan
	if err := json.Unmarshal([]byte(e.ok("plan", "-f", "changed.yaml", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range p.Changes {
		got[c.Path] = c.Old + " -> " + c.New
	}
	if len(p.Changes) != 2 || got["environments.production.replicas"] != "2 -> 3" || got["health.path"] != `"/healthz" -> "/ready"` {
		t.Fatalf("plan changes: %+v", p.Changes)
	}

	// Another app may not take hello's host; nothing of it is stored.
	other := strings.Replace(string(raw), "name: hello", "name: other", 1)
	os.WriteFile(filepath.Join(e.work, "other.yaml"), []byte(other), 0o644)
	_, errOut, code := e.run("apply", "-f", "other.yaml")
	if code != 1 || !strings.Contains(errOut, "host") {
		t.Fatalf("apply of a clashing host: exit %d %q", code, errOut)
	}
	if out := e.ok("status"); strings.Contains(out, "other") {
		t.Fatalf("a refused apply left app other behind:\n%s", out)
	}
}

// The admin token is written 0600 and every API call needs it.
func TestAPIToken(t *testing.T) {
	e := newEnv(t)
	fi, err := os.Stat(filepath.Join(e.data, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	for _, auth := range []string{"", "Bearer ", "Bearer slw_wrong", "Basic abc"} {
		req, _ := http.NewRequest("POST", "http://"+e.apiAddr+"/v1/apply", strings.NewReader(`{"name":"x"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
	if out := e.ok("status"); !strings.Contains(out, "No apps yet") {
		t.Fatalf("unauthorized calls changed state: %s", out)
	}
}

// Every command answers --help with usage and exit 0.
func TestHelp(t *testing.T) {
	for _, c := range []string{"server", "proxy", "plan", "apply", "deploy", "promote", "rollback", "releases",
		"status", "logs", "config", "config set", "config unset", "config list", "demo", "schema", "version"} {
		args := append(strings.Fields(c), "--help")
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage:") {
			t.Errorf("slipway %s --help: %v\n%s", c, err, out)
		}
	}
	out, err := exec.Command(binary, "schema").Output()
	var schema map[string]any
	if err != nil || json.Unmarshal(out, &schema) != nil || schema["$schema"] == nil {
		t.Errorf("slipway schema: %v, output not a JSON Schema: %.200s", err, out)
	}
}

// The proxy exports per-release metrics for a user's Prometheus.
func TestProxyMetrics(t *testing.T) {
	e := newEnv(t)
	e.deploy("staging", "v1")
	for range 5 {
		e.mustServe(stagingHost, "v1")
	}
	resp, err := http.Get("http://" + e.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `slipway_proxy_requests_total{app="hello",class="2xx",env="staging",host="hello.staging.localhost",release="1"}`
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, want) {
			if n := strings.TrimSpace(strings.TrimPrefix(line, want)); n == "0" {
				t.Fatalf("metric counted no requests: %s", line)
			}
			return
		}
	}
	t.Fatalf("no %s in /metrics:\n%.2000s", want, body)
}
