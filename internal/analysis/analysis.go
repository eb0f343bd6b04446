// Package analysis judges a canary against the stable release: built-in
// checks on error rate and latency (a limit on the canary's current error
// rate, and sequential tests, valid however often they are evaluated, on
// everything served since the canary started: its error rate against
// stable's, its latency percentiles against absolute limits and against
// stable's), plus pluggable checks (an HTTP webhook, a Prometheus instant
// query). Decisions are values: every verdict carries the numbers,
// thresholds and sample sizes that led to it. docs/analysis.md explains
// the statistics for users; stats.go cites the methods.
package analysis

import (
	"context"
	"time"
)

// Verdict of a check or of a whole evaluation.
type Verdict string

const (
	Pass Verdict = "pass" // enough evidence that the canary is no worse
	Fail Verdict = "fail" // enough evidence that it is worse: abort
	Wait Verdict = "wait" // not enough evidence either way yet
)

// Histogram counts latencies: Counts[i] observations <= Bounds[i] seconds
// (and > Bounds[i-1]); Counts[len(Bounds)] is everything above.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
}

// Sample is what one release served over some period.
type Sample struct {
	Requests uint64    `json:"requests"`
	Errors   uint64    `json:"errors"` // 5xx and proxy errors
	Latency  Histogram `json:"latency"`
}

// Input is one evaluation's data. Total holds counters accumulated since
// the canary started getting traffic (for sequential tests, which need the
// whole history); Recent holds the last Window (for current rates).
type Input struct {
	Stable, Canary             Sample
	StableRecent, CanaryRecent Sample
	Window                     time.Duration
	StableRelease              int
	CanaryRelease              int
	// App and Env the rollout is of (for checks that look them up).
	App, Env string
}

// Config of the built-in checks.
type Config struct {
	MinRequests          int           // canary requests before any verdict
	MaxErrorRate         float64       // absolute, on Recent; < 0 disables
	MaxErrorRateIncrease float64       // canary - stable, sequential test on Total; < 0 disables
	Latency              []LatencyRule // percentiles
	// Alpha is the false-abort probability the sequential tests allow over
	// the whole rollout (default 0.001; they share it equally); Beta the
	// chance of passing a canary that is worse by the limits (default
	// 0.05). Values outside (0, 1) mean the default.
	Alpha, Beta float64
}

// LatencyRule bounds one percentile of the canary's latency.
type LatencyRule struct {
	Percentile float64       // 0-100
	Max        time.Duration // absolute limit; 0: none
	MaxRatio   float64       // canary/stable; 0: none
}

// CheckResult is one check's verdict with its evidence.
type CheckResult struct {
	Name      string  `json:"name"`
	Verdict   Verdict `json:"verdict"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Stable and Canary are the sample sizes used.
	Stable uint64 `json:"stable_requests"`
	Canary uint64 `json:"canary_requests"`
	Detail string `json:"detail"` // human-readable: what was compared and why this verdict
}

// Decision is the outcome of one evaluation: Fail if any check fails, Pass
// if every check passes, else Wait.
type Decision struct {
	At      time.Time     `json:"at"`
	Verdict Verdict       `json:"verdict"`
	Reason  string        `json:"reason"`
	Checks  []CheckResult `json:"checks"`
}

// Checker is a pluggable check (webhook, Prometheus query).
type Checker interface {
	// Check evaluates the canary; errors become a Fail or Wait result
	// (chosen by the checker and explained in Detail), never a panic.
	Check(ctx context.Context, in Input) CheckResult
}
