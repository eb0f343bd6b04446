package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// testRoute is a compiled route with stable release 1 and canary release 2
// at weight, without backends.
func testRoute(weight int, sticky string) *route {
	header, ok := parseSticky(sticky)
	if !ok {
		panic("bad sticky " + sticky)
	}
	r := Route{Host: "a.test", App: "web", Env: "prod", Release: 1}
	return &route{
		host: "a.test", release: 1,
		stable:       &side{release: 1},
		canary:       &side{release: 2},
		weight:       weight,
		stickyHeader: header,
		cookieName:   stickyCookieName(r),
	}
}

func TestDecide(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	canary := assignment{canary: true}
	stable := assignment{}
	newCanary := assignment{canary: true, setCookie: true}
	newStable := assignment{setCookie: true}
	overCanary := assignment{canary: true, override: true}
	overStable := assignment{override: true}
	for _, tc := range []struct {
		name   string
		weight int
		sticky string
		h      http.Header
		roll   int
		want   assignment
	}{
		{"draw below weight", 30, "", hdr(), 29, newCanary},
		{"draw at weight", 30, "", hdr(), 30, newStable},
		{"weight 0", 0, "", hdr(), 0, newStable},
		{"weight 100", 100, "", hdr(), 99, newCanary},
		{"sticky canary beats draw", 30, "", hdr("Cookie", "slipway-web-prod=2"), 99, canary},
		{"sticky stable beats draw", 30, "", hdr("Cookie", "slipway-web-prod=1"), 0, stable},
		{"sticky cookie among others", 30, "", hdr("Cookie", "x=1", "Cookie", `a=b; slipway-web-prod="2"`), 99, canary},
		{"stale sticky cookie", 30, "", hdr("Cookie", "slipway-web-prod=3"), 0, newCanary},
		{"sticky cookie of another app", 30, "", hdr("Cookie", "slipway-api-prod=2"), 99, newStable},
		{"first sticky cookie wins", 30, "", hdr("Cookie", "slipway-web-prod=1; slipway-web-prod=2"), 99, stable},
		{"invalid first cookie skipped", 30, "", hdr("Cookie", `slipway-web-prod=a\b; slipway-web-prod=2`), 99, canary},
		{"override header", 0, "", hdr("X-Slipway-Release", "canary"), 0, overCanary},
		{"override header number", 100, "", hdr("X-Slipway-Release", "1"), 0, overStable},
		{"override header first value", 100, "", hdr("X-Slipway-Release", "stable", "X-Slipway-Release", "canary"), 0, overStable},
		{"override cookie", 100, "", hdr("Cookie", "slipway-release=Stable"), 0, overStable},
		{"override header wins", 0, "", hdr("X-Slipway-Release", "2", "Cookie", "slipway-release=1"), 0, overCanary},
		{"override beats sticky", 0, "", hdr("X-Slipway-Release", "2", "Cookie", "slipway-web-prod=1"), 99, overCanary},
		{"override with sign ignored", 0, "", hdr("X-Slipway-Release", "+2"), 99, newStable},
		{"override header mode", 0, "header:X-User", hdr("X-Slipway-Release", "canary"), 99, overCanary},
		{"header mode no header draws", 50, "header:X-User", hdr(), 10, canary},
		{"header mode no header draws stable", 50, "header:X-User", hdr(), 60, stable},
		{"header mode empty header draws", 50, "header:x-user", hdr("X-User", ""), 10, canary},
		{"header mode ignores cookies", 0, "header:X-User", hdr("Cookie", "slipway-web-prod=2"), 99, stable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testRoute(tc.weight, tc.sticky).decide(tc.h, tc.roll); got != tc.want {
				t.Fatalf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
	noCanary := testRoute(50, "")
	noCanary.canary = nil
	if got := noCanary.decide(hdr("X-Slipway-Release", "canary"), 0); got != stable {
		t.Fatalf("no canary: %+v", got)
	}
}

func TestHeaderStickinessMovesOnlyTowardsCanary(t *testing.T) {
	r := testRoute(0, "header:X-User")
	values := []string{"", "alice", "bob", "0", "1", strings.Repeat("x", 300), "ümlaut"}
	for i := range 500 {
		values = append(values, "user-"+strings.Repeat("z", i%7)+string(rune('a'+i%26))+string(rune('0'+i%10)))
	}
	for _, v := range values {
		h := http.Header{"X-User": {v}}
		if v == "" {
			continue
		}
		wasCanary := false
		for w := 0; w <= 100; w++ {
			r.weight = w
			a := r.decide(h, 99)
			if wasCanary && !a.canary {
				t.Fatalf("%q went back to stable at weight %d", v, w)
			}
			wasCanary = a.canary
			if a.canary != (r.decide(h, 0).canary) {
				t.Fatalf("%q: the random draw changed a header-sticky decision", v)
			}
		}
		if !wasCanary {
			t.Fatalf("%q is not on the canary at weight 100", v)
		}
	}
}

func TestParseRelease(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "1": 1, "0042": 42, "123456789012345678": 123456789012345678} {
		if got, ok := parseRelease(in); !ok || got != want {
			t.Errorf("parseRelease(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.0", " 1", "1234567890123456789", "x", "0x10"} {
		if got, ok := parseRelease(in); ok {
			t.Errorf("parseRelease(%q) = %d, want an error", in, got)
		}
	}
}

// FuzzCookieValue checks the allocation-free cookie scanner against
// net/http's parser.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{
		"slipway-release=canary", `a=b; slipway-release="2" ; c=d`, "slipway-release", "slipway-release=;x=1",
		" slipway-release = 3 ", "slipway-release=a\\b; slipway-release=ok", `slipway-release="`, "=;;=",
	} {
		f.Add(s, "slipway-release")
	}
	f.Add("slipway-web-prod=12; slipway-release=stable", "slipway-web-prod")
	f.Fuzz(func(t *testing.T, line, name string) {
		if !validHeaderName(name) || strings.Count(line, ";") > 1000 {
			return // not a cookie name; or past net/http's cookie count limit
		}
		got, ok := cookieValue([]string{line}, name)
		req := &http.Request{Header: http.Header{"Cookie": {line}}}
		c, err := req.Cookie(name)
		if (err == nil) != ok {
			t.Fatalf("cookieValue(%q, %q) found=%v, net/http err=%v", line, name, ok, err)
		}
		if ok && got != c.Value {
			t.Fatalf("cookieValue(%q, %q) = %q, net/http %q", line, name, got, c.Value)
		}
	})
}

// FuzzDecide runs the routing rules on arbitrary headers: they never
// panic, an override that parses always wins, and header stickiness does
// not depend on the draw.
func FuzzDecide(f *testing.F) {
	f.Add("canary", "slipway-release=stable", "u1", 50, 3, true)
	f.Add("2", "slipway-web-prod=1", "", 0, 99, false)
	f.Add(" STABLE\t", `slipway-web-prod="2"`, "x", 100, 0, false)
	f.Add("999999999999999999999", "slipway-release=-0", "y", 7, 6, true)
	f.Fuzz(func(t *testing.T, override, cookie, user string, weight, roll int, headerMode bool) {
		weight = min(max(weight, 0), 100)
		roll = min(max(roll, 0), 99)
		sticky := ""
		if headerMode {
			sticky = "header:X-User"
		}
		r := testRoute(weight, sticky)
		h := http.Header{}
		if override != "" {
			h.Set("X-Slipway-Release", override)
		}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		if user != "" {
			h.Set("X-User", user)
		}
		a := r.decide(h, roll)
		if canary, ok := r.parseOverride(override); ok && override != "" {
			if !a.override || a.canary != canary {
				t.Fatalf("override %q parsed as canary=%v but decide = %+v", override, canary, a)
			}
		}
		if a.override && a.setCookie {
			t.Fatalf("an override set a sticky cookie: %+v", a)
		}
		if headerMode {
			if a.setCookie {
				t.Fatalf("header stickiness set a cookie: %+v", a)
			}
			if user != "" && !a.override {
				if again := r.decide(h, 99-roll); again != a {
					t.Fatalf("user %q: %+v with roll %d, %+v with %d", user, a, roll, again, 99-roll)
				}
			}
		}
		if weight == 0 && !a.override && a.canary && !headerMode {
			// Only a sticky cookie may keep a client on a weight-0 canary.
			v, _ := cookieValue([]string{cookie}, r.cookieName)
			if n, ok := parseRelease(v); !ok || n != canaryRel {
				t.Fatalf("weight 0 sent a client without a canary cookie to the canary: %+v", a)
			}
		}
	})
}
