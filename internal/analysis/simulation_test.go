package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Statistical tests of Evaluate on simulated rollouts: a stable and a
// canary release serve a steady load, the judge evaluates the accumulated
// counters every simulated second, and each run is deterministic (its
// seed drives a PCG generator). docs/analysis.md quotes the figures these
// tests log (go test -v -run Simulated ./internal/analysis).

// proxyBounds are the proxy's latency buckets (internal/proxy
// latencyBounds): 10 per decade from 100µs to 60s.
var proxyBounds = []float64{
	0.0001, 0.000125, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.0006, 0.0008,
	0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008,
	0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08,
	0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8,
	1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
	10, 12.5, 15, 20, 25, 30, 40, 50, 60,
}

// release is a simulated release's behaviour: each request fails with
// probability ErrorRate and takes a lognormal time with median Median and
// log-standard deviation Sigma.
type release struct {
	ErrorRate float64
	Median    time.Duration
	Sigma     float64
}

// arm accumulates what one simulated release served.
type arm struct {
	rel    release
	alias  aliasTable // latency buckets
	total  Sample
	window []Sample // per-second requests and errors, a ring
}

func newArm(rel release, windowSeconds int) *arm {
	a := &arm{rel: rel, window: make([]Sample, windowSeconds)}
	a.total.Latency = Histogram{Bounds: proxyBounds, Counts: make([]uint64, len(proxyBounds)+1)}
	mu := math.Log(rel.Median.Seconds())
	probs := make([]float64, len(proxyBounds)+1)
	prev := 0.0
	for i, b := range proxyBounds {
		cdf := 0.5 * math.Erfc(-(math.Log(b)-mu)/rel.Sigma/math.Sqrt2)
		probs[i] = cdf - prev
		prev = cdf
	}
	probs[len(proxyBounds)] = 1 - prev
	a.alias = newAliasTable(probs)
	return a
}

// serve simulates n requests in second sec.
func (a *arm) serve(rng *rand.Rand, sec, n int) {
	errs := uint64(binomial(rng, n, a.rel.ErrorRate))
	a.window[sec%len(a.window)] = Sample{Requests: uint64(n), Errors: errs}
	a.total.Requests += uint64(n)
	a.total.Errors += errs
	counts := a.total.Latency.Counts
	for range n {
		counts[a.alias.draw(rng)]++
	}
}

// binomial draws from Binomial(n, p) by inversion (O(np) steps).
func binomial(rng *rand.Rand, n int, p float64) int {
	if p <= 0 {
		return 0
	}
	if p > 0.5 {
		return n - binomial(rng, n, 1-p)
	}
	q := 1 - p
	r := math.Pow(q, float64(n))
	if r == 0 { // underflow: count coin flips
		k := 0
		for range n {
			if rng.Float64() < p {
				k++
			}
		}
		return k
	}
	s, u := p/q, rng.Float64()
	x := 0
	for u > r && x < n {
		u -= r
		x++
		r *= (float64(n+1-x) / float64(x)) * s
	}
	return x
}

// aliasTable draws an index with given probabilities in O(1) (Vose's
// alias method).
type aliasTable struct {
	prob  []float64
	alias []int
}

func newAliasTable(p []float64) aliasTable {
	n := len(p)
	t := aliasTable{prob: make([]float64, n), alias: make([]int, n)}
	scaled := make([]float64, n)
	var small, large []int
	for i, v := range p {
		scaled[i] = v * float64(n)
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		t.prob[s], t.alias[s] = scaled[s], l
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		t.prob[i], t.alias[i] = 1, i
	}
	return t
}

func (t aliasTable) draw(rng *rand.Rand) int {
	u := rng.Uint64()
	i := int((u >> 32) * uint64(len(t.prob)) >> 32)
	if float64(uint32(u))/(1<<32) < t.prob[i] {
		return i
	}
	return t.alias[i]
}

// sample returns the accumulated totals (sharing the histogram's counts:
// Evaluate does not keep them) and the window's sum.
func (a *arm) sample() (total, recent Sample) {
	for _, s := range a.window {
		recent.Requests += s.Requests
		recent.Errors += s.Errors
	}
	return a.total, recent
}

// scenario is a simulated canary rollout at a steady split.
type scenario struct {
	Cfg            Config
	Stable, Canary release
	RPS            float64 // total requests per second
	CanaryShare    float64 // share of RPS sent to the canary
	Seconds        int     // evaluations, one per simulated second
	StopAtDecision bool    // stop at the first Pass or Fail (else only at Fail)
}

// outcome of one simulated rollout.
type outcome struct {
	FirstFail, FirstPass int // second of the first Fail/Pass, -1 if none
	CanaryAtFail         uint64
	Fail                 Decision
}

func (sc scenario) run(seed uint64) outcome {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const window = 60
	stable, canary := newArm(sc.Stable, window), newArm(sc.Canary, window)
	out := outcome{FirstFail: -1, FirstPass: -1}
	var owedC, owedS float64
	start := time.Unix(0, 0)
	for sec := 1; sec <= sc.Seconds; sec++ {
		// Deterministic split with fractional carry, Poisson-free: the
		// proxy splits by weight, not by coin flips.
		owedC += sc.RPS * sc.CanaryShare
		owedS += sc.RPS * (1 - sc.CanaryShare)
		nc, ns := int(owedC), int(owedS)
		owedC -= float64(nc)
		owedS -= float64(ns)
		canary.serve(rng, sec, nc)
		stable.serve(rng, sec, ns)
		in := Input{Window: window * time.Second, StableRelease: 1, CanaryRelease: 2}
		in.Canary, in.CanaryRecent = canary.sample()
		in.Stable, in.StableRecent = stable.sample()
		d := Evaluate(sc.Cfg, in, start.Add(time.Duration(sec)*time.Second))
		switch d.Verdict {
		case Fail:
			out.FirstFail, out.CanaryAtFail, out.Fail = sec, in.Canary.Requests, d
			return out
		case Pass:
			if out.FirstPass < 0 {
				out.FirstPass = sec
			}
			if sc.StopAtDecision {
				return out
			}
		}
	}
	return out
}

// defaultConfig is what slipway.yaml's defaults map to, with the two
// latency rules of the examples.
func defaultConfig() Config {
	return Config{
		MinRequests:          50,
		MaxErrorRate:         0.05,
		MaxErrorRateIncrease: 0.01,
		Latency:              []LatencyRule{{Percentile: 99, MaxRatio: 1.5}, {Percentile: 50, MaxRatio: 1.5}},
	}
}

// healthyRelease answers 1% errors, median 50ms, p99 160ms.
var healthyRelease = release{ErrorRate: 0.01, Median: 50 * time.Millisecond, Sigma: 0.5}

// runMany runs sc with seeds 0..n-1 on every CPU, in seed order of
// results.
func runMany(sc scenario, n int) []outcome {
	out := make([]outcome, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				out[i] = sc.run(uint64(i))
			}
		})
	}
	wg.Wait()
	return out
}

// summary of the seconds at which runs failed or passed.
type summary struct {
	n, count            int
	median, worst, best int
}

func summarize(outs []outcome, second func(outcome) int) summary {
	var secs []int
	for _, o := range outs {
		if s := second(o); s >= 0 {
			secs = append(secs, s)
		}
	}
	sm := summary{n: len(outs), count: len(secs), median: -1, worst: -1, best: -1}
	if len(secs) > 0 {
		slices.Sort(secs)
		sm.median, sm.best, sm.worst = secs[len(secs)/2], secs[0], secs[len(secs)-1]
	}
	return sm
}

func firstFail(o outcome) int { return o.FirstFail }
func firstPass(o outcome) int { return o.FirstPass }

// simRuns scales a number of simulated rollouts down for -short and the
// race detector.
func simRuns(n int) int {
	switch {
	case raceEnabled:
		return max(n/10, 20)
	case testing.Short():
		return max(n/5, 20)
	}
	return n
}

// (a) A canary failing half its requests against a stable failing 0.1% is
// aborted within seconds.
func TestSimulatedErrorSpike(t *testing.T) {
	t.Parallel()
	stable := healthyRelease
	stable.ErrorRate = 0.001
	canary := healthyRelease
	canary.ErrorRate = 0.5
	for _, share := range []float64{0.1, 0.5} {
		outs := runMany(scenario{Cfg: defaultConfig(), Stable: stable, Canary: canary, RPS: 300, CanaryShare: share, Seconds: 60}, simRuns(100))
		fails := summarize(outs, firstFail)
		var reqs []uint64
		for _, o := range outs {
			reqs = append(reqs, o.CanaryAtFail)
		}
		slices.Sort(reqs)
		t.Logf("50%% errors vs 0.1%%, 300 req/s, %g%% to the canary: %d/%d aborted, after %d s median, %d s worst (%d-%d canary requests); e.g. %s",
			100*share, fails.count, fails.n, fails.median, fails.worst, reqs[0], reqs[len(reqs)-1], outs[0].Fail.Reason)
		if fails.count != fails.n || fails.worst > 5 {
			t.Errorf("want every run aborted within 5 s, got %+v", fails)
		}
	}
}

// (b) A canary twice as slow (every latency doubled) is aborted within
// tens of seconds by a p99 or a p50 rule with MaxRatio 1.5.
func TestSimulatedSlowCanary(t *testing.T) {
	t.Parallel()
	canary := healthyRelease
	canary.Median *= 2
	tests := []struct {
		rules  []LatencyRule
		share  float64
		median int // seconds, at most
		worst  int
	}{
		{[]LatencyRule{{Percentile: 99, MaxRatio: 1.5}}, 0.1, 60, 120},
		{[]LatencyRule{{Percentile: 99, MaxRatio: 1.5}}, 0.5, 40, 90},
		{[]LatencyRule{{Percentile: 50, MaxRatio: 1.5}}, 0.1, 10, 20},
		{[]LatencyRule{{Percentile: 50, MaxRatio: 1.5}}, 0.5, 5, 10},
		// Both rules: they share Alpha, and p50 catches it first.
		{defaultConfig().Latency, 0.1, 10, 20},
	}
	for _, tt := range tests {
		cfg := Config{MinRequests: 50, MaxErrorRate: -1, MaxErrorRateIncrease: -1, Latency: tt.rules}
		outs := runMany(scenario{Cfg: cfg, Stable: healthyRelease, Canary: canary, RPS: 300, CanaryShare: tt.share, Seconds: 600}, simRuns(100))
		fails := summarize(outs, firstFail)
		var rules []string
		for _, r := range tt.rules {
			rules = append(rules, fmt.Sprintf("p%g <= %gx stable", r.Percentile, r.MaxRatio))
		}
		t.Logf("2x slower, %s, 300 req/s, %g%% to the canary: %d/%d aborted, after %d s median (%d canary requests), %d-%d s; e.g. %s",
			strings.Join(rules, " and "), 100*tt.share, fails.count, fails.n, fails.median, int(float64(fails.median)*300*tt.share), fails.best, fails.worst, outs[0].Fail.Reason)
		if fails.count != fails.n || fails.median > tt.median || fails.worst > tt.worst {
			t.Errorf("want every run aborted, median <= %d s, worst <= %d s; got %+v", tt.median, tt.worst, fails)
		}
	}
}

// (c) Healthy canaries, identical to stable, evaluated every second for
// 10 minutes: the share ever aborted must stay at the Alpha level (0.1%),
// and most should pass.
func TestSimulatedFalseAbortRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		cfg            Config
		stable, canary release
		share          float64
		runs           int
		minPass        float64 // share of runs that must reach Pass
	}{
		{"identical releases", defaultConfig(), healthyRelease, healthyRelease, 0.1, 1000, 0.95},
		{"identical releases, half the traffic", defaultConfig(), healthyRelease, healthyRelease, 0.5, 200, 0.95},
		// The hardest case for the error test: a canary exactly at the
		// allowed increase (2% vs 1%) is at the edge of "within the limit".
		{"error rate at the allowed increase", errorsOnly(50, -1, 0.01), healthyRelease, release{ErrorRate: 0.02, Median: 50 * time.Millisecond, Sigma: 0.5}, 0.1, 1000, 0},
		// Likewise for latency: a canary exactly 1.5x slower.
		{"latency at the allowed ratio", Config{MinRequests: 50, MaxErrorRate: -1, MaxErrorRateIncrease: -1, Latency: defaultConfig().Latency},
			healthyRelease, release{ErrorRate: 0.01, Median: 75 * time.Millisecond, Sigma: 0.5}, 0.5, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outs := runMany(scenario{Cfg: tt.cfg, Stable: tt.stable, Canary: tt.canary, RPS: 300, CanaryShare: tt.share, Seconds: 600}, simRuns(tt.runs))
			fails, passes := summarize(outs, firstFail), summarize(outs, firstPass)
			rate := float64(fails.count) / float64(fails.n)
			t.Logf("%s, 300 req/s, %g%% to the canary, evaluated every second for 10 min: %d/%d aborted (%.2f%%); %d/%d passed (%.1f%%), first pass after %d s median, %d s worst",
				tt.name, 100*tt.share, fails.count, fails.n, 100*rate, passes.count, passes.n, 100*float64(passes.count)/float64(passes.n), passes.median, passes.worst)
			for _, o := range outs {
				if o.FirstFail >= 0 {
					t.Logf("aborted at %d s: %s", o.FirstFail, o.Fail.Reason)
				}
			}
			// Alpha is 0.1%; allow for sampling noise (with 1000 runs the
			// chance of 6 or more aborts at a true 0.1% is 0.06%).
			if rate > 0.005 {
				t.Errorf("false-abort rate %.2f%% > 0.5%%", 100*rate)
			}
			if got := float64(passes.count) / float64(passes.n); got < tt.minPass {
				t.Errorf("only %.1f%% passed, want >= %.0f%%", 100*got, 100*tt.minPass)
			}
		})
	}
}

// At a few requests per second there is not enough evidence in 10
// minutes: the judge waits rather than deciding either way.
func TestSimulatedLowTraffic(t *testing.T) {
	t.Parallel()
	for _, rps := range []float64{1, 3} {
		outs := runMany(scenario{Cfg: defaultConfig(), Stable: healthyRelease, Canary: healthyRelease, RPS: rps, CanaryShare: 0.1, Seconds: 600}, simRuns(50))
		fails, passes := summarize(outs, firstFail), summarize(outs, firstPass)
		t.Logf("%g req/s, 10%% to the canary, 10 min: %d/%d aborted, %d/%d passed", rps, fails.count, fails.n, passes.count, passes.n)
		if fails.count > 0 || passes.count > 0 {
			t.Errorf("want every run still waiting; %d aborted, %d passed", fails.count, passes.count)
		}
	}
}

// The simulator's latencies follow the lognormal it was given.
func TestSimulatorLatency(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	a := newArm(healthyRelease, 1)
	a.serve(rng, 0, 200000)
	p50, _ := a.total.Latency.percentile(50)
	p99, _ := a.total.Latency.percentile(99)
	// median 50ms; p99 = 50ms * exp(2.326 * 0.5) = 160ms.
	if !near(p50, 0.050, 0.03) || !near(p99, 0.160, 0.05) {
		t.Errorf("p50 %v, p99 %v; want about 50ms and 160ms", p50, p99)
	}
	if got := float64(a.total.Errors) / float64(a.total.Requests); !near(got, 0.01, 0.1) {
		t.Errorf("error rate %v, want about 1%%", got)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	st, ca := newArm(healthyRelease, 60), newArm(healthyRelease, 60)
	for sec := range 120 {
		st.serve(rng, sec, 270)
		ca.serve(rng, sec, 30)
	}
	var in Input
	in.Canary, in.CanaryRecent = ca.sample()
	in.Stable, in.StableRecent = st.sample()
	cfg := defaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		_ = Evaluate(cfg, in, time.Time{})
	}
}
