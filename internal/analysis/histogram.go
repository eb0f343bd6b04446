package analysis

import (
	"errors"
	"fmt"
	"math"
)

// errEmptyHistogram reports a histogram without observations.
var errEmptyHistogram = errors.New("no latency observations")

// check returns an error if h is not a usable histogram: one count per
// bound plus the overflow count, bounds finite and strictly increasing.
func (h Histogram) check() error {
	if len(h.Bounds) == 0 {
		return errEmptyHistogram
	}
	if len(h.Counts) != len(h.Bounds)+1 {
		return fmt.Errorf("latency histogram has %d counts for %d bounds, want %d", len(h.Counts), len(h.Bounds), len(h.Bounds)+1)
	}
	for i, b := range h.Bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || b < 0 || (i > 0 && b <= h.Bounds[i-1]) {
			return fmt.Errorf("latency histogram bounds are not finite, non-negative and increasing at index %d", i)
		}
	}
	if h.total() == 0 {
		return errEmptyHistogram
	}
	return nil
}

// total is the number of observations.
func (h Histogram) total() float64 {
	var t float64
	for _, c := range h.Counts {
		t += float64(c)
	}
	return t
}

// lower is the lower edge of bucket i: 0 for the first bucket.
func (h Histogram) lower(i int) float64 {
	if i == 0 {
		return 0
	}
	return h.Bounds[i-1]
}

// atRank returns the latency below which rank observations lie,
// interpolating linearly within the bucket the rank falls in (as
// Prometheus's histogram_quantile does). If the rank falls in the overflow
// bucket the latency is only known to exceed the last bound: it returns
// that bound and overflow true. h must pass check.
func (h Histogram) atRank(rank float64) (latency float64, overflow bool) {
	var cum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		next := cum + float64(c)
		if rank <= next {
			if i == len(h.Bounds) {
				return h.Bounds[len(h.Bounds)-1], true
			}
			lo, hi := h.lower(i), h.Bounds[i]
			f := math.Max(0, (rank-cum)/float64(c))
			return lo + (hi-lo)*f, false
		}
		cum = next
	}
	// rank > total: past the last observation.
	last := len(h.Counts) - 1
	for last > 0 && h.Counts[last] == 0 {
		last--
	}
	if last == len(h.Bounds) {
		return h.Bounds[len(h.Bounds)-1], true
	}
	return h.Bounds[last], false
}

// percentile returns the p-th percentile (0-100) of h; see atRank.
func (h Histogram) percentile(p float64) (latency float64, overflow bool) {
	return h.atRank(p / 100 * h.total())
}

// slowerThan returns how many observations exceed t, assuming they are
// spread evenly within the bucket t falls in. Above the last bound the
// count is unknown: lo assumes none of the overflow bucket exceeds t and
// hi that all of it does. h must pass check.
func (h Histogram) slowerThan(t float64) (lo, hi float64) {
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		n := float64(c)
		if i == len(h.Bounds) {
			last := h.Bounds[len(h.Bounds)-1]
			if t <= last {
				lo += n
			}
			hi += n
			continue
		}
		bl, bh := h.lower(i), h.Bounds[i]
		switch {
		case t >= bh:
			// entirely at or below t
		case t <= bl:
			lo += n
			hi += n
		default:
			f := n * (bh - t) / (bh - bl)
			lo += f
			hi += f
		}
	}
	return lo, hi
}
