package proxy

import (
	"net/http"
	"testing"
	"time"
)

// discardWriter is a minimal ResponseWriter for benchmarks.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkServeHTTP proxies GET requests to a real loopback backend,
// calling ServeHTTP directly (no client connection): plain routing with
// metrics off and on, and a 50% canary split for new clients (a draw and
// a Set-Cookie per request) and for pinned ones (a cookie to parse).
func BenchmarkServeHTTP(b *testing.B) {
	st, can := newTestBackend(b, "stable"), newTestBackend(b, "canary")
	for _, bc := range []struct {
		name      string
		noMetrics bool
		canary    bool
		cookie    string
	}{
		{"plain/metrics=off", true, false, ""},
		{"plain/metrics=on", false, false, ""},
		{"canary50/new-client", false, true, ""},
		{"canary50/pinned-client", false, true, "session=0123456789abcdef; slipway-web-production=2"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := New(Options{noMetrics: bc.noMetrics})
			if err != nil {
				b.Fatal(err)
			}
			r := routeTo("app.test", st)
			if bc.canary {
				r = canaryRoute("app.test", []*testBackend{st}, []*testBackend{can}, 50)
			}
			if err := p.SetTable(table(1, r)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "http://app.test/", nil)
				req.RemoteAddr = "127.0.0.1:1234"
				if bc.cookie != "" {
					req.Header.Set("Cookie", bc.cookie)
				}
				w := &discardWriter{h: make(http.Header)}
				for pb.Next() {
					clear(w.h)
					p.ServeHTTP(w, req)
					if w.code != http.StatusOK {
						b.Errorf("status %d", w.code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRecord is the metrics' cost per request on its own (the clock
// read included): one release's counters updated from one goroutine, and
// from all cores at once (the same cache lines bouncing between them).
func BenchmarkRecord(b *testing.B) {
	m := newMetricsStore(0)
	s := m.track([]releaseLabels{{host: "app.test", release: 1}})[0]
	start := time.Now()
	record := func() {
		end := time.Now()
		d := end.Sub(start)
		s.record(statusClass(200), latencyBucket(d), d, m.second(end))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			record()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				record()
			}
		})
	})
}

// BenchmarkDecide is the canary routing decision on its own.
func BenchmarkDecide(b *testing.B) {
	r := testRoute(50, "")
	for _, bc := range []struct {
		name string
		h    http.Header
	}{
		{"new-client", http.Header{}},
		{"pinned-client", http.Header{"Cookie": {"session=0123456789abcdef; theme=dark; slipway-web-prod=2"}}},
		{"override", http.Header{"X-Slipway-Release": {"canary"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.decide(bc.h, i%100)
			}
		})
	}
}
