package analysis

import (
	"errors"
	"strings"
	"testing"
)

func TestHistogramCheck(t *testing.T) {
	tests := []struct {
		h    Histogram
		want string // "" for valid
	}{
		{hist([]float64{0.1, 0.2}, 1, 2, 3), ""},
		{hist([]float64{0.1, 0.2}, 0, 0, 0), "no latency observations"},
		{Histogram{}, "no latency observations"},
		{hist([]float64{0.1, 0.2}, 1, 2), "2 counts for 2 bounds, want 3"},
		{hist([]float64{0.2, 0.1}, 1, 2, 3), "increasing at index 1"},
		{hist([]float64{0.1, 0.1}, 1, 2, 3), "increasing at index 1"},
		{hist([]float64{-1, 0.1}, 1, 2, 3), "at index 0"},
	}
	for _, tt := range tests {
		err := tt.h.check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("check(%+v) = %v", tt.h, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("check(%+v) = %v, want %q", tt.h, err, tt.want)
		}
	}
	if err := (Histogram{}).check(); !errors.Is(err, errEmptyHistogram) {
		t.Errorf("empty histogram: %v", err)
	}
}

func TestHistogramPercentile(t *testing.T) {
	b := []float64{0.1, 0.2, 0.4}
	tests := []struct {
		h        Histogram
		p        float64
		want     float64
		overflow bool
	}{
		{hist(b, 100, 0, 0, 0), 50, 0.05, false},       // half-way into [0, 0.1]
		{hist(b, 50, 50, 0, 0), 50, 0.1, false},        // exactly the bound
		{hist(b, 50, 50, 0, 0), 75, 0.15, false},       // half-way into (0.1, 0.2]
		{hist(b, 0, 0, 10, 0), 10, 0.22, false},        // 1/10 into (0.2, 0.4]
		{hist(b, 90, 0, 0, 10), 95, 0.4, true},         // in the overflow bucket
		{hist(b, 90, 0, 0, 10), 90, 0.1, false},        // last rank before it
		{hist(b, 0, 4, 0, 0), 100, 0.2, false},         // the maximum
		{hist(b, 0, 4, 0, 0), 0, 0.1, false},           // the minimum: its bucket's lower edge
		{hist([]float64{0.5}, 3, 1), 99.99, 0.5, true}, // one bound
		{hist([]float64{0.1, 0.2}, 0, 10, 0), 50, 0.15, false},
	}
	for _, tt := range tests {
		got, overflow := tt.h.percentile(tt.p)
		if !near(got, tt.want, 1e-12) || overflow != tt.overflow {
			t.Errorf("p%v of %v = %v, %v; want %v, %v", tt.p, tt.h.Counts, got, overflow, tt.want, tt.overflow)
		}
	}
}

func TestHistogramSlowerThan(t *testing.T) {
	b := []float64{0.1, 0.2, 0.4}
	h := hist(b, 100, 50, 20, 10)
	tests := []struct {
		t, lo, hi float64
	}{
		{0, 180, 180},
		{0.05, 130, 130}, // half of the first bucket
		{0.1, 80, 80},    // a bound: no interpolation
		{0.15, 55, 55},   // half of (0.1, 0.2]
		{0.3, 20, 20},    // half of (0.2, 0.4], plus the overflow
		{0.4, 10, 10},    // the overflow exceeds the last bound
		{0.5, 0, 10},     // beyond it: unknown
		{1e300, 0, 10},   // far beyond
		{-1, 180, 180},   // below everything
	}
	for _, tt := range tests {
		lo, hi := h.slowerThan(tt.t)
		if !near(lo, tt.lo, 1e-12) || !near(hi, tt.hi, 1e-12) {
			t.Errorf("slowerThan(%v) = %v, %v; want %v, %v", tt.t, lo, hi, tt.lo, tt.hi)
		}
	}
}
