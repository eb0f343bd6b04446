package analysis

import (
	"math"
	"testing"
)

func TestStablePercentileRange(t *testing.T) {
	b := []float64{0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2}
	failAt, passAt := math.Log(2/0.001), math.Log(2/0.05)
	tests := []struct {
		name         string
		h            Histogram
		p            float64
		upper, lower func(float64) bool
	}{
		{
			// Nothing bounds p99 from above, but it is very likely above the
			// 7th fastest of 10: 3 of 10 above p99 would be rare.
			name:  "10 requests bound p99 only from below",
			h:     hist(b, 2, 2, 2, 2, 2, 0, 0, 0),
			p:     99,
			upper: func(v float64) bool { return math.IsInf(v, 1) },
			lower: func(v float64) bool { return v > 0.02 && v < 0.04 },
		},
		{
			name:  "1 request bounds nothing",
			h:     hist(b, 1, 0, 0, 0, 0, 0, 0, 0),
			p:     50,
			upper: func(v float64) bool { return math.IsInf(v, 1) },
			lower: func(v float64) bool { return v == 0 },
		},
		{
			name:  "a bound in the overflow bucket is unknown above, the last bound below",
			h:     hist(b, 0, 0, 0, 0, 0, 0, 0, 100000),
			p:     50,
			upper: func(v float64) bool { return math.IsInf(v, 1) },
			lower: func(v float64) bool { return v == 0.2 },
		},
		{
			name:  "100000 requests bracket p50 closely",
			h:     hist(b, 10000, 20000, 40000, 20000, 10000, 0, 0, 0), // p50 = 25ms
			p:     50,
			upper: func(v float64) bool { return v > 0.025 && v < 0.0255 },
			lower: func(v float64) bool { return v < 0.025 && v > 0.0245 },
		},
	}
	for _, tt := range tests {
		w := 1 - tt.p/100
		upper, lower := stablePercentileRange(tt.h, tt.h.total(), w, failAt, passAt, centredPrior(w))
		if !tt.upper(upper) || !tt.lower(lower) {
			t.Errorf("%s: range [%v, %v]", tt.name, lower, upper)
		}
	}
}
