package analysis

import (
	"strings"
	"testing"
	"time"
)

// hist builds a histogram with the given bounds and counts.
func hist(bounds []float64, counts ...uint64) Histogram {
	return Histogram{Bounds: bounds, Counts: counts}
}

// errorsOnly is a config with only the error-rate checks.
func errorsOnly(minRequests int, maxRate, maxIncrease float64) Config {
	return Config{MinRequests: minRequests, MaxErrorRate: maxRate, MaxErrorRateIncrease: maxIncrease}
}

// recent is an input with only the canary's window counters set.
func recent(requests, errs uint64) Input {
	s := Sample{Requests: requests, Errors: errs}
	return Input{Canary: s, CanaryRecent: s, Window: time.Minute}
}

// totals is an input with canary and stable totals.
func totals(cReq, cErr, sReq, sErr uint64) Input {
	return Input{
		Canary: Sample{Requests: cReq, Errors: cErr},
		Stable: Sample{Requests: sReq, Errors: sErr},
		Window: time.Minute,
	}
}

// withLatency sets the canary's and stable's latency histograms.
func withLatency(in Input, canary, stable Histogram) Input {
	in.Canary.Latency, in.Stable.Latency = canary, stable
	if in.Canary.Requests == 0 {
		in.Canary.Requests = uint64(canary.total())
	}
	if in.Stable.Requests == 0 {
		in.Stable.Requests = uint64(stable.total())
	}
	return in
}

// The expected verdicts at exact thresholds below were computed by hand
// (independently of this package, with Python's math.lgamma and
// statistics.NormalDist) from the formulas in stats.go:
//
//   - Wilson bounds, n = 100, limit 5%, z(0.001) = 3.0902, z(0.05) = 1.6449:
//     k = 1: upper 4.36% < 5% -> pass; k = 2: upper 5.87% -> wait;
//     k = 11: lower 4.56% -> wait; k = 12: lower 5.16% > 5% -> fail.
//   - Both releases without errors, n requests each, allowed increase 1%:
//     log e-value = 2*[lbeta(1/2, n+10) - lbeta(1/2, 10)] - n*log(0.99);
//     n = 728: 2.9906 < log 20 = 2.9957 -> wait; n = 729: 2.9993 -> pass.
//   - 47 errors in 1000 canary requests vs 90 in 9000: log e-value 6.932
//     >= log(1/0.001) = 6.908 -> fail; but 6.932 < log(3/0.001) = 8.006
//     when Alpha is shared by three sequential checks -> wait; 49 errors:
//     8.565 -> fail.
//   - p99 against an absolute limit, 1000 requests, k of them slower:
//     evidence against "<= 1% slower" (prior Beta(1, 99)) reaches
//     log 1000 = 6.908 at k = 27 (7.558; k = 26: 6.644); evidence against
//     ">= 1% slower" reaches log 20 at k = 2 (3.525; k = 3: 2.219).
//     With 973 requests <= 100ms and 27 in (200ms, 500ms], p99 (rank 990)
//     lies 17/27 into that bucket: 200 + 300*17/27 = 389ms.
//   - p50 of 1000, 2000, 3000, ... per 10ms bucket (10000 requests): rank
//     5000 lies 2000/3000 into (20ms, 30ms]: 26.7ms.
func TestEvaluate(t *testing.T) {
	b := []float64{0.1, 0.2, 0.5}
	latencyMax := Config{Latency: []LatencyRule{{Percentile: 99, Max: 200 * time.Millisecond}}, MaxErrorRate: -1, MaxErrorRateIncrease: -1}
	latencyRatio := Config{Latency: []LatencyRule{{Percentile: 50, MaxRatio: 1.5}}, MaxErrorRate: -1, MaxErrorRateIncrease: -1}
	lb := []float64{0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.2}
	threeSequential := errorsOnly(50, -1, 0.01)
	threeSequential.Latency = []LatencyRule{{Percentile: 99, Max: time.Second}, {Percentile: 50, Max: time.Second}}
	tests := []struct {
		name    string
		cfg     Config
		in      Input
		want    Verdict
		checks  map[string]Verdict // verdicts of named checks
		reasons []string           // substrings of the decision's reason
	}{
		{
			name:    "below the minimum sample every check waits",
			cfg:     errorsOnly(50, 0.05, 0.01),
			in:      func() Input { in := totals(49, 40, 1000, 0); in.CanaryRecent = in.Canary; return in }(),
			want:    Wait,
			checks:  map[string]Verdict{CheckMinRequests: Wait, CheckErrorRate: Wait, CheckErrorRateIncrease: Wait},
			reasons: []string{"canary served 49 requests; 50 needed", "waiting for 50 canary requests (have 49) before judging; so far: error rate 81.6% (40/49)"},
		},
		{
			name:    "at the minimum sample checks decide",
			cfg:     errorsOnly(50, 0.05, 0.01),
			in:      func() Input { in := totals(50, 40, 1000, 0); in.CanaryRecent = in.Canary; return in }(),
			want:    Fail,
			checks:  map[string]Verdict{CheckMinRequests: Pass, CheckErrorRate: Fail, CheckErrorRateIncrease: Fail},
			reasons: []string{"error-rate: error rate 80% (40/50) over the last 1m0s, limit 5%: above the limit"},
		},
		{name: "error rate 1/100 passes", cfg: errorsOnly(50, 0.05, -1), in: recent(100, 1), want: Pass},
		{name: "error rate 2/100 waits", cfg: errorsOnly(50, 0.05, -1), in: recent(100, 2), want: Wait},
		{name: "error rate 11/100 waits", cfg: errorsOnly(50, 0.05, -1), in: recent(100, 11), want: Wait},
		{name: "error rate 12/100 fails", cfg: errorsOnly(50, 0.05, -1), in: recent(100, 12), want: Fail,
			reasons: []string{"error rate 12% (12/100)", "at least 5.16% with 99.9% confidence"}},
		{name: "one error in three requests is no evidence", cfg: errorsOnly(0, 0.05, 0.01),
			in: func() Input { in := totals(3, 1, 30, 0); in.CanaryRecent = in.Canary; return in }(), want: Wait},
		{name: "window below the minimum waits", cfg: errorsOnly(50, 0.05, -1),
			in: func() Input { in := recent(40, 40); in.Canary.Requests = 1000; return in }(), want: Wait,
			reasons: []string{"too few requests in the window to judge (50 needed)"}},
		{name: "limit 0 passes without errors", cfg: errorsOnly(10, 0, -1), in: recent(10, 0), want: Pass},
		{name: "limit 0 fails on one error", cfg: errorsOnly(10, 0, -1), in: recent(1000, 1), want: Fail},
		{name: "more errors than requests waits", cfg: errorsOnly(0, 0.05, 0.01),
			in: func() Input { in := totals(10, 11, 10, 11); in.CanaryRecent = in.Canary; return in }(), want: Wait,
			reasons: []string{"inconsistent counters"}},
		{name: "both clean, 728 requests each: not yet", cfg: errorsOnly(0, -1, 0.01), in: totals(728, 0, 728, 0), want: Wait,
			reasons: []string{"may be within allowed increase 1%", "log e-value 2.99, passes at 3"}},
		{name: "both clean, 729 requests each: pass", cfg: errorsOnly(0, -1, 0.01), in: totals(729, 0, 729, 0), want: Pass},
		{
			name: "canary far worse than stable fails", cfg: errorsOnly(50, -1, 0.01), in: totals(500, 241, 700, 2), want: Fail,
			reasons: []string{"error-rate-increase: error rate 48.2% (241/500) vs stable 0.286% (2/700): exceeds allowed increase 1% (log e-value"},
		},
		{name: "47/1000 vs 90/9000 fails", cfg: errorsOnly(50, -1, 0.01), in: totals(1000, 47, 9000, 90), want: Fail,
			reasons: []string{"(log e-value 6.93 >= 6.91)"}},
		{name: "47/1000 vs 90/9000 waits when three sequential checks share alpha", cfg: threeSequential, in: totals(1000, 47, 9000, 90), want: Wait,
			checks: map[string]Verdict{CheckErrorRateIncrease: Wait}, reasons: []string{"(log e-value 6.93, fails at 8.01)"}},
		{name: "49/1000 vs 90/9000 fails with three sequential checks", cfg: threeSequential, in: totals(1000, 49, 9000, 90), want: Fail,
			checks: map[string]Verdict{CheckErrorRateIncrease: Fail}, reasons: []string{"(log e-value 8.56 >= 8.01)"}},
		{name: "canary within the allowed increase passes", cfg: errorsOnly(50, -1, 0.01), in: totals(20000, 200, 180000, 1800), want: Pass},
		{name: "canary better than stable passes", cfg: errorsOnly(50, -1, 0.01), in: totals(5000, 0, 45000, 450), want: Pass},
		{name: "no stable traffic waits", cfg: errorsOnly(50, -1, 0.01), in: totals(5000, 0, 0, 0), want: Wait,
			reasons: []string{"no stable requests to compare with"}},
		{name: "allowed increase of 100% passes", cfg: errorsOnly(50, -1, 1), in: totals(100, 100, 100, 0), want: Pass},
		{name: "all checks disabled passes at the minimum", cfg: errorsOnly(10, -1, -1), in: totals(10, 10, 0, 0), want: Pass,
			reasons: []string{"all 1 checks pass"}},
		{name: "p99 2 of 1000 slower than max passes", cfg: latencyMax, in: withLatency(Input{}, hist(b, 998, 0, 2, 0), Histogram{}), want: Pass},
		{name: "p99 3 of 1000 slower than max waits", cfg: latencyMax, in: withLatency(Input{}, hist(b, 997, 0, 3, 0), Histogram{}), want: Wait},
		{name: "p99 26 of 1000 slower than max waits", cfg: latencyMax, in: withLatency(Input{}, hist(b, 974, 0, 26, 0), Histogram{}), want: Wait},
		{name: "p99 27 of 1000 slower than max fails", cfg: latencyMax, in: withLatency(Input{}, hist(b, 973, 0, 27, 0), Histogram{}), want: Fail,
			reasons: []string{"latency-p99: p99 latency 389ms, limit 200ms: 2.7% of 1000 canary requests slower than 200ms (at most 1% allowed): too many slow requests (log e-value 7.56 >= 6.91)"}},
		{name: "p99 in the overflow bucket fails", cfg: latencyMax, in: withLatency(Input{}, hist(b, 900, 0, 0, 100), Histogram{}), want: Fail,
			reasons: []string{"p99 latency > 500ms"}},
		{name: "no latency data waits", cfg: latencyMax, in: Input{Canary: Sample{Requests: 100}}, want: Wait,
			reasons: []string{"no latency observations"}},
		{name: "malformed histogram waits", cfg: latencyMax, in: withLatency(Input{}, hist(b, 1, 2), Histogram{}), want: Wait,
			reasons: []string{"2 counts for 3 bounds"}},
		{
			name: "p50 same as stable passes", cfg: latencyRatio,
			in:   withLatency(Input{}, hist(lb, 100, 200, 300, 200, 100, 50, 30, 15, 5, 0), hist(lb, 1000, 2000, 3000, 2000, 1000, 500, 300, 150, 50, 0)),
			want: Pass,
		},
		{
			name: "p50 2x stable fails", cfg: latencyRatio,
			in:      withLatency(Input{}, hist(lb, 0, 0, 50, 100, 150, 200, 300, 130, 70, 0), hist(lb, 1000, 2000, 3000, 2000, 1000, 500, 300, 150, 50, 0)),
			want:    Fail,
			reasons: []string{"latency-p50-vs-stable: p50 latency 60ms vs stable 26.7ms (ratio 2.25, limit 1.5x = 40ms): 85% of 1000 canary requests slower than 40ms"},
		},
		{
			name: "p50 vs stable without stable traffic waits", cfg: latencyRatio,
			in:      withLatency(Input{}, hist(lb, 100, 200, 300, 200, 100, 50, 30, 15, 5, 0), Histogram{}),
			want:    Wait,
			reasons: []string{"stable no latency observations"},
		},
		{
			name: "unusable rule waits and says why",
			cfg:  Config{MaxErrorRate: -1, MaxErrorRateIncrease: -1, Latency: []LatencyRule{{Percentile: 100, Max: time.Second}}},
			in:   withLatency(Input{}, hist(b, 1000, 0, 0, 0), Histogram{}), want: Wait,
			reasons: []string{"latency-p100: latency percentile 100 is not between 0 and 100"},
		},
	}
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(tt.cfg, tt.in, at)
			if d.Verdict != tt.want {
				t.Errorf("verdict %s, want %s; reason: %s", d.Verdict, tt.want, d.Reason)
			}
			if !d.At.Equal(at) {
				t.Errorf("At %v, want %v", d.At, at)
			}
			for name, want := range tt.checks {
				c, ok := findCheck(d, name)
				if !ok {
					t.Errorf("no check %q in %+v", name, d.Checks)
				} else if c.Verdict != want {
					t.Errorf("check %s: %s, want %s (%s)", name, c.Verdict, want, c.Detail)
				}
			}
			for _, s := range tt.reasons {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q\ndoes not contain %q", d.Reason, s)
				}
			}
		})
	}
}

func findCheck(d Decision, name string) (CheckResult, bool) {
	for _, c := range d.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return CheckResult{}, false
}

// The evidence a check reports: value, threshold, sample sizes.
func TestEvaluateCheckNumbers(t *testing.T) {
	in := totals(500, 241, 700, 2)
	in.CanaryRecent = Sample{Requests: 100, Errors: 50}
	d := Evaluate(errorsOnly(50, 0.05, 0.01), in, time.Time{})
	want := map[string]CheckResult{
		CheckMinRequests:       {Value: 500, Threshold: 50, Canary: 500, Stable: 700, Verdict: Pass},
		CheckErrorRate:         {Value: 0.5, Threshold: 0.05, Canary: 100, Verdict: Fail},
		CheckErrorRateIncrease: {Value: 241.0/500 - 2.0/700, Threshold: 0.01, Canary: 500, Stable: 700, Verdict: Fail},
	}
	if len(d.Checks) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(d.Checks), len(want), d.Checks)
	}
	for _, c := range d.Checks {
		w := want[c.Name]
		if c.Value != w.Value || c.Threshold != w.Threshold || c.Canary != w.Canary || c.Stable != w.Stable || c.Verdict != w.Verdict {
			t.Errorf("%s: got %+v, want %+v", c.Name, c, w)
		}
		if c.Detail == "" {
			t.Errorf("%s: empty detail", c.Name)
		}
	}
}

func TestDecide(t *testing.T) {
	r := func(name string, v Verdict) CheckResult {
		return CheckResult{Name: name, Verdict: v, Detail: name + " detail"}
	}
	tests := []struct {
		checks []CheckResult
		want   Verdict
		reason string
	}{
		{[]CheckResult{r("a", Pass), r("b", Pass)}, Pass, "all 2 checks pass"},
		{[]CheckResult{r("a", Pass), r("b", Wait), r("c", Wait)}, Wait, "waiting for b: b detail; c: c detail"},
		{[]CheckResult{r("a", Fail), r("b", Wait), r("c", Fail)}, Fail, "a: a detail; c: c detail"},
		{[]CheckResult{r("a", "bogus")}, Wait, "waiting for a: a detail"},
	}
	for _, tt := range tests {
		d := decide(time.Time{}, tt.checks)
		if d.Verdict != tt.want || d.Reason != tt.reason {
			t.Errorf("decide(%v) = %s %q, want %s %q", tt.checks, d.Verdict, d.Reason, tt.want, tt.reason)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{Config{MinRequests: 50, MaxErrorRate: 0.05, MaxErrorRateIncrease: 0.01}, ""},
		{Config{MaxErrorRate: -1, MaxErrorRateIncrease: -1, Alpha: 0.01, Beta: 0.1}, ""},
		{Config{MinRequests: -1}, "min requests -1 is negative"},
		{Config{MaxErrorRate: 2}, "max error rate 2"},
		{Config{MaxErrorRateIncrease: 1.5}, "max error rate increase 1.5"},
		{Config{Alpha: 1}, "alpha 1"},
		{Config{Beta: -0.1}, "beta -0.1"},
		{Config{Latency: []LatencyRule{{Percentile: 0, Max: time.Second}}}, "percentile 0"},
		{Config{Latency: []LatencyRule{{Percentile: 99}}}, "latency p99: set max, max ratio or both"},
		{Config{Latency: []LatencyRule{{Percentile: 99, MaxRatio: -1}}}, "must be positive"},
		{Config{Latency: []LatencyRule{{Percentile: 99.9, Max: time.Second, MaxRatio: 2}}}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, c := range []Config{{}, {Alpha: -1, Beta: 2}, {Alpha: 1, Beta: 1}} {
		if c.alpha() != DefaultAlpha || c.beta() != DefaultBeta {
			t.Errorf("%+v: alpha %v beta %v, want defaults", c, c.alpha(), c.beta())
		}
	}
	c := Config{Alpha: 0.01, Beta: 0.1}
	if c.alpha() != 0.01 || c.beta() != 0.1 {
		t.Errorf("%+v: alpha %v beta %v", c, c.alpha(), c.beta())
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtPct(0.482), "48.2%"},
		{fmtPct(0.01), "1%"},
		{fmtPct(0.002857), "0.286%"},
		{fmtPct(1), "100%"},
		{fmtRate(241, 500), "48.2% (241/500)"},
		{fmtRate(0, 0), "n/a (0/0)"},
		{fmtSeconds(0.16035), "160ms"},
		{fmtSeconds(0.0005), "500µs"},
		{fmtSeconds(0.9996), "1000ms"},
		{fmtSeconds(12.34), "12.3s"},
		{fmtNum(99.96), "100"},
		{fmtNum(6.9078), "6.91"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
