package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. Parse must never panic and must be
// deterministic; an error must be a positioned ErrorList; a success must
// pass Validate, diff as unchanged against itself and survive a JSON round
// trip unchanged.
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob("testdata/parse/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Rollout sections reached through anchors, aliases and merges, and
	// values at the edges of their ranges.
	for _, rollout := range []string{
		"x-steps: &steps\n  - weight: 10\n  - pause: manual\n  - weight: 100\nx-a: &a {interval: 1s, window: 1s}\n" +
			"environments:\n  p:\n    host: p.localhost\n    rollout: {strategy: canary, steps: *steps, analysis: {<<: *a, min_requests: 1}}\n",
		"environments:\n  p:\n    host: p.localhost\n    replicas: 2\n    rollout: &r {strategy: rolling, max_surge: 100, max_unavailable: 1}\n" +
			"  q:\n    host: q.localhost\n    replicas: 3\n    rollout: *r\n",
		"environments:\n  p:\n    host: p.localhost\n    rollout: {preview_host: pp.localhost, promotion: manual, keep_previous: 0}\n" +
			"  q: {host: q.localhost, rollout: {preview_host: pp.localhost}}\n",
		"environments:\n  p:\n    host: p.localhost\n    rollout:\n      strategy: canary\n      sticky: header:X\n      analysis:\n" +
			"        max_error_rate: 1e-300\n        max_error_rate_increase: 1\n        latency: [{percentile: 0.000001, max_ratio: 1.0000001}]\n" +
			"        webhooks: [{url: 'http://[::1]:1/'}]\n        prometheus: [{url: http://p, query: '{{release}}{{stable}}', min: -1e308, max: 1e308}]\n",
	} {
		f.Add([]byte("name: hello\nbuild: {command: make, output: dist}\nrun: {command: ./hello}\nhealth: {path: /healthz}\n" + rollout))
	}
	// The delivery sections: pipeline, source rules and previews, and an
	// environment's promotion rules, permissions, smoke checks and secret
	// files, with cross references between environments.
	for _, delivery := range []string{
		"pipeline:\n  stages:\n    - name: t\n      parallel: true\n      steps: [{name: a, run: x, env: {A: 1}, dir: ., timeout: 1ns}, {name: b, run: y}]\n" +
			"  caches: [{path: ~/.c, key: [go.sum]}, {path: n, key: [a/b]}]\n" +
			"environments: {p: {host: p.localhost}}\n",
		"x-r: &r {branch: main, deploy: p}\nsource:\n  repo: ./\n  poll: 1ns\n  rules: [*r, {tag: 'v[0-9]*', candidate: q}, {branch: '**', preview: true}, {branch: '*'}]\n" +
			"  preview: {host: '{branch}.x.localhost', from: q}\n" +
			"environments: {p: {host: p.localhost}, q: {host: q.localhost, requires_from: p, approvals: 10, approval_ttl: 1ns}}\n",
		"environments:\n  p:\n    host: p.localhost\n    permissions: {deploy: admin, promote: approver, approve: approver, secret: deployer}\n" +
			"    smoke: [{name: a, http: {method: HEAD, path: /, status: 599, max_latency: 1ns}, timeout: 2ns}, {name: b, command: x}]\n" +
			"    secret_files: {A: a, B: b/c, _: d}\n" +
			"  q: {host: q.localhost, requires_from: r}\n  r: {host: r.localhost, requires_from: q}\n",
	} {
		f.Add([]byte("name: hello\nbuild: {command: make, output: dist}\nrun: {command: ./hello}\nhealth: {path: /healthz}\n" + delivery))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := Parse("slipway.yaml", data)
		_, again := Parse("slipway.yaml", data)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("Parse is not deterministic:\n%v\n---\n%v", err, again)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "slipway.yaml" || e.Line < 1 || e.Column < 1 || e.Message == "" {
					t.Fatalf("entry lacks file, position or message: %#v", e)
				}
			}
			if app != nil {
				t.Fatal("Parse returned both an app and an error")
			}
			return
		}
		if err := app.Validate(); err != nil {
			t.Fatalf("parsed app fails Validate: %v\ninput:\n%s", err, data)
		}
		if changes := Diff(app, app); len(changes) != 0 {
			t.Fatalf("app differs from itself: %v", changes)
		}
		encoded, err := json.Marshal(app)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back App
		if err := json.Unmarshal(encoded, &back); err != nil {
			t.Fatalf("Unmarshal %s: %v", encoded, err)
		}
		if !reflect.DeepEqual(app, &back) {
			t.Fatalf("JSON round trip changed the app:\n got %#v\nwant %#v", &back, app)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("app read back from JSON fails Validate: %v", err)
		}
	})
}
