package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestHealthStateObserve(t *testing.T) {
	cfg := HealthCheck{HealthyThreshold: 2, UnhealthyThreshold: 3}
	for _, tc := range []struct {
		name    string
		start   bool
		results []bool
		want    []bool // healthy after each result
	}{
		{"stays healthy", true, []bool{true, true}, []bool{true, true}},
		{"three failures take it out", true, []bool{false, false, false}, []bool{true, true, false}},
		{"a pass resets failures", true, []bool{false, false, true, false, false}, []bool{true, true, true, true, true}},
		{"two passes bring it back", false, []bool{true, true}, []bool{false, true}},
		{"a failure resets passes", false, []bool{true, false, true, true}, []bool{false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := healthState{healthy: tc.start}
			for i, pass := range tc.results {
				prev := s.healthy
				var changed bool
				s, changed = s.observe(pass, cfg)
				if s.healthy != tc.want[i] {
					t.Fatalf("after result %d healthy = %v, want %v", i, s.healthy, tc.want[i])
				}
				if changed != (prev != s.healthy) {
					t.Fatalf("after result %d changed = %v", i, changed)
				}
			}
		})
	}
}

func TestHealthDefaults(t *testing.T) {
	got := HealthCheck{Path: "/up", Interval: time.Second}.withDefaults()
	want := HealthCheck{Path: "/up", Interval: time.Second, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}
	if got != want {
		t.Fatalf("withDefaults = %+v, want %+v (timeout capped at the interval)", got, want)
	}
}

// TestCheckLoopTiming runs one checker on a fake clock: it probes at once
// and then every interval, and crosses thresholds at the right ticks.
func TestCheckLoopTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := newBackend("b", "127.0.0.1:1")
		var failing atomic.Bool
		var probes atomic.Int64
		probe := func(context.Context) error {
			probes.Add(1)
			if failing.Load() {
				return errors.New("status 500")
			}
			return nil
		}
		cfg := HealthCheck{Path: "/up", Interval: time.Second, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { p.checkLoop(ctx, b, cfg, probe) })

		synctest.Wait() // t=0: first probe passes
		if probes.Load() != 1 || b.unhealthy.Load() {
			t.Fatalf("t=0: %d probes, unhealthy %v", probes.Load(), b.unhealthy.Load())
		}
		time.Sleep(500 * time.Millisecond)
		failing.Store(true)
		time.Sleep(2 * time.Second) // t=2.5: failures at 1s and 2s
		synctest.Wait()
		if b.unhealthy.Load() {
			t.Fatal("t=2.5: out of rotation after 2 failures, threshold is 3")
		}
		time.Sleep(time.Second) // t=3.5: third failure at 3s
		synctest.Wait()
		if !b.unhealthy.Load() {
			t.Fatal("t=3.5: still in rotation after 3 failures")
		}
		failing.Store(false)
		time.Sleep(time.Second) // t=4.5: one pass
		synctest.Wait()
		if !b.unhealthy.Load() {
			t.Fatal("t=4.5: back after 1 pass, threshold is 2")
		}
		time.Sleep(time.Second) // t=5.5: two passes
		synctest.Wait()
		if b.unhealthy.Load() {
			t.Fatal("t=5.5: still out after 2 passes")
		}
		if n := probes.Load(); n != 6 {
			t.Fatalf("%d probes in 5.5s at 1s interval, want 6", n)
		}
		cancel()
		wg.Wait()
	})
}

// healthBackend answers /up with 200, or 500 while sick.
func healthBackend(t *testing.T, name string) (b *testBackend, sick *atomic.Bool, probes *atomic.Int64, probeHost *atomic.Pointer[string]) {
	b = newTestBackend(t, name)
	sick, probes, probeHost = new(atomic.Bool), new(atomic.Int64), new(atomic.Pointer[string])
	b.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up" {
			probes.Add(1)
			probeHost.Store(&r.Host)
			if sick.Load() {
				http.Error(w, "sick", http.StatusInternalServerError)
			}
			return
		}
		_, _ = io.WriteString(w, name)
	})
	return b, sick, probes, probeHost
}

// runProxy runs p's health checks until the test ends.
func runProxy(t *testing.T, p *Proxy) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

var fastHealth = HealthCheck{Path: "/up", Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}

func TestActiveHealthCheckTakesBackendOutAndBack(t *testing.T) {
	sickB, sick, _, probeHost := healthBackend(t, "sick")
	well, _, _, _ := healthBackend(t, "well")
	p, srv := newTestProxy(t, Options{})
	r := routeTo("app.test", sickB, well)
	r.Health = fastHealth
	mustSetTable(t, p, table(1, r))
	runProxy(t, p)

	healthy := func(id string) bool { s, _ := statusOfBackend(p, id); return s.Healthy }
	sick.Store(true)
	waitFor(t, "sick backend out of rotation", 5*time.Second, func() bool { return !healthy("sick") })
	for range 10 {
		if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "well" {
			t.Fatalf("got %q while sick was unhealthy", body)
		}
	}
	if h := *probeHost.Load(); h != "app.test" {
		t.Errorf("probe Host %q, want the route's host", h)
	}
	sick.Store(false)
	waitFor(t, "sick backend back in rotation", 5*time.Second, func() bool { return healthy("sick") })
	seen := map[string]bool{}
	for range 10 {
		_, body := get(t, srv.Client(), srv.URL, "app.test")
		seen[body] = true
	}
	if !seen["sick"] || !seen["well"] {
		t.Fatalf("after recovery saw %v, want both backends", seen)
	}
}

func TestAllBackendsUnhealthyFailsOpen(t *testing.T) {
	a, sickA, _, _ := healthBackend(t, "a")
	b, sickB, _, _ := healthBackend(t, "b")
	sickA.Store(true)
	sickB.Store(true)
	p, srv := newTestProxy(t, Options{})
	r := routeTo("app.test", a, b)
	r.Health = fastHealth
	mustSetTable(t, p, table(1, r))
	runProxy(t, p)
	waitFor(t, "both unhealthy", 5*time.Second, func() bool {
		for _, s := range p.Status().Backends {
			if s.Healthy {
				return false
			}
		}
		return true
	})
	seen := map[string]bool{}
	for range 10 {
		code, body := get(t, srv.Client(), srv.URL, "app.test")
		if code != http.StatusOK {
			t.Fatalf("status %d, want requests to still reach the backends", code)
		}
		seen[body] = true
	}
	if len(seen) != 2 {
		t.Fatalf("saw %v, want both backends", seen)
	}
}

func TestHealthChecksFollowTheTable(t *testing.T) {
	a, _, probesA, _ := healthBackend(t, "a")
	b, _, probesB, _ := healthBackend(t, "b")
	p, _ := newTestProxy(t, Options{})
	ra := routeTo("app.test", a)
	ra.Health = fastHealth
	mustSetTable(t, p, table(1, ra))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "checks of a", 5*time.Second, func() bool { return probesA.Load() >= 3 })
	if probesB.Load() != 0 {
		t.Fatal("b checked before it was in the table")
	}

	rb := routeTo("app.test", b)
	rb.Health = fastHealth
	mustSetTable(t, p, table(2, rb))
	waitFor(t, "checks of b", 5*time.Second, func() bool { return probesB.Load() >= 3 })
	waitStopped(t, "checks of a after it left the table", probesA)

	if err := p.Run(ctx); err == nil {
		t.Fatal("a second concurrent Run did not fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitStopped(t, "checks of b after Run returned", probesB)
}

// waitStopped waits until n stays unchanged for ten check intervals: a
// probe sent just before its checker stopped may still land, but a
// running checker would keep counting.
func waitStopped(t *testing.T, what string, n *atomic.Int64) {
	t.Helper()
	quiet := 10 * fastHealth.Interval
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := n.Load()
		time.Sleep(quiet)
		if n.Load() == before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still probing", what)
		}
	}
}
