package proxy

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Releases of the canary tests: stable is 1, canary 2.
const (
	stableRel = 1
	canaryRel = 2
)

// canaryRoute routes host to stable (release 1) with a canary (release 2)
// taking weight per cent.
func canaryRoute(host string, stable, canary []*testBackend, weight int) Route {
	r := Route{Host: host, App: "web", Env: "production", Release: stableRel}
	for _, b := range stable {
		r.Backends = append(r.Backends, b.backend(stableRel))
	}
	c := &Canary{Release: canaryRel, Weight: weight}
	for _, b := range canary {
		c.Backends = append(c.Backends, b.backend(canaryRel))
	}
	r.Canary = c
	return r
}

// answer is what one request through the proxy got.
type answer struct {
	code      int
	body      string // the backend's name
	setCookie *http.Cookie
}

// send sends GET / with Host host and the given headers ("Cookie" among
// them) through the proxy.
func send(t *testing.T, c *http.Client, proxyURL, host string, hdr ...string) answer {
	t.Helper()
	a, err := trySend(c, proxyURL, host, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func trySend(c *http.Client, proxyURL, host string, hdr ...string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return answer{}, err
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{code: res.StatusCode, body: string(body)}
	if cs := res.Cookies(); len(cs) > 0 {
		a.setCookie = cs[0]
	}
	return a, nil
}

// sideOfBody names the side a test backend belongs to by its name.
func sideOfBody(body string) string {
	switch {
	case strings.HasPrefix(body, "stable"):
		return "stable"
	case strings.HasPrefix(body, "canary"):
		return "canary"
	}
	return "?" + body
}

func newSides(t *testing.T) (stable, canary []*testBackend) {
	stable = []*testBackend{newTestBackend(t, "stable-a"), newTestBackend(t, "stable-b")}
	canary = []*testBackend{newTestBackend(t, "canary-a"), newTestBackend(t, "canary-b")}
	return stable, canary
}

// TestCanarySplitRatio sends requests without cookies: each is a new
// client, assigned by a draw against the weight and told so by a
// Set-Cookie naming the release it was assigned.
func TestCanarySplitRatio(t *testing.T) {
	stable, canary := newSides(t)
	p, srv := newTestProxy(t, Options{})
	const n = 1000
	for i, weight := range []int{0, 5, 50, 100} {
		t.Run(fmt.Sprintf("weight=%d", weight), func(t *testing.T) {
			mustSetTable(t, p, table(uint64(i+1), canaryRoute("app.test", stable, canary, weight)))
			var toCanary atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() {
					for range n / 4 {
						a, err := trySend(srv.Client(), srv.URL, "app.test")
						if err != nil || a.code != http.StatusOK || a.setCookie == nil {
							errs <- fmt.Errorf("got %+v, %v; want 200 with a cookie", a, err)
							return
						}
						side := sideOfBody(a.body)
						want := map[string]string{"stable": "1", "canary": "2"}[side]
						if a.setCookie.Name != "slipway-web-production" || a.setCookie.Value != want {
							errs <- fmt.Errorf("answer from %s set cookie %s=%s, want slipway-web-production=%s",
								a.body, a.setCookie.Name, a.setCookie.Value, want)
							return
						}
						if side == "canary" {
							toCanary.Add(1)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got := int(toCanary.Load())
			// Binomial: allow 5 standard deviations (a false failure
			// about once in 3.5 million runs).
			pr := float64(weight) / 100
			slack := int(math.Ceil(5 * math.Sqrt(n*pr*(1-pr))))
			if want := n * weight / 100; got < want-slack || got > want+slack {
				t.Fatalf("%d of %d requests went to the canary, want %d ± %d", got, n, want, slack)
			}
			t.Logf("weight %d: %d of %d to the canary", weight, got, n)
		})
	}
}

func TestStickyCookie(t *testing.T) {
	stable, canary := newSides(t)
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, canaryRoute("app.test", stable, canary, 50)))
	c := srv.Client()

	type client struct {
		cookie string // Cookie header
		side   string
	}
	var clients []client
	for len(clients) < 20 {
		a := send(t, c, srv.URL, "app.test")
		ck := a.setCookie
		if ck == nil {
			t.Fatal("a new client got no cookie")
		}
		if ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge <= 0 {
			t.Fatalf("cookie %+v, want Path=/, HttpOnly, SameSite=Lax and a Max-Age", ck)
		}
		clients = append(clients, client{cookie: ck.Name + "=" + ck.Value, side: sideOfBody(a.body)})
	}
	sides := map[string]int{}
	for _, cl := range clients {
		sides[cl.side]++
	}
	if sides["stable"] == 0 || sides["canary"] == 0 {
		t.Fatalf("20 new clients at weight 50 all went one way: %v", sides)
	}

	check := func(phase string, requests int) {
		t.Helper()
		for i, cl := range clients {
			for range requests {
				// Other cookies of the app travel along.
				a := send(t, c, srv.URL, "app.test", "Cookie", "session=abc; "+cl.cookie+"; theme=dark")
				if got := sideOfBody(a.body); got != cl.side {
					t.Fatalf("%s: client %d pinned to %s got %s", phase, i, cl.side, a.body)
				}
				if a.setCookie != nil {
					t.Fatalf("%s: a pinned client was sent a new cookie %v", phase, a.setCookie)
				}
			}
		}
	}
	check("weight 50", 100)

	// The weight grows; pinned clients stay where they are, even the
	// ones on stable.
	mustSetTable(t, p, table(2, canaryRoute("app.test", stable, canary, 90)))
	check("weight 90", 10)
	// Weight 0 keeps clients pinned to the canary there: the cookie names
	// a release that is still the canary.
	mustSetTable(t, p, table(3, canaryRoute("app.test", stable, canary, 0)))
	check("weight 0", 5)

	// A cookie naming a release the table no longer has is ignored: the
	// client is assigned anew and gets a new cookie.
	for _, stale := range []string{"slipway-web-production=7", "slipway-web-production=", "slipway-web-production=canary"} {
		a := send(t, c, srv.URL, "app.test", "Cookie", stale)
		if a.setCookie == nil || a.setCookie.Value != "1" || sideOfBody(a.body) != "stable" {
			t.Fatalf("cookie %q at weight 0: %+v, want stable and a new cookie naming release 1", stale, a)
		}
	}

	// Without a canary, cookies are neither read nor set.
	r := routeTo("app.test", stable...)
	mustSetTable(t, p, table(4, r))
	for _, cl := range clients {
		a := send(t, c, srv.URL, "app.test", "Cookie", cl.cookie)
		if sideOfBody(a.body) != "stable" || a.setCookie != nil {
			t.Fatalf("no canary: %+v", a)
		}
	}
}

func TestStickyHeader(t *testing.T) {
	stable, canary := newSides(t)
	p, srv := newTestProxy(t, Options{})
	route := func(weight int) Route {
		r := canaryRoute("app.test", stable, canary, weight)
		r.Sticky = "header:x-user-id"
		return r
	}
	mustSetTable(t, p, table(1, route(30)))
	c := srv.Client()

	const users = 200
	sideAt := func() []string {
		out := make([]string, users)
		for u := range users {
			a := send(t, c, srv.URL, "app.test", "X-User-ID", fmt.Sprint("user-", u))
			if a.setCookie != nil {
				t.Fatalf("header stickiness set a cookie: %v", a.setCookie)
			}
			out[u] = sideOfBody(a.body)
			// The same as the bucket rule says.
			want := "stable"
			if stickyBucket(canaryRel, fmt.Sprint("user-", u)) < p.snap.Load().routes["app.test"].weight {
				want = "canary"
			}
			if out[u] != want {
				t.Fatalf("user %d went to %s, bucket rule says %s", u, out[u], want)
			}
		}
		return out
	}
	at30 := sideAt()
	if again := sideAt(); fmt.Sprint(again) != fmt.Sprint(at30) {
		t.Fatal("the same header values went to different sides at the same weight")
	}
	var n30 int
	for _, s := range at30 {
		if s == "canary" {
			n30++
		}
	}
	// Hash buckets are uniform enough: 30% of 200 ± 5 sd (6.5).
	if n30 < 60-33 || n30 > 60+33 {
		t.Fatalf("%d of %d users on the canary at weight 30", n30, users)
	}

	mustSetTable(t, p, table(2, route(60)))
	at60 := sideAt()
	var n60 int
	for u := range users {
		if at30[u] == "canary" && at60[u] != "canary" {
			t.Fatalf("user %d moved from canary back to stable as the weight grew", u)
		}
		if at60[u] == "canary" {
			n60++
		}
	}
	if n60 <= n30 {
		t.Fatalf("%d users on the canary at weight 60, %d at 30", n60, n30)
	}

	// Without the header each request is drawn by the weight.
	seen := map[string]int{}
	mustSetTable(t, p, table(3, route(50)))
	for range 100 {
		seen[sideOfBody(send(t, c, srv.URL, "app.test").body)]++
	}
	if seen["stable"] == 0 || seen["canary"] == 0 {
		t.Fatalf("requests without the header all went one way: %v", seen)
	}
}

func TestOverrides(t *testing.T) {
	stable, canary := newSides(t)
	p, srv := newTestProxy(t, Options{})
	c := srv.Client()
	for _, weight := range []int{0, 100} {
		mustSetTable(t, p, table(uint64(weight+1), canaryRoute("app.test", stable, canary, weight)))
		byWeight := map[int]string{0: "stable", 100: "canary"}[weight]
		for _, tc := range []struct {
			name      string
			hdr       []string
			want      string
			newClient bool // no override applies: assigned by weight, gets a cookie
		}{
			{"header canary", []string{"X-Slipway-Release", "canary"}, "canary", false},
			{"header CANARY", []string{"X-Slipway-Release", " CANARY "}, "canary", false},
			{"header stable", []string{"X-Slipway-Release", "stable"}, "stable", false},
			{"header canary number", []string{"X-Slipway-Release", "2"}, "canary", false},
			{"header stable number", []string{"X-Slipway-Release", "1"}, "stable", false},
			{"cookie canary", []string{"Cookie", "a=b; slipway-release=canary"}, "canary", false},
			{"cookie stable", []string{"Cookie", "slipway-release=stable"}, "stable", false},
			{"cookie canary number", []string{"Cookie", `slipway-release="2"`}, "canary", false},
			{"cookie stable number", []string{"Cookie", "slipway-release=1"}, "stable", false},
			{"header beats cookie", []string{"X-Slipway-Release", "stable", "Cookie", "slipway-release=canary"}, "stable", false},
			{"header beats cookie 2", []string{"X-Slipway-Release", "canary", "Cookie", "slipway-release=stable"}, "canary", false},
			{"override beats sticky cookie", []string{"X-Slipway-Release", "canary", "Cookie", "slipway-web-production=1"}, "canary", false},
			{"override cookie beats sticky cookie", []string{"Cookie", "slipway-web-production=2; slipway-release=stable"}, "stable", false},
			{"unknown release ignored", []string{"X-Slipway-Release", "7"}, byWeight, true},
			{"nonsense ignored", []string{"X-Slipway-Release", "banana", "Cookie", "slipway-release=-1"}, byWeight, true},
			{"bad header falls to cookie", []string{"X-Slipway-Release", "3", "Cookie", "slipway-release=canary"}, "canary", false},
		} {
			for range 5 {
				a := send(t, c, srv.URL, "app.test", tc.hdr...)
				if got := sideOfBody(a.body); got != tc.want {
					t.Fatalf("weight %d, %s: got %s, want %s", weight, tc.name, a.body, tc.want)
				}
				if got := a.setCookie != nil; got != tc.newClient {
					t.Fatalf("weight %d, %s: sticky cookie set: %v, want %v", weight, tc.name, a.setCookie, tc.newClient)
				}
			}
		}
	}
	// Without a canary, "canary" has nowhere to go but stable.
	mustSetTable(t, p, table(200, routeTo("app.test", stable...)))
	if a := send(t, c, srv.URL, "app.test", "X-Slipway-Release", "canary"); sideOfBody(a.body) != "stable" {
		t.Fatalf("override to a canary that is not there: %+v", a)
	}
}

// TestRetriesStayOnTheirSide: a refused connection is retried on another
// backend of the same release, never on the other side while one is left.
func TestRetriesStayOnTheirSide(t *testing.T) {
	st := newTestBackend(t, "stable-a")
	live := newTestBackend(t, "canary-live")
	p, srv := newTestProxy(t, Options{})
	r := canaryRoute("app.test", []*testBackend{st}, nil, 100)
	r.Canary.Backends = []Backend{
		{ID: "canary-dead-1", Addr: deadAddr(t), Release: canaryRel},
		{ID: "canary-dead-2", Addr: deadAddr(t), Release: canaryRel},
		live.backend(canaryRel),
	}
	mustSetTable(t, p, table(1, r))
	for i := range 20 {
		for _, hdr := range [][]string{nil, {"X-Slipway-Release", "canary"}, {"Cookie", "slipway-web-production=2"}} {
			a := send(t, srv.Client(), srv.URL, "app.test", hdr...)
			if a.code != http.StatusOK || a.body != "canary-live" {
				t.Fatalf("request %d %v: %d %q, want the live canary backend", i, hdr, a.code, a.body)
			}
		}
	}
	if n := st.hits.Load(); n != 0 {
		t.Fatalf("stable got %d requests while a canary backend was up", n)
	}
}

// TestSideFailover: a side with no usable backend hands its clients to the
// other side, except those that asked for it explicitly.
func TestSideFailover(t *testing.T) {
	st := newTestBackend(t, "stable-a")
	p, srv := newTestProxy(t, Options{})
	c := srv.Client()

	t.Run("canary refuses connections", func(t *testing.T) {
		r := canaryRoute("app.test", []*testBackend{st}, nil, 100)
		r.Canary.Backends = []Backend{{ID: "canary-dead", Addr: deadAddr(t), Release: canaryRel}}
		mustSetTable(t, p, table(1, r))
		for i := range 10 {
			// New clients, and clients pinned to the canary by cookie.
			for _, hdr := range [][]string{nil, {"Cookie", "slipway-web-production=2"}} {
				a := send(t, c, srv.URL, "app.test", hdr...)
				if a.code != http.StatusOK || a.body != "stable-a" {
					t.Fatalf("request %d %v: %d %q, want stable while the canary is down", i, hdr, a.code, a.body)
				}
				if len(hdr) > 0 && a.setCookie != nil {
					t.Fatalf("a pinned client's cookie was replaced on failover: %v", a.setCookie)
				}
			}
		}
		// An explicit override is not failed over.
		a := send(t, c, srv.URL, "app.test", "X-Slipway-Release", "canary")
		if a.code != http.StatusBadGateway {
			t.Fatalf("override to a dead canary: %d %q, want 502", a.code, a.body)
		}
	})

	t.Run("canary without backends", func(t *testing.T) {
		r := canaryRoute("app.test", []*testBackend{st}, nil, 0)
		mustSetTable(t, p, table(2, r))
		if a := send(t, c, srv.URL, "app.test", "Cookie", "slipway-web-production=2"); a.body != "stable-a" {
			t.Fatalf("client pinned to an empty canary: %d %q, want stable", a.code, a.body)
		}
		if a := send(t, c, srv.URL, "app.test", "X-Slipway-Release", "2"); a.code != http.StatusServiceUnavailable {
			t.Fatalf("override to an empty canary: %d %q, want 503", a.code, a.body)
		}
	})

	t.Run("canary failing health checks", func(t *testing.T) {
		sick := newTestBackend(t, "canary-sick")
		sick.handle(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/up" {
				http.Error(w, "down", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("canary-sick"))
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = p.Run(ctx) }()
		defer func() { cancel(); <-done }()
		r := canaryRoute("app.test", []*testBackend{st}, []*testBackend{sick}, 100)
		// The check's timeout is capped at its interval: 200ms keeps the
		// stable backend's checks passing on a loaded CI machine (at 10ms
		// one slow check took stable out of rotation and sent traffic to
		// the sick canary).
		r.Health = HealthCheck{Path: "/up", Interval: 200 * time.Millisecond, UnhealthyThreshold: 1}
		mustSetTable(t, p, table(3, r))
		waitFor(t, "canary marked unhealthy", 5*time.Second, func() bool {
			s, _ := statusOfBackend(p, "canary-sick")
			return !s.Healthy
		})
		for range 10 {
			if a := send(t, c, srv.URL, "app.test"); a.body != "stable-a" {
				t.Fatalf("got %q, want stable while every canary backend fails its checks", a.body)
			}
		}
		if a := send(t, c, srv.URL, "app.test", "X-Slipway-Release", "canary"); a.body != "canary-sick" {
			t.Fatalf("override: got %q, want the unhealthy canary (fail open within the side)", a.body)
		}
	})
}

// TestCanaryAbortUnderLoad turns a canary on and off 20 times under
// concurrent load from new clients, clients pinned to either side and
// override users: no request may fail, and once the canary is removed
// every request goes to stable. Then the canary is drained and stopped.
func TestCanaryAbortUnderLoad(t *testing.T) {
	stable, canary := newSides(t)
	p, srv := newTestProxy(t, Options{})
	plain := routeTo("app.test", stable...)
	mustSetTable(t, p, table(1, plain))

	var (
		stop     atomic.Bool
		failures atomic.Int64
		total    atomic.Int64
		seen     sync.Map
		firstErr atomic.Pointer[string]
		wg       sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)
	headers := [][]string{
		nil,
		{"Cookie", "slipway-web-production=2"},
		{"Cookie", "slipway-web-production=1"},
		{"X-Slipway-Release", "canary"},
		{"X-Slipway-Release", "stable"},
		{"Cookie", "slipway-release=2"},
	}
	for i := range 8 {
		hdr := headers[i%len(headers)]
		wg.Go(func() {
			for !stop.Load() {
				a, err := trySend(client, srv.URL, "app.test", hdr...)
				total.Add(1)
				if err != nil || a.code != http.StatusOK {
					if failures.Add(1) == 1 {
						msg := fmt.Sprintf("%v: status %d body %q err %v", hdr, a.code, a.body, err)
						firstErr.Store(&msg)
					}
					continue
				}
				seen.Store(a.body, true)
			}
		})
	}

	const swaps = 20
	for v := 2; v <= swaps+1; v++ {
		tb := table(uint64(v), plain)
		if v%2 == 0 {
			tb = table(uint64(v), canaryRoute("app.test", stable, canary, 50))
		}
		mustSetTable(t, p, tb)
		time.Sleep(5 * time.Millisecond)
		if v%2 == 1 {
			// Aborted: the very next requests go to stable, whatever they carry.
			for _, hdr := range headers {
				if a := send(t, client, srv.URL, "app.test", hdr...); sideOfBody(a.body) != "stable" {
					t.Fatalf("after abort (version %d) %v went to %s", v, hdr, a.body)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if n, err := p.Drain(ctx, []string{"canary-a", "canary-b"}); err != nil || n != 0 {
		t.Fatalf("Drain = %d, %v", n, err)
	}
	for _, b := range canary {
		b.srv.Close()
	}
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed; first: %s", n, total.Load(), *firstErr.Load())
	}
	for _, b := range append(stable, canary...) {
		if _, ok := seen.Load(b.name); !ok {
			t.Errorf("no response from %s", b.name)
		}
	}
	t.Logf("%d requests across %d canary on/off swaps, 0 failed", total.Load(), swaps)
}

func TestValidateCanary(t *testing.T) {
	ok := Backend{ID: "s1", Addr: "127.0.0.1:8080"}
	can := Backend{ID: "c1", Addr: "127.0.0.1:8081"}
	route := func(c *Canary, sticky string) Table {
		return table(1, Route{Host: "a.test", Release: 1, Backends: []Backend{ok}, Canary: c, Sticky: sticky})
	}
	for _, tc := range []struct {
		name  string
		table Table
		want  string
	}{
		{"canary", route(&Canary{Release: 2, Weight: 10, Backends: []Backend{can}}, ""), ""},
		{"weight 0 without backends", route(&Canary{Release: 2}, ""), ""},
		{"weight 100", route(&Canary{Release: 2, Weight: 100, Backends: []Backend{can}}, "cookie"), ""},
		{"header sticky", route(&Canary{Release: 2, Weight: 1, Backends: []Backend{can}}, "header:X-User"), ""},
		{"sticky without canary", route(nil, "header:X-User"), ""},
		{"negative weight", route(&Canary{Release: 2, Weight: -1, Backends: []Backend{can}}, ""), "0 to 100"},
		{"weight above 100", route(&Canary{Release: 2, Weight: 101, Backends: []Backend{can}}, ""), "0 to 100"},
		{"weight without backends", route(&Canary{Release: 2, Weight: 5}, ""), "no backends"},
		{"same release", route(&Canary{Release: 1, Weight: 5, Backends: []Backend{can}}, ""), "another release"},
		{"backend on both sides", route(&Canary{Release: 2, Weight: 5, Backends: []Backend{ok}}, ""), "listed twice"},
		{"canary backend without addr", route(&Canary{Release: 2, Weight: 5, Backends: []Backend{{ID: "c1"}}}, ""), "addr is empty"},
		{"canary backend two addrs", table(1,
			Route{Host: "a.test", Release: 1, Backends: []Backend{ok}, Canary: &Canary{Release: 2, Weight: 5, Backends: []Backend{can}}},
			Route{Host: "b.test", Backends: []Backend{{ID: "c1", Addr: "127.0.0.1:9"}}}), "one address"},
		{"unknown sticky", route(nil, "ip"), "sticky"},
		{"empty header name", route(nil, "header:"), "sticky"},
		{"bad header name", route(nil, "header:X User"), "sticky"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.table.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCanaryTableIsCopied(t *testing.T) {
	stable, canary := newSides(t)
	p, _ := newTestProxy(t, Options{})
	tb := table(1, canaryRoute("app.test", stable, canary, 10))
	mustSetTable(t, p, tb)
	tb.Routes[0].Canary.Weight = 99
	tb.Routes[0].Canary.Backends[0].ID = "changed"
	got := p.Table()
	if c := got.Routes[0].Canary; c.Weight != 10 || c.Backends[0].ID != "canary-a" {
		t.Fatalf("the caller's changes reached the proxy: %+v", c)
	}
	got.Routes[0].Canary.Weight = 77
	if p.Table().Routes[0].Canary.Weight != 10 {
		t.Fatal("a returned table shares its canary with the proxy")
	}
	// The same table again is a no-op, with or without empty canary lists.
	tb2 := table(1, canaryRoute("app.test", stable, canary, 10))
	if err := p.SetTable(tb2); err != nil {
		t.Fatal(err)
	}
}

func TestStickyCookieName(t *testing.T) {
	for _, tc := range []struct {
		r    Route
		want string
	}{
		{Route{Host: "a.test", App: "web", Env: "production"}, "slipway-web-production"},
		{Route{Host: "A.Test", App: "", Env: ""}, "slipway-a.test"},
		{Route{Host: "a.test", App: "my app", Env: "pr;1"}, "slipway-my_app-pr_1"},
	} {
		if got := stickyCookieName(tc.r); got != tc.want {
			t.Errorf("stickyCookieName(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	v := setCookieValue("slipway-web-production", 12)
	for _, part := range []string{"slipway-web-production=12", "Path=/", "Max-Age=" + strconv.Itoa(int(stickyCookieMaxAge/time.Second)), "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(v, part) {
			t.Errorf("Set-Cookie %q lacks %q", v, part)
		}
	}
}
