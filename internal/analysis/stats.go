package analysis

import "math"

// The statistics behind the built-in checks. Everything here is a pure
// function of counts; docs/analysis.md explains it in plain words.
//
// The sequential checks use e-values (Grünwald, de Heide & Koolen, "Safe
// testing", JRSS B 2024; Ramdas, Grünwald, Vovk & Shafer, "Game-theoretic
// statistics and safe anytime-valid inference", Statistical Science 2023):
// the ratio of a mixture likelihood (a Beta prior averaged over the
// unknown rates) to the best likelihood any hypothesis of the null set
// achieves. For every rate in the null set the mixture-to-likelihood ratio
// is a nonnegative martingale with mean 1, and dividing by the best null
// likelihood only makes it smaller, so by Ville's inequality
//
//	P(the e-value ever reaches 1/α) <= α
//
// however often it is looked at. That is what lets the judge evaluate the
// same accumulated counters every second for as long as the rollout lasts
// without its false-abort rate growing. Because a mixture likelihood only
// depends on the counts (not on their order), the e-value can be computed
// afresh from the totals at each look; no state is carried between
// evaluations. This is the approach of Wasserman, Ramdas & Balakrishnan,
// "Universal inference" (PNAS 2020), with a mixture numerator, and of
// Lindon, Sanden & Shirikian, "Rapid regression detection in software
// deployments through sequential testing" (KDD 2022).

// betaPrior is a Beta(A, B) prior on a rate; logB caches log B(A, B).
type betaPrior struct{ A, B, logB float64 }

// newBetaPrior returns the Beta(a, b) prior.
func newBetaPrior(a, b float64) betaPrior {
	return betaPrior{a, b, lbeta(a, b)}
}

// errorRatePrior is the prior on error rates in the mixture likelihoods:
// Beta(1/2, 10), which behaves like the Jeffreys prior Beta(1/2, 1/2) near
// zero but expects rates of a few percent (mean 4.8%, 90% of its mass
// below 13%), where real error rates are. Any prior keeps the tests
// calibrated; this one makes them decide sooner on realistic rates (about
// a third sooner than Jeffreys for 1% vs 1%) at a small cost for
// implausible ones (a canary failing half its requests is still caught at
// once).
func errorRatePrior() betaPrior { return newBetaPrior(0.5, 10) }

// centredPrior is a Beta(1, (1-s)/s) prior: its mean is s and it puts most
// of its mass within a few multiples of s, where the alternatives of
// interest lie when the null boundary is s (e.g. 1% of requests slower
// than a p99 limit).
func centredPrior(s float64) betaPrior {
	return newBetaPrior(1, (1-s)/s)
}

// lbeta is log B(a, b).
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// xlogy is x*log(y) with 0*log(0) = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// logLik is the log-likelihood of k successes in n Bernoulli trials at
// rate p, without the binomial coefficient (it cancels in every ratio
// taken here). k may be fractional (interpolated histogram counts).
func logLik(k, n, p float64) float64 {
	return xlogy(k, p) + xlogy(n-k, 1-p)
}

// logMix is the log of the likelihood of k successes in n trials averaged
// over the prior (the Beta-binomial), without the binomial coefficient.
func logMix(k, n float64, pr betaPrior) float64 {
	return lbeta(k+pr.A, n-k+pr.B) - pr.logB
}

// logEvidenceAbove is the log e-value against "the rate is at most s"
// after k successes in n trials: large when k/n is convincingly above s,
// <= 0 when k/n <= s.
func logEvidenceAbove(k, n, s float64, pr betaPrior) float64 {
	if n <= 0 {
		return 0
	}
	return logMix(k, n, pr) - logLik(k, n, math.Min(k/n, s))
}

// logEvidenceBelow is the log e-value against "the rate is at least s":
// large when k/n is convincingly below s, <= 0 when k/n >= s.
func logEvidenceBelow(k, n, s float64, pr betaPrior) float64 {
	if n <= 0 {
		return 0
	}
	return logMix(k, n, pr) - logLik(k, n, math.Max(k/n, s))
}

// lowestPlausible returns the smallest count x in [0, n*s] of successes in
// n trials that the evidence against "the rate is at least s" does not
// reject at level e^-logLevel: if the true rate is s, the running count
// stays at or above this bound at every look with probability at least
// 1 - e^-logLevel. A time-uniform lower confidence bound on a count.
func lowestPlausible(n, s, logLevel float64, pr betaPrior) float64 {
	f := func(x float64) float64 { return logEvidenceBelow(x, n, s, pr) - logLevel }
	if f(0) < 0 {
		return 0
	}
	// On [0, n*s] the evidence is convex and decreasing in x, from
	// f(0) >= 0 to f(n*s) = -logLevel: Newton's method from 0 climbs to
	// the root without overshooting it.
	return newton(f, func(x float64) float64 { return dLogMix(x, n, pr) - math.Log(s/(1-s)) }, 0, n*s)
}

// highestPlausible is the time-uniform upper confidence bound matching
// lowestPlausible: the largest count in [n*s, n] not rejected by the
// evidence against "the rate is at most s".
func highestPlausible(n, s, logLevel float64, pr betaPrior) float64 {
	f := func(x float64) float64 { return logEvidenceAbove(x, n, s, pr) - logLevel }
	if f(n) < 0 {
		return n
	}
	// Convex and increasing on [n*s, n]: Newton from n descends to the root.
	return newton(f, func(x float64) float64 { return dLogMix(x, n, pr) - math.Log(s/(1-s)) }, n, n*s)
}

// newton finds the root of the convex monotone f between from (where
// f >= 0) and other (where f < 0), starting at from; the iterates move
// monotonically towards the root. It stops when a step is below 0.01 (a
// count; finer is pointless).
func newton(f, df func(float64) float64, from, other float64) float64 {
	x := from
	for range 100 {
		fx := f(x)
		d := df(x)
		if fx <= 0 || d == 0 || math.IsNaN(fx) || math.IsInf(d, 0) {
			break
		}
		step := fx / d
		next := x - step
		if (next-other)*(from-other) <= 0 { // went past the other end
			next = (x + other) / 2
		}
		if math.Abs(next-x) < 0.01 {
			return next
		}
		x = next
	}
	return x
}

// dLogMix is the derivative of logMix(k, n, pr) in k.
func dLogMix(k, n float64, pr betaPrior) float64 {
	return digamma(k+pr.A) - digamma(n-k+pr.B)
}

// digamma is ψ(x), the derivative of log Γ(x), for x > 0: the recurrence
// ψ(x) = ψ(x+1) - 1/x up to x >= 6, then the asymptotic series.
func digamma(x float64) float64 {
	var r float64
	for x < 6 {
		r -= 1 / x
		x++
	}
	f := 1 / (x * x)
	return r + math.Log(x) - 0.5/x - f*(1.0/12-f*(1.0/120-f*(1.0/252-f*(1.0/240-f/132))))
}

// twoRateEvidence is the log e-value comparing the canary's error rate
// pc (ec errors in nc requests) with stable's ps (es in ns) against the
// boundary pc - ps = d. It returns a value > 0 only on the side of d the
// observed difference lies on: against "pc - ps <= d" when the canary's
// observed rate exceeds stable's by more than d (evidence for Fail), and
// against "pc - ps >= d" when it exceeds it by less (evidence for Pass).
// above reports which side that is.
//
// The numerator is the likelihood averaged over independent priors on pc
// and ps (errorRatePrior); the denominator is the best likelihood in the null
// set, which (the log-likelihood being concave) lies on the boundary
// pc = ps + d unless the unconstrained estimate is in the null set, in
// which case the e-value is <= 1 anyway. Zero errors on either or both
// sides need no special case: the Beta-binomial is finite and 0*log 0 = 0.
func twoRateEvidence(ec, nc, es, ns, d float64) (logE float64, above bool) {
	above = ec/nc-es/ns > d
	num := logMix(ec, nc, errorRatePrior()) + logMix(es, ns, errorRatePrior())
	return num - boundaryLogLik(ec, nc, es, ns, d), above
}

// boundaryLogLik is the largest log-likelihood of the two samples under
// pc = ps + d (0 <= d < 1), maximised over ps in [0, 1-d]. The function of
// ps is concave, so a bisection on its derivative finds the maximum.
func boundaryLogLik(ec, nc, es, ns, d float64) float64 {
	ll := func(ps float64) float64 {
		return logLik(ec, nc, ps+d) + logLik(es, ns, ps)
	}
	deriv := func(ps float64) float64 {
		var g float64
		if ec > 0 {
			g += ec / (ps + d)
		}
		if nc-ec > 0 {
			g -= (nc - ec) / (1 - ps - d)
		}
		if es > 0 {
			g += es / ps
		}
		if ns-es > 0 {
			g -= (ns - es) / (1 - ps)
		}
		return g
	}
	lo, hi := 0.0, 1-d
	for range 100 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if deriv(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	best := ll((lo + hi) / 2)
	// The maximum may sit on an end of the interval (e.g. ps = 0 when
	// stable has no errors); the log-likelihood there may be -Inf.
	for _, ps := range [...]float64{0, 1 - d} {
		if v := ll(ps); v > best {
			best = v
		}
	}
	return best
}

// zScore is the standard normal quantile with upper tail a: P(Z > z) = a.
func zScore(a float64) float64 {
	return math.Sqrt2 * math.Erfinv(1-2*a)
}

// wilson returns the Wilson score interval bounds for k successes in n
// trials at normal quantile z (each bound one-sided at the tail of z).
// Wilson, "Probable inference, the law of succession, and statistical
// inference", JASA 1927.
func wilson(k, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	z2 := z * z
	centre := (p + z2/(2*n)) / (1 + z2/n)
	half := z / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}
