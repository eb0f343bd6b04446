package analysis

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultAlpha = 0.001 // false-abort probability over a whole rollout
	DefaultBeta  = 0.05  // probability of passing a canary worse than the limits
)

// Names of the built-in checks, as they appear in CheckResult.Name (the
// latency checks append the percentile: "latency-p99",
// "latency-p99-vs-stable").
const (
	CheckMinRequests       = "min-requests"
	CheckErrorRate         = "error-rate"
	CheckErrorRateIncrease = "error-rate-increase"
	CheckLatency           = "latency"
)

// alpha is Alpha or its default when outside (0, 1).
func (c Config) alpha() float64 {
	if c.Alpha > 0 && c.Alpha < 1 {
		return c.Alpha
	}
	return DefaultAlpha
}

// beta is Beta or its default when outside (0, 1).
func (c Config) beta() float64 {
	if c.Beta > 0 && c.Beta < 1 {
		return c.Beta
	}
	return DefaultBeta
}

// Validate reports settings the checks cannot use. Evaluate does not
// refuse them (a check it cannot run waits and says why), but a caller
// should reject them before a rollout starts.
func (c Config) Validate() error {
	var errs []error
	if c.MinRequests < 0 {
		errs = append(errs, fmt.Errorf("min requests %d is negative", c.MinRequests))
	}
	if c.MaxErrorRate > 1 || math.IsNaN(c.MaxErrorRate) {
		errs = append(errs, fmt.Errorf("max error rate %v is not a share between 0 and 1 (negative disables)", c.MaxErrorRate))
	}
	if c.MaxErrorRateIncrease > 1 || math.IsNaN(c.MaxErrorRateIncrease) {
		errs = append(errs, fmt.Errorf("max error rate increase %v is not a share between 0 and 1 (negative disables)", c.MaxErrorRateIncrease))
	}
	if c.Alpha < 0 || c.Alpha >= 1 || math.IsNaN(c.Alpha) {
		errs = append(errs, fmt.Errorf("alpha %v is not in (0, 1) (0 means %v)", c.Alpha, DefaultAlpha))
	}
	if c.Beta < 0 || c.Beta >= 1 || math.IsNaN(c.Beta) {
		errs = append(errs, fmt.Errorf("beta %v is not in (0, 1) (0 means %v)", c.Beta, DefaultBeta))
	}
	for _, r := range c.Latency {
		if err := r.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validate reports a rule the latency checks cannot use.
func (r LatencyRule) validate() error {
	switch {
	case !(r.Percentile > 0 && r.Percentile < 100):
		return fmt.Errorf("latency percentile %v is not between 0 and 100 (exclusive)", r.Percentile)
	case r.Max < 0 || r.MaxRatio < 0 || math.IsNaN(r.MaxRatio) || math.IsInf(r.MaxRatio, 0):
		return fmt.Errorf("latency p%s: max and max ratio must be positive", fmtNum(r.Percentile))
	case r.Max == 0 && r.MaxRatio == 0:
		return fmt.Errorf("latency p%s: set max, max ratio or both", fmtNum(r.Percentile))
	}
	return nil
}

// Evaluate runs the built-in checks on one evaluation's data and combines
// them into a decision taken at now. It is a pure function: the sequential
// tests are computed afresh from the accumulated counters in in, so it can
// be called as often as wanted (e.g. every second) without carrying state,
// and without that frequency raising the false-abort rate above Alpha.
func Evaluate(cfg Config, in Input, now time.Time) Decision {
	return decide(now, builtinChecks(cfg, in))
}

// builtinChecks runs every enabled built-in check. The first result is
// always the min-requests check; until it passes every other check waits.
//
// The sequential checks (error-rate increase and latency) share Alpha: each
// gets Alpha divided by their number, so the chance that any of them ever
// aborts a canary within the limits stays below Alpha (Bonferroni).
func builtinChecks(cfg Config, in Input) []CheckResult {
	minimum := minRequestsCheck(cfg, in)
	checks := []CheckResult{minimum}
	seq := cfg
	seq.Alpha = cfg.alpha() / float64(max(1, cfg.sequentialChecks()))
	if cfg.MaxErrorRate >= 0 {
		checks = append(checks, errorRateCheck(cfg, in))
	}
	if cfg.MaxErrorRateIncrease >= 0 {
		checks = append(checks, errorRateIncreaseCheck(seq, in))
	}
	for _, r := range cfg.Latency {
		checks = append(checks, latencyChecks(seq, r, in)...)
	}
	if minimum.Verdict != Pass {
		for i := 1; i < len(checks); i++ {
			checks[i] = waitForMinimum(checks[i], minimum)
		}
	}
	return checks
}

// sequentialChecks counts the enabled sequential checks.
func (c Config) sequentialChecks() int {
	n := 0
	if c.MaxErrorRateIncrease >= 0 {
		n++
	}
	for _, r := range c.Latency {
		if r.validate() != nil {
			continue
		}
		if r.Max > 0 {
			n++
		}
		if r.MaxRatio > 0 {
			n++
		}
	}
	return n
}

// minRequestsCheck passes once the canary has served MinRequests requests
// since it started getting traffic.
func minRequestsCheck(cfg Config, in Input) CheckResult {
	r := CheckResult{
		Name:      CheckMinRequests,
		Value:     float64(in.Canary.Requests),
		Threshold: float64(cfg.MinRequests),
		Stable:    in.Stable.Requests,
		Canary:    in.Canary.Requests,
	}
	if in.Canary.Requests >= uint64(max(cfg.MinRequests, 0)) {
		r.Verdict = Pass
		r.Detail = fmt.Sprintf("canary served %d requests, at least the %d needed before judging", in.Canary.Requests, cfg.MinRequests)
	} else {
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("canary served %d requests; %d needed before judging", in.Canary.Requests, cfg.MinRequests)
	}
	return r
}

// waitForMinimum turns a check's verdict into Wait while the minimum
// sample is not reached, keeping its numbers for display.
func waitForMinimum(r CheckResult, minimum CheckResult) CheckResult {
	r.Verdict = Wait
	r.Detail = fmt.Sprintf("waiting for %d canary requests (have %d) before judging; so far: %s", int(minimum.Threshold), minimum.Canary, r.Detail)
	return r
}

// decide combines check results: Fail if any fails, Pass if all pass,
// else Wait. The reason lists the failing checks, or the waiting ones.
func decide(now time.Time, checks []CheckResult) Decision {
	d := Decision{At: now, Checks: checks}
	var failed, waiting []string
	for _, c := range checks {
		switch c.Verdict {
		case Fail:
			failed = append(failed, c.Name+": "+c.Detail)
		case Pass:
		default:
			waiting = append(waiting, c.Name+": "+c.Detail)
		}
	}
	switch {
	case len(failed) > 0:
		d.Verdict = Fail
		d.Reason = strings.Join(failed, "; ")
	case len(waiting) > 0:
		d.Verdict = Wait
		d.Reason = "waiting for " + strings.Join(waiting, "; ")
	default:
		d.Verdict = Pass
		d.Reason = fmt.Sprintf("all %d checks pass", len(checks))
	}
	return d
}

// fmtNum formats a number for people: 3 significant digits below 100,
// no decimals above.
func fmtNum(x float64) string {
	switch ax := math.Abs(x); {
	case ax >= 100 || ax == 0 || math.IsNaN(x):
		return strconv.FormatFloat(x, 'f', 0, 64)
	case ax >= 10:
		return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64)
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}

// fmtPct formats a share (0-1) as a percentage: 0.482 -> "48.2%".
func fmtPct(x float64) string {
	return fmtNum(100*x) + "%"
}

// fmtRate formats k of n as a percentage with its counts: "48.2% (241/500)".
func fmtRate(k, n uint64) string {
	if n == 0 {
		return "n/a (0/0)"
	}
	return fmt.Sprintf("%s (%d/%d)", fmtPct(float64(k)/float64(n)), k, n)
}

// fmtSeconds formats a latency in seconds with 3 significant digits.
func fmtSeconds(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "∞"
	case s < 0.001:
		return fmtNum(s*1e6) + "µs"
	case s < 1:
		return fmtNum(s*1e3) + "ms"
	default:
		return fmtNum(s) + "s"
	}
}
