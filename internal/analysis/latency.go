package analysis

import (
	"fmt"
	"math"
)

// latencyChecks runs a rule's absolute limit (Max) and its limit relative
// to stable (MaxRatio), each as its own check.
//
// A percentile limit is a statement about a share: "p99 <= L" is "at most
// 1% of requests are slower than L". So both checks count the canary's
// requests slower than the limit (from its histogram, spreading each
// bucket's requests evenly across it) and run a sequential test on that
// share against w = 1 - Percentile/100 (see logEvidenceAbove and
// logEvidenceBelow): Fail when the e-value against "share <= w" reaches
// 1/Alpha, Pass when the one against "share >= w" reaches 1/Beta. This
// is the sign test on quantiles of Howard & Ramdas, "Sequential estimation
// of quantiles with applications to A/B-testing and best-arm
// identification" (Bernoulli 2022), which needs no assumption on the
// shape of the latency distribution.
func latencyChecks(cfg Config, rule LatencyRule, in Input) []CheckResult {
	if err := rule.validate(); err != nil {
		// A rule the checks cannot use waits and says why, rather than
		// being silently ignored; Config.Validate reports it up front.
		return []CheckResult{{
			Name:    fmt.Sprintf("%s-p%s", CheckLatency, fmtNum(rule.Percentile)),
			Verdict: Wait,
			Detail:  err.Error(),
		}}
	}
	var out []CheckResult
	if rule.Max > 0 {
		out = append(out, latencyMaxCheck(cfg, rule, in))
	}
	if rule.MaxRatio > 0 {
		out = append(out, latencyRatioCheck(cfg, rule, in))
	}
	return out
}

// latencyMaxCheck bounds the canary's percentile by rule.Max.
func latencyMaxCheck(cfg Config, rule LatencyRule, in Input) CheckResult {
	p := rule.Percentile
	limit := rule.Max.Seconds()
	h := in.Canary.Latency
	r := CheckResult{
		Name:      fmt.Sprintf("%s-p%s", CheckLatency, fmtNum(p)),
		Threshold: limit,
	}
	if err := h.check(); err != nil {
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("p%s latency: canary %v", fmtNum(p), err)
		return r
	}
	n := h.total()
	r.Canary = uint64(n)
	v, overflow := h.percentile(p)
	r.Value = v
	w := 1 - p/100
	slowLo, slowHi := h.slowerThan(limit)
	what := fmt.Sprintf("p%s latency %s, limit %s: %s of %d canary requests slower than %s (at most %s allowed)",
		fmtNum(p), fmtLatency(v, overflow), fmtSeconds(limit), fmtPct(slowLo/n), uint64(n), fmtSeconds(limit), fmtPct(w))
	failAt, passAt := math.Log(1/cfg.alpha()), math.Log(1/cfg.beta())
	above := logEvidenceAbove(slowLo, n, w, centredPrior(w))
	below := logEvidenceBelow(slowHi, n, w, centredPrior(w))
	r.Verdict, r.Detail = shareVerdict(what, above, below, failAt, passAt)
	return r
}

// latencyRatioCheck bounds the canary's percentile by rule.MaxRatio times
// stable's. Stable's percentile q is itself estimated, so the check uses a
// bound on it that holds at every look: the largest value consistent with
// stable's histogram (at level Alpha/2) when deciding to fail, the
// smallest (at Beta/2) when deciding to pass; the test on the canary's
// share slower than ratio × that bound gets the other half of the level.
// If q is within its bound, the canary's count slower than ratio × bound is
// at most its count slower than ratio × q, so the two halves add up to the
// overall Alpha (or Beta).
func latencyRatioCheck(cfg Config, rule LatencyRule, in Input) CheckResult {
	p := rule.Percentile
	hc, hs := in.Canary.Latency, in.Stable.Latency
	r := CheckResult{
		Name: fmt.Sprintf("%s-p%s-vs-stable", CheckLatency, fmtNum(p)),
	}
	if err := hc.check(); err != nil {
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("p%s latency vs stable: canary %v", fmtNum(p), err)
		return r
	}
	if err := hs.check(); err != nil {
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("p%s latency vs stable: stable %v", fmtNum(p), err)
		return r
	}
	nc, ns := hc.total(), hs.total()
	r.Canary, r.Stable = uint64(nc), uint64(ns)
	w := 1 - p/100
	pr := centredPrior(w)
	vc, overflowC := hc.percentile(p)
	vs, overflowS := hs.percentile(p)
	r.Value = vc
	r.Threshold = rule.MaxRatio * vs

	// Stable's percentile is at most upper and at least lower, at every
	// look, except with probability Alpha/2 and Beta/2.
	failAt, passAt := math.Log(2/cfg.alpha()), math.Log(2/cfg.beta())
	upper, lower := stablePercentileRange(hs, ns, w, failAt, passAt, pr)

	slowFail, _ := hc.slowerThan(rule.MaxRatio * upper)
	_, slowPass := hc.slowerThan(rule.MaxRatio * lower)
	slowAtEstimate, _ := hc.slowerThan(r.Threshold)
	what := fmt.Sprintf("p%s latency %s vs stable %s (ratio %s, limit %sx = %s): %s of %d canary requests slower than %s (at most %s allowed), stable p%s between %s and %s",
		fmtNum(p), fmtLatency(vc, overflowC), fmtLatency(vs, overflowS), fmtRatio(vc, vs), fmtNum(rule.MaxRatio), fmtSeconds(r.Threshold),
		fmtPct(slowAtEstimate/nc), uint64(nc), fmtSeconds(r.Threshold), fmtPct(w), fmtNum(p), fmtSeconds(lower), fmtSeconds(upper))
	above := logEvidenceAbove(slowFail, nc, w, pr)
	below := logEvidenceBelow(slowPass, nc, w, pr)
	r.Verdict, r.Detail = shareVerdict(what, above, below, failAt, passAt)
	return r
}

// stablePercentileRange bounds stable's true percentile q (the one with a
// share w of requests above it) at every look. M, the number of stable's
// requests at or below q, is Binomial(n, 1-w); the counts of requests above
// q not rejected at levels e^-failAt and e^-passAt give M <= mHi and
// M >= mLo. If q were above the (mHi+1)-th fastest request, M would exceed
// mHi; if below the mLo-th, M would fall short of mLo (Howard & Ramdas
// 2022, section 3). So q lies between those two order statistics, read
// from the histogram: upper is +Inf when there are too few requests (or
// the bound falls in the overflow bucket), lower is 0.
func stablePercentileRange(h Histogram, n, w, failAt, passAt float64, pr betaPrior) (upper, lower float64) {
	mHi := n - lowestPlausible(n, w, failAt, pr)
	upper = math.Inf(1)
	if mHi < n {
		if v, overflow := h.atRank(mHi + 1); !overflow {
			upper = v
		}
	}
	if mLo := n - highestPlausible(n, w, passAt, pr); mLo > 0 {
		lower, _ = h.atRank(mLo)
	}
	return upper, lower
}

// shareVerdict turns the two e-values of a share test into a verdict.
func shareVerdict(what string, above, below, failAt, passAt float64) (Verdict, string) {
	switch {
	case above >= failAt:
		return Fail, fmt.Sprintf("%s: too many slow requests (log e-value %s >= %s)", what, fmtNum(above), fmtNum(failAt))
	case below >= passAt:
		return Pass, fmt.Sprintf("%s: within the limit (log e-value %s >= %s)", what, fmtNum(below), fmtNum(passAt))
	case above > 0:
		return Wait, fmt.Sprintf("%s: may be over the limit, not yet clear (log e-value %s, fails at %s)", what, fmtNum(above), fmtNum(failAt))
	default:
		return Wait, fmt.Sprintf("%s: may be within the limit, not yet clear (log e-value %s, passes at %s)", what, fmtNum(max(below, 0)), fmtNum(passAt))
	}
}

// fmtLatency formats a percentile read from a histogram; one in the
// overflow bucket is only known to exceed the last bound.
func fmtLatency(s float64, overflow bool) string {
	if overflow {
		return "> " + fmtSeconds(s)
	}
	return fmtSeconds(s)
}

// fmtRatio formats a/b, "n/a" when b is 0.
func fmtRatio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmtNum(a / b)
}
