package spec

import "strings"

// closest returns the field among known that key was most likely meant to
// be, or "" when none is close enough to suggest. It catches other
// spellings of the same words (drainTimeout, drain-timeout), prefixes
// (drain), longer forms (repository for repo) and typos (replica, helth).
func closest(key string, known []string) string {
	if len(key) > 64 {
		return ""
	}
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	k := squash(key)
	for _, f := range known {
		if squash(f) == k {
			return f
		}
	}
	if len(k) >= 3 {
		for _, f := range known {
			if strings.HasPrefix(squash(f), k) {
				return f
			}
		}
	}
	for _, f := range known {
		if sf := squash(f); len(sf) >= 4 && strings.HasPrefix(k, sf) {
			return f
		}
	}
	// Allow two edits, three in longer words; keep the first of equals.
	best, bestDist := "", 3
	if len(k) > 6 {
		bestDist = 4
	}
	for _, f := range known {
		if d := editDistance(k, squash(f)); d < bestDist {
			best, bestDist = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
