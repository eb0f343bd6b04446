package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

func TestExposureOf(t *testing.T) {
	ms := time.Millisecond
	// ev is a request due and sent at sent ms, answered 1 ms later.
	ev := func(sent time.Duration, status int, v uint16) loadgen.Event {
		return loadgen.Event{Due: sent * ms, Sent: sent * ms, Done: (sent + 1) * ms, Status: status, Version: v}
	}
	late := ev(30, 200, 1)
	late.Due = 30*ms - 2*loadgen.LateLimit
	tests := []struct {
		name   string
		events []loadgen.Event
		v      uint16
		want   exposure
	}{{
		name:   "a failing canary, then stable only",
		events: []loadgen.Event{ev(1, 200, 1), ev(10, 200, 2), ev(12, 500, 1), ev(20, 500, 2), ev(25, 0, 0), ev(30, 200, 1), ev(40, 500, 2), ev(50, 200, 1)},
		v:      2,
		want:   exposure{firstSent: 10 * ms, firstBad: 21 * ms, last: 41 * ms, requests: 3, errors: 2, otherErrors: 1, unattributed: 1},
	}, {
		name:   "a canary that never failed",
		events: []loadgen.Event{ev(1, 200, 1), ev(10, 200, 2), late, ev(40, 200, 2)},
		v:      2,
		want:   exposure{firstSent: 10 * ms, firstBad: results.Never, last: 41 * ms, requests: 2, late: 1},
	}, {
		name:   "a version that never answered",
		events: []loadgen.Event{ev(1, 200, 1)},
		v:      0,
		want:   exposure{firstSent: results.Never, firstBad: results.Never, last: results.Never},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exposureOf(tt.events, tt.v); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVersionIndex(t *testing.T) {
	vs := []string{"", "a-1", "a-2"}
	if versionIndex(vs, "a-2") != 2 || versionIndex(vs, "a-3") != 0 || versionIndex(vs, "") != 0 {
		t.Error("versionIndex")
	}
}

func TestDecisionsOf(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 11, 21, 0, 0, s, 0, time.UTC) }
	ev, _ := json.Marshal(analysis.Decision{Verdict: analysis.Fail, Checks: []analysis.CheckResult{
		{Name: "min-requests", Verdict: analysis.Pass}, {Name: "error-rate", Verdict: analysis.Fail}}})
	st := api.RolloutStatus{Decisions: []store.Decision{
		{Action: "advance", Actor: "schedule", Weight: 20, At: at(1)},
		{Action: "abort", Actor: "analysis", Reason: "analysis failed: error-rate: ...", Evidence: ev, At: at(3)},
	}}
	d := decisionsOf(st)
	if !d.weight.Equal(at(1)) || !d.abort.Equal(at(3)) || !d.pass.IsZero() || d.actor != "analysis" ||
		len(d.failed) != 1 || d.failed[0] != "error-rate" || d.evidence == nil {
		t.Errorf("got %+v", d)
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{5, results.Never, 1, 3, 2, 4}
	for q, want := range map[float64]time.Duration{0: 1, 0.5: 3, 1: 5} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if quantile([]time.Duration{results.Never}, 0.5) != results.Never {
		t.Error("quantile of nothing")
	}
}

func TestSpec(t *testing.T) {
	a := &app{name: "errors", host: "errors.staging.localhost"}
	got := a.spec(release{config: map[string]string{"HELLO_FAIL_RATE": "0.5", "A": "x"}, rollout: "strategy: canary\n"})
	want := `name: errors
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
  deploy_timeout: 20s
environments:
  staging:
    host: errors.staging.localhost
    replicas: 1
    config:
      GREETING: hello
      A: "x"
      HELLO_FAIL_RATE: "0.5"
    rollout:
      strategy: canary
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Every spec the benchmark deploys is one the product accepts.
func TestSpecsParse(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{name: "healthy1", host: "healthy1.staging.localhost"}
	for name, rel := range map[string]release{
		"part 1 canary": {config: badCanary(o).canary, rollout: canaryRollout(o, o.weight)},
		"part 2 stable": {config: slowCanary(o).stable, rollout: canaryRollout(o, o.weight)},
		"part 3":        {config: map[string]string{"HELLO_FAIL_RATE": "0.01"}, rollout: canaryRollout(o, o.weight)},
		"part 4":        {rollout: splitRollout},
	} {
		if _, err := spec.Parse("slipway.yaml", []byte(a.spec(rel))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWaitingChecks(t *testing.T) {
	tests := []struct {
		msg  string
		want []string
	}{
		{"step 2/2: analysis at 20% (up to 2m0s); analysis: wait: waiting for latency-p99-vs-stable: p99 latency 39.5ms vs stable 32.4ms: may be within the limit, not yet clear (log e-value 0, passes at 3.69)",
			[]string{"latency-p99-vs-stable"}},
		{"step 2/2: analysis at 20% (up to 2m0s); analysis: wait: waiting for min-requests: canary served 10 requests; 50 needed before judging; error-rate: waiting for 50 canary requests (have 10) before judging; so far: x; error-rate-increase: y; latency-p50-vs-stable: z",
			[]string{"min-requests", "error-rate", "error-rate-increase", "latency-p50-vs-stable"}},
		{"step 2/2: analysis at 20% (up to 2m0s)", nil},
		{"step 1/2 done", nil},
	}
	for _, tt := range tests {
		if got := waitingChecks(tt.msg); !slices.Equal(got, tt.want) {
			t.Errorf("waitingChecks(%.60q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestDecisionsOfAtLimit(t *testing.T) {
	st := api.RolloutStatus{Decisions: []store.Decision{
		{Action: "advance", Actor: "schedule", Weight: 20},
		{Action: "advance", Actor: "analysis", Reason: "no check failed within 2m0s (inconclusive: waiting for latency-p99-vs-stable: ...)"},
		{Action: "promote", Actor: "schedule"},
	}}
	if d := decisionsOf(st); !d.atLimit || d.passReason == "" || !d.abort.IsZero() {
		t.Errorf("got %+v", d)
	}
	st.Decisions[1].Reason = "analysis passed: all 5 checks pass"
	if d := decisionsOf(st); d.atLimit {
		t.Errorf("a pass on evidence read as at the limit: %+v", d)
	}
}
