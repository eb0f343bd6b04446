package proxy

import (
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stickyCookieMaxAge is how long a browser keeps the cookie that pins it
// to a side of a canary. The value names a release, so a cookie naming a
// release that has left the table is ignored anyway; the age only bounds
// how long a client keeps its side across rollouts' pauses.
const stickyCookieMaxAge = 24 * time.Hour

// Override of the sticky assignment, for testers and scripts: the header
// wins over the cookie. Values: "canary", "stable" (any case) or a
// release number of either side.
const (
	overrideHeader = "X-Slipway-Release" // canonical form
	overrideCookie = "slipway-release"
)

// route is the compiled form of a Route.
type route struct {
	host    string
	app     string
	env     string
	release int // the stable release

	stable *side
	canary *side // nil when no canary runs

	// weight is the canary's share of new clients, 0-100.
	weight int
	// stickyHeader is the canonical name of the header whose hash picks
	// the side; empty for cookie stickiness.
	stickyHeader string
	// cookieName is the per-route cookie naming the client's release.
	cookieName string
}

// side is the backends of one release within a route: the stable ones or
// the canary ones. Balancing, health and retries work within a side.
type side struct {
	release  int
	backends []*backend
	next     atomic.Uint32 // rotates the scan start
	stats    *releaseStats // nil when metrics are off
	// setCookie is the Set-Cookie value that pins a client to this side.
	setCookie string
}

// other returns the side of rt that is not s, or nil without a canary.
func (rt *route) other(s *side) *side {
	if rt.canary == nil {
		return nil
	}
	if s == rt.canary {
		return rt.stable
	}
	return rt.canary
}

// sideOf returns the side of rt serving release, or nil if neither does.
func (rt *route) sideOf(release int) *side {
	switch {
	case rt.stable.release == release:
		return rt.stable
	case rt.canary != nil && rt.canary.release == release:
		return rt.canary
	}
	return nil
}

// assignment is where the routing rules send one request.
type assignment struct {
	canary bool // the canary side, else stable
	// override is set when the client asked for the side explicitly; such
	// a request is never failed over to the other side.
	override bool
	// setCookie asks to pin a new client (cookie stickiness) to its side.
	setCookie bool
}

// decide applies the routing rules of rt to a request's headers. roll is
// a uniform random number in [0, 100) used for clients the rules leave
// unassigned. In order:
//
//  1. no canary: stable;
//  2. override header X-Slipway-Release, else cookie slipway-release:
//     "canary" or the canary's number -> canary, "stable" or stable's
//     number -> stable (values naming neither are ignored);
//  3. cookie stickiness: the route's cookie naming the stable or canary
//     release keeps the client there; otherwise roll < weight picks
//     canary, and the client is pinned with Set-Cookie;
//  4. header stickiness: a non-empty header hashes to a bucket in
//     [0, 100) (salted with the canary release) and bucket < weight
//     picks canary; without the header, roll < weight per request.
func (rt *route) decide(h http.Header, roll int) assignment {
	c := rt.canary
	if c == nil {
		return assignment{}
	}
	if v := h[overrideHeader]; len(v) > 0 {
		if canary, ok := rt.parseOverride(v[0]); ok {
			return assignment{canary: canary, override: true}
		}
	}
	cookies := h["Cookie"]
	if len(cookies) > 0 {
		if v, ok := cookieValue(cookies, overrideCookie); ok {
			if canary, ok := rt.parseOverride(v); ok {
				return assignment{canary: canary, override: true}
			}
		}
	}
	if rt.stickyHeader != "" {
		if v := h[rt.stickyHeader]; len(v) > 0 && v[0] != "" {
			return assignment{canary: stickyBucket(c.release, v[0]) < rt.weight}
		}
		return assignment{canary: roll < rt.weight}
	}
	if len(cookies) > 0 {
		if v, ok := cookieValue(cookies, rt.cookieName); ok {
			if n, ok := parseRelease(v); ok {
				switch n {
				case c.release:
					return assignment{canary: true}
				case rt.stable.release:
					return assignment{}
				}
			}
		}
	}
	return assignment{canary: roll < rt.weight, setCookie: true}
}

// parseOverride reads an override value: "canary" or "stable" in any
// case, or the release number of either side.
func (rt *route) parseOverride(v string) (canary, ok bool) {
	v = textproto.TrimString(v)
	switch {
	case strings.EqualFold(v, "canary"):
		return true, true
	case strings.EqualFold(v, "stable"):
		return false, true
	}
	n, ok := parseRelease(v)
	switch {
	case !ok:
		return false, false
	case n == rt.canary.release:
		return true, true
	case n == rt.stable.release:
		return false, true
	}
	return false, false
}

// parseRelease parses a release number: 1 to 18 decimal digits, nothing
// else. It does not allocate, even on bad input.
func parseRelease(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// stickyBucket hashes a sticky header value into [0, 100): FNV-1a over the
// canary's release number and the value. Salting with the release moves
// different clients first in each rollout; within one rollout a value
// keeps its bucket, so as the weight grows clients only move from stable
// to canary.
func stickyBucket(canaryRelease int, v string) int {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for r := uint64(canaryRelease); ; r /= 10 {
		h = (h ^ (r%10 + '0')) * prime
		if r < 10 {
			break
		}
	}
	h *= prime // a zero byte between the two
	for i := 0; i < len(v); i++ {
		h = (h ^ uint64(v[i])) * prime
	}
	return int(h % 100)
}

// cookieValue returns the value of the first valid cookie called name in
// the Cookie header lines, as (*http.Request).Cookie would, without
// allocating: pairs are split on ';', trimmed, a value in double quotes
// is unquoted, and a value with bytes not allowed in cookies is skipped.
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, _ := strings.Cut(part, "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// stickyCookieName is the cookie that pins a client of route r:
// slipway-APP-ENV, or slipway-HOST for a route without labels, with bytes
// not allowed in a cookie name replaced by '_'.
func stickyCookieName(r Route) string {
	name := "slipway-" + r.App + "-" + r.Env
	if r.App == "" && r.Env == "" {
		name = "slipway-" + normalizeHost(r.Host)
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// setCookieValue is the Set-Cookie header value pinning a client to
// release under cookie name.
func setCookieValue(name string, release int) string {
	return (&http.Cookie{
		Name:     name,
		Value:    strconv.Itoa(release),
		Path:     "/",
		MaxAge:   int(stickyCookieMaxAge / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}).String()
}

// parseSticky splits Route.Sticky into the header name for header
// stickiness (canonical), or "" for cookie stickiness.
func parseSticky(s string) (header string, ok bool) {
	switch {
	case s == "" || s == "cookie":
		return "", true
	case strings.HasPrefix(s, "header:"):
		name := strings.TrimPrefix(s, "header:")
		if !validHeaderName(name) {
			return "", false
		}
		return textproto.CanonicalMIMEHeaderKey(name), true
	}
	return "", false
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// pick chooses the backend for the next attempt, skipping those already
// tried, or returns nil when none is left.
//
// Balancing is least-in-flight with round-robin tie-breaking: the scan
// starts one further along each time and keeps the first backend with the
// fewest requests in flight. When replicas are equally fast and idle this
// is plain round robin; when one is slow (a cold start, a GC pause, a
// long-polling client) it stops piling requests onto it, which round robin
// would not. The scan is O(replicas), which is a handful.
//
// Only the best tier is used: healthy backends, else those failing health
// checks (fail open rather than 503 a whole side), else recently ejected
// ones (they may be back).
func (s *side) pick(now int64, tried []*backend) *backend {
	n := len(s.backends)
	if n == 0 {
		return nil
	}
	start := int(s.next.Add(1) % uint32(n))
	var best *backend
	bestTier, bestLoad := 0, int64(0)
	for i := range n {
		b := s.backends[(start+i)%n]
		if len(tried) > 0 && slices.Contains(tried, b) {
			continue
		}
		tier, load := b.tier(now), b.inflight.Load()
		if best == nil || tier < bestTier || (tier == bestTier && load < bestLoad) {
			best, bestTier, bestLoad = b, tier, load
		}
	}
	return best
}

// pickFor chooses a backend on the side a says, skipping tried. When that
// side has no healthy backend left and the request is not an explicit
// override, the other side is used if it has a better one: a canary (or
// stable) that is wholly down fails over instead of answering 503, while
// a side with any healthy backend keeps its clients.
func (rt *route) pickFor(a assignment, now int64, tried []*backend) (*side, *backend) {
	s := rt.stable
	if a.canary && rt.canary != nil {
		s = rt.canary
	}
	return rt.pickOn(s, a.override, now, tried)
}

// pickOn picks from side s, failing over to the other side unless pinned
// (see pickFor).
func (rt *route) pickOn(s *side, pinned bool, now int64, tried []*backend) (*side, *backend) {
	b := s.pick(now, tried)
	if pinned || (b != nil && b.tier(now) == tierHealthy) {
		return s, b
	}
	o := rt.other(s)
	if o == nil {
		return s, b
	}
	ob := o.pick(now, tried)
	if ob != nil && (b == nil || ob.tier(now) < b.tier(now)) {
		return o, ob
	}
	return s, b
}
