package analysis

import (
	"fmt"
	"math"
)

// errorRateCheck bounds the canary's current error rate (over the Recent
// window) by MaxErrorRate. A sliding window is not an accumulating sample,
// so this is a confidence bound at each look rather than a sequential
// test: Fail when the Wilson lower bound at confidence 1-Alpha is above
// the limit (one error in three requests is not evidence), Pass when the
// upper bound at confidence 1-Beta is below it, else Wait. A limit of 0
// fails on any error and passes on none.
func errorRateCheck(cfg Config, in Input) CheckResult {
	s := in.CanaryRecent
	r := CheckResult{
		Name:      CheckErrorRate,
		Threshold: cfg.MaxErrorRate,
		Canary:    s.Requests,
	}
	if s.Requests > 0 {
		r.Value = float64(s.Errors) / float64(s.Requests)
	}
	what := fmt.Sprintf("error rate %s over the last %s, limit %s", fmtRate(s.Errors, s.Requests), in.Window, fmtPct(cfg.MaxErrorRate))
	if s.Errors > s.Requests {
		r.Verdict = Wait
		r.Detail = what + ": inconsistent counters (more errors than requests)"
		return r
	}
	if s.Requests == 0 || s.Requests < uint64(max(cfg.MinRequests, 0)) {
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: too few requests in the window to judge (%d needed)", what, max(cfg.MinRequests, 1))
		return r
	}
	k, n := float64(s.Errors), float64(s.Requests)
	lo, _ := wilson(k, n, zScore(cfg.alpha()))
	_, hi := wilson(k, n, zScore(cfg.beta()))
	switch {
	case cfg.MaxErrorRate == 0 && s.Errors == 0:
		r.Verdict = Pass
		r.Detail = what + ": no errors"
	case lo > cfg.MaxErrorRate || (cfg.MaxErrorRate == 0 && s.Errors > 0):
		r.Verdict = Fail
		r.Detail = fmt.Sprintf("%s: above the limit (at least %s with %s confidence)", what, fmtPct(lo), fmtPct(1-cfg.alpha()))
	case hi < cfg.MaxErrorRate:
		r.Verdict = Pass
		r.Detail = fmt.Sprintf("%s: below the limit (at most %s with %s confidence)", what, fmtPct(hi), fmtPct(1-cfg.beta()))
	default:
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: not yet clear (between %s and %s)", what, fmtPct(lo), fmtPct(hi))
	}
	return r
}

// errorRateIncreaseCheck compares the canary's error rate with stable's
// over everything both served since the canary started (Total), with a
// sequential test that stays calibrated however often it is evaluated:
// Fail when there is evidence that the canary's rate exceeds stable's by
// more than MaxErrorRateIncrease, Pass when there is evidence that it does
// not. See twoRateEvidence: the e-value against "canary - stable <= limit"
// must reach 1/Alpha to fail, the one against "canary - stable >= limit"
// 1/Beta to pass. So a canary within the allowed increase is aborted with
// probability at most Alpha over the whole rollout, and a canary worse
// than that passes with probability at most Beta.
func errorRateIncreaseCheck(cfg Config, in Input) CheckResult {
	c, s := in.Canary, in.Stable
	d := cfg.MaxErrorRateIncrease
	r := CheckResult{
		Name:      CheckErrorRateIncrease,
		Threshold: d,
		Stable:    s.Requests,
		Canary:    c.Requests,
	}
	pc, ps := rate(c), rate(s)
	r.Value = pc - ps
	what := fmt.Sprintf("error rate %s vs stable %s", fmtRate(c.Errors, c.Requests), fmtRate(s.Errors, s.Requests))
	limit := "allowed increase " + fmtPct(d)
	switch {
	case c.Errors > c.Requests || s.Errors > s.Requests:
		r.Verdict = Wait
		r.Detail = what + ": inconsistent counters (more errors than requests)"
		return r
	case c.Requests == 0:
		r.Verdict = Wait
		r.Detail = what + ": no canary requests yet"
		return r
	case s.Requests == 0:
		r.Verdict = Wait
		r.Detail = what + ": no stable requests to compare with"
		return r
	case d >= 1:
		r.Verdict = Pass
		r.Detail = what + ": " + limit + " cannot be exceeded"
		return r
	}
	logE, above := twoRateEvidence(float64(c.Errors), float64(c.Requests), float64(s.Errors), float64(s.Requests), d)
	failAt, passAt := math.Log(1/cfg.alpha()), math.Log(1/cfg.beta())
	switch {
	case above && logE >= failAt:
		r.Verdict = Fail
		r.Detail = fmt.Sprintf("%s: exceeds %s (log e-value %s >= %s)", what, limit, fmtNum(logE), fmtNum(failAt))
	case !above && logE >= passAt:
		r.Verdict = Pass
		r.Detail = fmt.Sprintf("%s: within %s (log e-value %s >= %s)", what, limit, fmtNum(logE), fmtNum(passAt))
	case above:
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: may exceed %s, not yet clear (log e-value %s, fails at %s)", what, limit, fmtNum(logE), fmtNum(failAt))
	default:
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: may be within %s, not yet clear (log e-value %s, passes at %s)", what, limit, fmtNum(logE), fmtNum(passAt))
	}
	return r
}

// rate is the sample's error rate, 0 without requests.
func rate(s Sample) float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}
