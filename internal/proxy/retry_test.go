package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRefusedConnectionIsEjectedAndRetried(t *testing.T) {
	live := newTestBackend(t, "live")
	live.handle(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "live:"+*live.lastBody.Load())
	})
	p, srv := newTestProxy(t, Options{})
	dead := deadAddr(t)
	mustSetTable(t, p, table(1, Route{Host: "app.test", Backends: []Backend{
		{ID: "dead", Addr: dead}, {ID: "live", Addr: live.addr()},
	}}))

	before := time.Now()
	for i := range 20 {
		method, body := http.MethodGet, ""
		if i%2 == 1 {
			method, body = http.MethodPost, fmt.Sprintf("payload %d", i)
		}
		req, _ := http.NewRequest(method, srv.URL+"/", strings.NewReader(body))
		req.Host = "app.test"
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || string(got) != "live:"+body {
			t.Fatalf("request %d (%s): %d %q, want 200 from live with the body intact", i, method, res.StatusCode, got)
		}
	}
	s, _ := statusOfBackend(p, "dead")
	if s.EjectedUntil.Before(before.Add(ejectBase-time.Second)) || s.EjectedUntil.After(time.Now().Add(ejectBase)) {
		t.Fatalf("dead backend ejected until %v, want about %s from now", s.EjectedUntil, ejectBase)
	}
	if s.InFlight != 0 || s.Requests != 0 {
		t.Fatalf("dead backend status %+v", s)
	}
}

func TestUpstreamFailureIs502AndNotRetried(t *testing.T) {
	broken, good := newTestBackend(t, "broken"), newTestBackend(t, "good")
	broken.handle(func(w http.ResponseWriter, r *http.Request) {
		// Read the request, then hang up without an answer.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", broken, good)))

	var bad int
	const n = 10
	for i := range n {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(fmt.Sprint("order ", i)))
		req.Host = "app.test"
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
		case http.StatusBadGateway:
			bad++
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || len(body) > 100 {
				t.Errorf("502 with Content-Type %q body %q, want short plain text", ct, body)
			}
		default:
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	if bad == 0 {
		t.Fatal("no request reached the broken backend")
	}
	if got := broken.hits.Load() + good.hits.Load(); got != n {
		t.Fatalf("backends saw %d requests for %d sent: a POST was resent after it reached a backend", got, n)
	}
	if int(broken.hits.Load()) != bad {
		t.Fatalf("broken backend got %d requests but %d answers were 502", broken.hits.Load(), bad)
	}
}

func TestAllBackendsRefusingIs502WithBoundedAttempts(t *testing.T) {
	p, srv := newTestProxy(t, Options{})
	var bs []Backend
	for i := range 5 {
		bs = append(bs, Backend{ID: fmt.Sprint("dead", i), Addr: deadAddr(t)})
	}
	mustSetTable(t, p, table(1, Route{Host: "app.test", Backends: bs}))
	if code, _ := get(t, srv.Client(), srv.URL, "app.test"); code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", code)
	}
	var ejected int
	for _, s := range p.Status().Backends {
		if !s.EjectedUntil.IsZero() {
			ejected++
		}
	}
	if ejected != maxAttempts {
		t.Fatalf("%d backends tried, want %d", ejected, maxAttempts)
	}
}

func TestEjectDuration(t *testing.T) {
	for n, want := range map[int]time.Duration{
		1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 4: 40 * time.Second,
		5: time.Minute, 50: time.Minute,
	} {
		if got := ejectDuration(n); got != want {
			t.Errorf("ejectDuration(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestEjectionGrowsAndResets(t *testing.T) {
	b := newBackend("b", "127.0.0.1:1")
	now := time.Unix(1000, 0)
	if d := b.eject(now); d != 5*time.Second {
		t.Fatalf("first ejection %s", d)
	}
	if d := b.eject(now.Add(time.Second)); d != 0 {
		t.Fatalf("ejecting an ejected backend extended it by %s; concurrent failures must count once", d)
	}
	if b.tier(now.Add(4*time.Second).UnixNano()) != tierEjected {
		t.Fatal("not ejected within the first 5s")
	}
	if b.tier(now.Add(6*time.Second).UnixNano()) != tierHealthy {
		t.Fatal("still ejected after 5s")
	}
	if d := b.eject(now.Add(6 * time.Second)); d != 10*time.Second {
		t.Fatalf("second ejection %s, want 10s", d)
	}
	b.succeeded()
	if b.tier(now.Add(7*time.Second).UnixNano()) != tierHealthy {
		t.Fatal("a success did not end the ejection")
	}
	if d := b.eject(now.Add(8 * time.Second)); d != 5*time.Second {
		t.Fatalf("ejection after a success %s, want 5s again", d)
	}
}

func TestPickPrefersHealthyThenFailsOpen(t *testing.T) {
	now := time.Now()
	mk := func(id string) *backend { return newBackend(id, "127.0.0.1:1") }
	a, b, c := mk("a"), mk("b"), mk("c")
	r := &side{backends: []*backend{a, b, c}}
	for _, tc := range []struct {
		name  string
		setup func()
		tried []*backend
		want  []*backend // acceptable picks
	}{
		{"all healthy", func() {}, nil, []*backend{a, b, c}},
		{"least in flight", func() { a.inflight.Store(2); b.inflight.Store(1); c.inflight.Store(3) }, nil, []*backend{b}},
		{"skip unhealthy", func() { a.unhealthy.Store(true); b.unhealthy.Store(true) }, nil, []*backend{c}},
		{"skip ejected", func() { a.eject(now); c.eject(now) }, nil, []*backend{b}},
		{"skip tried", func() {}, []*backend{a, b}, []*backend{c}},
		{"all unhealthy fails open", func() { a.unhealthy.Store(true); b.unhealthy.Store(true); c.unhealthy.Store(true) }, nil, []*backend{a, b, c}},
		{"unhealthy beats ejected", func() { a.unhealthy.Store(true); b.eject(now); c.eject(now) }, nil, []*backend{a}},
		{"all ejected still picks", func() { a.eject(now); b.eject(now); c.eject(now) }, nil, []*backend{a, b, c}},
		{"nothing left", func() {}, []*backend{a, b, c}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, x := range r.backends {
				x.inflight.Store(0)
				x.unhealthy.Store(false)
				x.ejectedUntil.Store(0)
				x.ejections.Store(0)
			}
			tc.setup()
			for range 6 {
				got := r.pick(now.UnixNano(), tc.tried)
				if tc.want == nil {
					if got != nil {
						t.Fatalf("picked %s, want none", got.id)
					}
					continue
				}
				ok := false
				for _, w := range tc.want {
					ok = ok || got == w
				}
				if !ok {
					t.Fatalf("picked %v", got)
				}
			}
		})
	}
}
