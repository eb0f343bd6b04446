package main

import (
	"slices"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/results"
)

// exposure is what the clients saw of one canary (one version) in a load's
// events, on the load's clock. Times that did not happen are
// results.Never.
type exposure struct {
	firstSent time.Duration // the first request the canary answered was sent
	firstBad  time.Duration // its first 5xx was complete
	last      time.Duration // its last answer was complete: after it, all traffic is elsewhere
	requests  int           // answers from the canary
	errors    int           // of which 5xx
	// Between the canary's first request and its last answer: answers
	// from other versions that were 5xx, requests with no version in the
	// answer (the proxy's own 502/503/504, transport errors), and
	// requests the load generator sent more than loadgen.LateLimit behind
	// schedule.
	otherErrors, unattributed, late int
}

// exposureOf computes the exposure of version v (an index of a version,
// not 0) from events sorted by completion.
func exposureOf(events []loadgen.Event, v uint16) exposure {
	x := exposure{firstSent: results.Never, firstBad: results.Never, last: results.Never}
	if v == 0 {
		return x
	}
	for _, e := range events {
		if e.Version != v {
			continue
		}
		x.requests++
		if x.firstSent == results.Never || e.Sent < x.firstSent {
			x.firstSent = e.Sent
		}
		if e.Status >= 500 {
			x.errors++
			if x.firstBad == results.Never {
				x.firstBad = e.Done
			}
		}
		x.last = e.Done
	}
	if x.requests == 0 {
		return x
	}
	for _, e := range events {
		if e.Done < x.firstSent || e.Sent > x.last {
			continue
		}
		switch {
		case e.Version == 0:
			x.unattributed++
		case e.Version != v && e.Status >= 500:
			x.otherErrors++
		}
		if e.Sent-e.Due > loadgen.LateLimit {
			x.late++
		}
	}
	return x
}

// versionIndex returns the index of version name among versions, or 0
// (no version) if it never answered.
func versionIndex(versions []string, name string) uint16 {
	for i, v := range versions {
		if i > 0 && v == name {
			return uint16(i)
		}
	}
	return 0
}

// since returns b-a, or results.Never if either did not happen.
func since(a, b time.Duration) time.Duration {
	if a == results.Never || b == results.Never {
		return results.Never
	}
	return b - a
}

// latencies returns the latency (sent to answered) of every request that
// got an HTTP answer, sorted.
func latencies(events []loadgen.Event) []time.Duration {
	out := make([]time.Duration, 0, len(events))
	for _, e := range events {
		if e.Status != 0 {
			out = append(out, e.Done-e.Sent)
		}
	}
	slices.Sort(out)
	return out
}
