package analysis

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fixedChecker returns the same result every time and counts its calls.
type fixedChecker struct {
	result CheckResult
	calls  atomic.Int64
}

func (c *fixedChecker) Check(ctx context.Context, in Input) CheckResult {
	c.calls.Add(1)
	return c.result
}

// judgeInput passes the built-in checks of errorsOnly(50, 0.05, 0.01).
func judgeInput() Input {
	in := totals(20000, 200, 180000, 1800)
	in.CanaryRecent = Sample{Requests: 1000, Errors: 10}
	return in
}

func TestJudgeCombines(t *testing.T) {
	cfg := errorsOnly(50, 0.05, 0.01)
	pass := CheckResult{Name: "ext", Verdict: Pass, Detail: "fine"}
	fail := CheckResult{Name: "ext", Verdict: Fail, Detail: "orders dropped 40%"}
	wait := CheckResult{Name: "ext", Verdict: Wait, Detail: "no data"}
	tests := []struct {
		name     string
		in       Input
		checkers []CheckResult
		want     Verdict
		reason   string
		called   bool
	}{
		{"built-ins alone", judgeInput(), nil, Pass, "all 3 checks pass", false},
		{"all pass", judgeInput(), []CheckResult{pass, pass}, Pass, "all 5 checks pass", true},
		{"a checker fails", judgeInput(), []CheckResult{pass, fail}, Fail, "ext: orders dropped 40%", true},
		{"a checker waits", judgeInput(), []CheckResult{wait, pass}, Wait, "waiting for ext: no data", true},
		{"a built-in fails", totals(500, 241, 700, 2), []CheckResult{pass}, Fail, "error-rate-increase: error rate 48.2%", true},
		{"below the minimum sample checkers are not called", totals(10, 0, 100, 0), []CheckResult{fail}, Wait,
			"checker-1: not called until the canary has served 50 requests (has 10)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var checkers []Checker
			var fakes []*fixedChecker
			for _, r := range tt.checkers {
				f := &fixedChecker{result: r}
				fakes = append(fakes, f)
				checkers = append(checkers, f)
			}
			now := time.Unix(1700000000, 0)
			d := Judge{Config: cfg, Checkers: checkers}.Evaluate(t.Context(), tt.in, now)
			if d.Verdict != tt.want || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("got %s %q, want %s with %q", d.Verdict, d.Reason, tt.want, tt.reason)
			}
			if !d.At.Equal(now) {
				t.Errorf("At %v", d.At)
			}
			if len(d.Checks) != 3+len(tt.checkers) { // min-requests, error-rate, error-rate-increase, checkers
				t.Errorf("%d checks: %+v", len(d.Checks), d.Checks)
			}
			for _, f := range fakes {
				if called := f.calls.Load() > 0; called != tt.called {
					t.Errorf("checker called: %v, want %v", called, tt.called)
				}
			}
		})
	}
}

// A checker that does not name its result gets a name from its position,
// or from its Name method.
func TestJudgeNamesResults(t *testing.T) {
	srv := newWebhookServer(t, answer{200, ""})
	j := Judge{Config: errorsOnly(50, 0.05, 0.01), Checkers: []Checker{
		&fixedChecker{result: CheckResult{Verdict: Pass}},
		NewWebhook(srv.URL+"/hook", time.Second, srv.Client()),
	}}
	d := j.Evaluate(t.Context(), judgeInput(), time.Time{})
	names := []string{}
	for _, c := range d.Checks {
		names = append(names, c.Name)
	}
	want := []string{CheckMinRequests, CheckErrorRate, CheckErrorRateIncrease, "checker-1", "webhook " + srv.URL + "/hook"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("names %q, want %q", names, want)
	}
	// Not called below the minimum: named by Name.
	d = j.Evaluate(t.Context(), totals(1, 0, 1, 0), time.Time{})
	if got := d.Checks[len(d.Checks)-1].Name; got != "webhook "+srv.URL+"/hook" {
		t.Errorf("name %q", got)
	}
}

// barrierChecker passes only if all n barrier checkers are running at the
// same time.
type barrierChecker struct {
	arrived *atomic.Int64
	all     chan struct{}
	n       int64
}

func (c barrierChecker) Check(ctx context.Context, in Input) CheckResult {
	if c.arrived.Add(1) == c.n {
		close(c.all)
	}
	select {
	case <-c.all:
		return CheckResult{Name: "barrier", Verdict: Pass}
	case <-ctx.Done():
		return CheckResult{Name: "barrier", Verdict: Wait, Detail: "cancelled"}
	case <-time.After(10 * time.Second):
		return CheckResult{Name: "barrier", Verdict: Fail, Detail: "checkers were not called concurrently"}
	}
}

func TestJudgeCallsCheckersConcurrently(t *testing.T) {
	var arrived atomic.Int64
	all := make(chan struct{})
	var checkers []Checker
	for range 4 {
		checkers = append(checkers, barrierChecker{&arrived, all, 4})
	}
	d := Judge{Config: errorsOnly(50, 0.05, 0.01), Checkers: checkers}.Evaluate(t.Context(), judgeInput(), time.Time{})
	if d.Verdict != Pass {
		t.Errorf("got %s: %s", d.Verdict, d.Reason)
	}
}

// Evaluate passes its context to the checkers: cancelling it ends a
// hanging call.
func TestJudgeContext(t *testing.T) {
	srv := hangingServer(t)
	j := Judge{Config: errorsOnly(50, 0.05, 0.01), Checkers: []Checker{NewWebhook(srv.URL, time.Minute, srv.Client())}}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	d := j.Evaluate(ctx, judgeInput(), time.Time{})
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if d.Verdict != Wait || !strings.Contains(d.Reason, "evaluation cancelled") {
		t.Errorf("got %s %q", d.Verdict, d.Reason)
	}
}
