package analysis

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func TestZScore(t *testing.T) {
	for _, tt := range []struct{ a, z float64 }{
		{0.5, 0}, {0.05, 1.6448536269514715}, {0.001, 3.090232306167813}, {0.025, 1.959963984540054},
	} {
		if got := zScore(tt.a); !near(got, tt.z, 1e-9) {
			t.Errorf("zScore(%v) = %v, want %v", tt.a, got, tt.z)
		}
	}
}

// Values from the table in evaluate_test.go, and edge cases.
func TestWilson(t *testing.T) {
	za, zb := zScore(0.001), zScore(0.05)
	for _, tt := range []struct {
		k, n, z, lo, hi float64
	}{
		{1, 100, zb, -1, 0.04358},
		{2, 100, zb, -1, 0.05865},
		{11, 100, za, 0.04556, -1},
		{12, 100, za, 0.05162, -1},
		{0, 100, zb, 0, 2.7055 / 102.7055}, // z²/(n+z²)
		{100, 100, za, 100 / (100 + za*za), 1},
		{0, 0, za, 0, 1},
	} {
		lo, hi := wilson(tt.k, tt.n, tt.z)
		if tt.lo >= 0 && !near(lo, tt.lo, 1e-3) {
			t.Errorf("wilson(%v, %v) lower = %v, want %v", tt.k, tt.n, lo, tt.lo)
		}
		if tt.hi >= 0 && !near(hi, tt.hi, 1e-3) {
			t.Errorf("wilson(%v, %v) upper = %v, want %v", tt.k, tt.n, hi, tt.hi)
		}
	}
}

func TestDigamma(t *testing.T) {
	// ψ(1) = -γ, ψ(1/2) = -γ - 2 log 2, and the derivative of lgamma.
	const gamma = 0.5772156649015329
	if got := digamma(1); !near(got, -gamma, 1e-9) {
		t.Errorf("digamma(1) = %v", got)
	}
	if got := digamma(0.5); !near(got, -gamma-2*math.Ln2, 1e-9) {
		t.Errorf("digamma(0.5) = %v", got)
	}
	for _, x := range []float64{0.01, 0.7, 3, 9.5, 120, 1e6} {
		h := 1e-5 * x
		lp, _ := math.Lgamma(x + h)
		lm, _ := math.Lgamma(x - h)
		if got, want := digamma(x), (lp-lm)/(2*h); !near(got, want, 1e-5) {
			t.Errorf("digamma(%v) = %v, numerical derivative %v", x, got, want)
		}
	}
}

// boundaryLogLik against a brute-force search (values computed with a grid
// of 200001 points in Python).
func TestBoundaryLogLik(t *testing.T) {
	for _, tt := range []struct {
		ec, nc, es, ns, d, want float64
	}{
		{241, 500, 2, 700, 0.01, -596.0130524027975},
		{3, 50, 0, 450, 0.01, -14.287876343078842},
		{0, 100, 0, 100, 0.01, -1.005033585350145}, // 100*log(0.99)
		{10, 1000, 5, 1000, 0.01, -88.23817691247324},
		{0, 10, 10, 10, 0.01, -14.063950328268934},
		{10, 10, 0, 10, 0.01, -13.663936994135543},
		{5, 100, 1, 900, 0, -36.67793875013414}, // pooled: 6/1000
	} {
		if got := boundaryLogLik(tt.ec, tt.nc, tt.es, tt.ns, tt.d); !near(got, tt.want, 1e-7) {
			t.Errorf("boundaryLogLik(%v) = %v, want %v", tt, got, tt.want)
		}
	}
}

func TestTwoRateEvidenceEdges(t *testing.T) {
	for _, tt := range []struct {
		ec, nc, es, ns, d float64
		above             bool
	}{
		{0, 1, 0, 1, 0.01, false},
		{0, 1e6, 0, 1e6, 0.01, false},
		{1, 1, 0, 1, 0.01, true},
		{1, 1, 1, 1, 0.01, false},
		{0, 1, 1, 1, 0, false},
		{1e6, 1e6, 0, 1e6, 0.01, true},
		{0, 1e6, 1e6, 1e6, 0.01, false},
		{5, 10, 5, 10, 0, false},
	} {
		logE, above := twoRateEvidence(tt.ec, tt.nc, tt.es, tt.ns, tt.d)
		if math.IsNaN(logE) || math.IsInf(logE, -1) {
			t.Errorf("twoRateEvidence(%v) = %v", tt, logE)
		}
		if above != tt.above {
			t.Errorf("twoRateEvidence(%v) above = %v", tt, above)
		}
	}
}

// The e-values are <= 1 when the estimate is inside the null set.
func TestEvidenceInsideNull(t *testing.T) {
	pr := centredPrior(0.01)
	for _, n := range []float64{1, 10, 100, 1e4, 1e6} {
		for _, share := range []float64{0, 0.001, 0.01, 0.05, 0.5, 1} {
			k := share * n
			if share <= 0.01 {
				if e := logEvidenceAbove(k, n, 0.01, pr); e > 1e-9 {
					t.Errorf("evidence above 1%% for %v/%v = %v > 0", k, n, e)
				}
			}
			if share >= 0.01 {
				if e := logEvidenceBelow(k, n, 0.01, pr); e > 1e-9 {
					t.Errorf("evidence below 1%% for %v/%v = %v > 0", k, n, e)
				}
			}
			// Equal rates are inside "canary - stable <= 1%": no evidence
			// to fail.
			if _, above := twoRateEvidence(k, n, k, n, 0.01); above {
				t.Errorf("equal rates %v/%v reported above the limit", k, n)
			}
		}
	}
}

// The plausible bounds solve their equations.
func TestPlausibleBounds(t *testing.T) {
	for _, n := range []float64{50, 100, 2700, 27000, 1e6} {
		for _, s := range []float64{0.01, 0.05, 0.5} {
			pr := centredPrior(s)
			const level = 7.6
			lo := lowestPlausible(n, s, level, pr)
			if lo > 0 && !near(logEvidenceBelow(lo, n, s, pr), level, 1e-3) {
				t.Errorf("n %v s %v: evidence at the lower bound %v is %v", n, s, lo, logEvidenceBelow(lo, n, s, pr))
			}
			if lo == 0 && logEvidenceBelow(0, n, s, pr) >= level {
				t.Errorf("n %v s %v: lower bound 0 is rejected", n, s)
			}
			hi := highestPlausible(n, s, level, pr)
			if hi < n && !near(logEvidenceAbove(hi, n, s, pr), level, 1e-3) {
				t.Errorf("n %v s %v: evidence at the upper bound %v is %v", n, s, hi, logEvidenceAbove(hi, n, s, pr))
			}
			if !(lo <= n*s && n*s <= hi) {
				t.Errorf("n %v s %v: bounds [%v, %v] miss n*s", n, s, lo, hi)
			}
		}
	}
}

func TestRoot(t *testing.T) {
	// A convex decreasing function from the left, increasing from the right.
	f := func(x float64) float64 { return math.Exp(-x) - 0.1 }
	df := func(x float64) float64 { return -math.Exp(-x) }
	if got := newton(f, df, 0, 10); !near(got, math.Log(10), 1e-2) {
		t.Errorf("newton from the left = %v, want %v", got, math.Log(10))
	}
	g := func(x float64) float64 { return x*x - 4 }
	dg := func(x float64) float64 { return 2 * x }
	if got := newton(g, dg, 100, 0); !near(got, 2, 1e-2) {
		t.Errorf("newton from the right = %v, want 2", got)
	}
}
