package proxy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// statusBackend answers with the status in its ?code= query parameter
// (200 without one), after sleeping ?sleep= if given.
func statusBackend(t *testing.T, name string) *testBackend {
	b := newTestBackend(t, name)
	b.handle(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		code := http.StatusOK
		if c, err := strconv.Atoi(r.URL.Query().Get("code")); err == nil {
			code = c
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, name)
	})
	return b
}

// request sends GET path with Host host and the given headers and returns
// the status, or reports the error (with t.Error: it may run on other
// goroutines) and returns 0.
func request(t *testing.T, c *http.Client, proxyURL, host, path string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, proxyURL+path, nil)
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// statsOf finds host's release in a list of ReleaseStats.
func statsOf(list []ReleaseStats, host string, release int) (ReleaseStats, bool) {
	for _, s := range list {
		if s.Host == host && s.Release == release {
			return s, true
		}
	}
	return ReleaseStats{}, false
}

// waitForRequests waits until the proxy has recorded n requests in all:
// a request is recorded as its handler returns, which may be just after
// the client read the answer.
func waitForRequests(t *testing.T, p *Proxy, n uint64) Metrics {
	t.Helper()
	var m Metrics
	waitFor(t, fmt.Sprintf("%d requests recorded", n), 5*time.Second, func() bool {
		m = p.Metrics(windowSeconds * time.Second)
		var got uint64
		for _, s := range m.Total {
			got += s.Requests
		}
		if got > n {
			t.Fatalf("%d requests recorded, want %d", got, n)
		}
		return got == n
	})
	return m
}

func TestMetricsCountExactly(t *testing.T) {
	st, can := statusBackend(t, "stable-a"), statusBackend(t, "canary-a")
	p, srv := newTestProxy(t, Options{})
	down := Route{Host: "down.test", App: "down", Env: "production", Release: 4,
		Backends: []Backend{{ID: "dead", Addr: deadAddr(t)}}}
	mustSetTable(t, p, table(1, canaryRoute("app.test", []*testBackend{st}, []*testBackend{can}, 50), down))
	c := srv.Client()

	type plan struct {
		host, path, override string
		n                    int
		want                 int
	}
	plans := []plan{
		{"app.test", "/", "stable", 30, 200},
		{"app.test", "/?code=500", "stable", 7, 500},
		{"app.test", "/?code=404", "stable", 3, 404},
		{"app.test", "/?code=302", "1", 2, 302},
		{"app.test", "/", "canary", 11, 200},
		{"app.test", "/?code=503", "canary", 4, 503},
		{"down.test", "/", "", 5, 502},
		{"nobody.test", "/", "", 3, 404}, // no route: not counted
	}
	var wg sync.WaitGroup
	for _, pl := range plans {
		wg.Go(func() {
			for range pl.n {
				if code := request(t, c, srv.URL, pl.host, pl.path, "X-Slipway-Release", pl.override); code != pl.want {
					t.Errorf("%s%s: status %d, want %d", pl.host, pl.path, code, pl.want)
				}
			}
		})
	}
	wg.Wait()
	m := waitForRequests(t, p, 30+7+3+2+11+4+5)

	for _, want := range []struct {
		host    string
		release int
		status  map[string]uint64
	}{
		{"app.test", stableRel, map[string]uint64{"2xx": 30, "3xx": 2, "4xx": 3, "5xx": 7}},
		{"app.test", canaryRel, map[string]uint64{"2xx": 11, "5xx": 4}},
		{"down.test", 4, map[string]uint64{"error": 5}},
	} {
		for _, list := range []struct {
			name  string
			stats []ReleaseStats
		}{{"total", m.Total}, {"recent", m.Recent}} {
			s, ok := statsOf(list.stats, want.host, want.release)
			if !ok {
				t.Fatalf("%s: no stats for %s release %d: %+v", list.name, want.host, want.release, list.stats)
			}
			if !reflect.DeepEqual(s.Status, want.status) {
				t.Errorf("%s %s release %d: status %v, want %v", list.name, want.host, want.release, s.Status, want.status)
			}
			var sum, timed uint64
			for _, n := range want.status {
				sum += n
			}
			for _, n := range s.Latency.Counts {
				timed += n
			}
			if s.Requests != sum || timed != sum {
				t.Errorf("%s %s release %d: %d requests, %d timed, want %d", list.name, want.host, want.release, s.Requests, timed, sum)
			}
			if len(s.Latency.Bounds) != len(latencyBounds) || len(s.Latency.Counts) != len(latencyBounds)+1 {
				t.Errorf("histogram shape %d bounds, %d counts", len(s.Latency.Bounds), len(s.Latency.Counts))
			}
		}
	}
	if len(m.Total) != 3 {
		t.Errorf("stats for %d releases, want 3: %+v", len(m.Total), m.Total)
	}
	if s, _ := statsOf(m.Total, "app.test", stableRel); s.App != "web" || s.Env != "production" {
		t.Errorf("labels %+v", s)
	}
}

func TestMetricsLatencyHistogram(t *testing.T) {
	b := statusBackend(t, "slow")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", b)))

	// Six requests to a backend that sleeps 200ms: all in (0.2, 0.25].
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { request(t, srv.Client(), srv.URL, "app.test", "/?sleep=200ms") })
	}
	wg.Wait()
	m := waitForRequests(t, p, 6)
	h := m.Total[0].Latency
	i := slices.Index(h.Bounds, 0.25)
	if h.Counts[i] != 6 {
		t.Fatalf("counts %v: want all 6 requests in the bucket up to 0.25s (index %d)", h.Counts, i)
	}
	for _, q := range []float64{0.01, 0.5, 0.99, 1} {
		if v := h.Quantile(q); v < 0.2 || v > 0.25 {
			t.Errorf("quantile %v = %v, want within the bucket (0.2, 0.25]", q, v)
		}
	}
}

// TestMetricsQuantilesWithinOneBucket compares quantiles estimated from
// the proxy's histogram with the exact ones the client measured.
func TestMetricsQuantilesWithinOneBucket(t *testing.T) {
	b := statusBackend(t, "varied")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", b)))

	const n = 60
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sleep := time.Duration(i*i) * 80 * time.Microsecond // 0 to ~280ms, skewed
			start := time.Now()
			request(t, srv.Client(), srv.URL, "app.test", "/?sleep="+sleep.String())
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	h := waitForRequests(t, p, n).Total[0].Latency
	slices.Sort(lat)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := lat[int(math.Ceil(q*n))-1]
		est := h.Quantile(q)
		be, bx := latencyBucket(time.Duration(est*float64(time.Second))), latencyBucket(exact)
		if be < bx-1 || be > bx+1 {
			t.Errorf("p%v: histogram says %.4fs (bucket %d), client measured %s (bucket %d)", q*100, est, be, exact, bx)
		}
	}
}

func TestLatencyBucket(t *testing.T) {
	last := len(latencyBounds)
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{50 * time.Microsecond, 0},
		{100 * time.Microsecond, 0},
		{101 * time.Microsecond, 1},
		{200 * time.Millisecond, slices.Index(latencyBounds[:], 0.2)},
		{201 * time.Millisecond, slices.Index(latencyBounds[:], 0.25)},
		{time.Second, slices.Index(latencyBounds[:], 1)},
		{60 * time.Second, last - 1},
		{61 * time.Second, last},
		{time.Hour, last},
	} {
		if got := latencyBucket(tc.d); got != tc.want {
			t.Errorf("latencyBucket(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if !slices.IsSorted(latencyBounds[:]) || latencyBounds[0] != 0.0001 || latencyBounds[last-1] != 60 {
		t.Fatalf("bounds %v", latencyBounds)
	}
	for i := 1; i < last; i++ {
		if r := latencyBounds[i] / latencyBounds[i-1]; r < 1.19 || r > 1.34 {
			t.Errorf("bounds %v and %v are %.2fx apart", latencyBounds[i-1], latencyBounds[i], r)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := Histogram{Bounds: []float64{1, 2, 4}, Counts: []uint64{0, 10, 0, 0}}
	for q, want := range map[float64]float64{0: 1, 0.5: 1.5, 1: 2, 0.1: 1.1} {
		if got := h.Quantile(q); math.Abs(got-want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	over := Histogram{Bounds: []float64{1, 2}, Counts: []uint64{1, 0, 9}}
	if got := over.Quantile(0.9); got != 2 {
		t.Errorf("overflow quantile %v, want the last bound", got)
	}
	if got := over.Quantile(0.05); got < 0 || got > 1 {
		t.Errorf("first bucket quantile %v", got)
	}
	if got := (Histogram{Bounds: []float64{1}, Counts: []uint64{0, 0}}).Quantile(0.5); got != 0 {
		t.Errorf("empty histogram quantile %v", got)
	}
}

// TestReleaseStatsWindow drives the per-second ring with explicit seconds.
func TestReleaseStatsWindow(t *testing.T) {
	var s releaseStats
	l := releaseLabels{host: "a.test", release: 1}
	ok, fail := statusClass(200), statusClass(500)
	for sec := int64(0); sec < 10; sec++ {
		for range sec + 1 { // second i has i+1 requests
			s.record(ok, latencyBucket(time.Millisecond), time.Millisecond, sec)
		}
	}
	s.record(fail, latencyBucket(time.Second), time.Second, 9)
	recent := func(cur, secs int64) uint64 { return s.recent(l, cur, secs).Requests }
	if got := recent(9, 3); got != 8+9+10+1 {
		t.Errorf("last 3s at second 9: %d requests", got)
	}
	if got := recent(9, 1); got != 11 {
		t.Errorf("last 1s at second 9: %d requests", got)
	}
	if got := recent(12, 3); got != 0 {
		t.Errorf("last 3s at second 12: %d requests, want 0", got)
	}
	if got, total := recent(9, windowSeconds), s.total(l).Requests; got != 56 || total != 56 {
		t.Errorf("whole window %d, total %d, want 56", got, total)
	}
	r := s.recent(l, 9, 1)
	if r.Status["2xx"] != 10 || r.Status["5xx"] != 1 || r.Latency.Counts[latencyBucket(time.Second)] != 1 {
		t.Errorf("last second %+v", r)
	}

	// A whole ring later, second 5's slot is recycled for second 305.
	s.record(ok, noLatency, 0, 5+windowSeconds)
	// Seconds 6-9 (7+8+9+10 requests, and the error) are within 300s of
	// 305; second 5 was recycled.
	if got := recent(5+windowSeconds, windowSeconds); got != 7+8+9+10+1+1 {
		t.Errorf("after recycling: %d requests in the window", got)
	}
	// A record for a second older than its slot holds is kept out of the
	// window but counted in the total.
	before := s.total(l).Requests
	s.record(ok, noLatency, 5, 5)
	if got := s.total(l).Requests; got != before+1 {
		t.Errorf("total %d, want %d", got, before+1)
	}
	if got := s.recent(l, 5+windowSeconds, 1).Requests; got != 1 {
		t.Errorf("a late record changed a recycled slot: %d", got)
	}
}

func TestMetricsWindowVsTotal(t *testing.T) {
	b := statusBackend(t, "a")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", b)))
	for range 5 {
		request(t, srv.Client(), srv.URL, "app.test", "/")
	}
	waitForRequests(t, p, 5)
	time.Sleep(2100 * time.Millisecond)
	for range 3 {
		request(t, srv.Client(), srv.URL, "app.test", "/")
	}
	waitForRequests(t, p, 8)
	m := p.Metrics(2 * time.Second)
	if m.Window != 2*time.Second || m.Total[0].Requests != 8 || m.Recent[0].Requests != 3 {
		t.Fatalf("window %s: total %d, recent %d; want 8 and 3", m.Window, m.Total[0].Requests, m.Recent[0].Requests)
	}
	if time.Since(m.At) > time.Minute {
		t.Fatalf("At = %v", m.At)
	}
	for in, want := range map[time.Duration]time.Duration{
		0: time.Minute, 1500 * time.Millisecond: 2 * time.Second, time.Hour: windowSeconds * time.Second, time.Nanosecond: time.Second,
	} {
		if got := p.Metrics(in).Window; got != want {
			t.Errorf("Metrics(%s).Window = %s, want %s", in, got, want)
		}
	}
}

func TestMetricsRetention(t *testing.T) {
	b := statusBackend(t, "a")
	c := statusBackend(t, "b")

	t.Run("kept after leaving the table", func(t *testing.T) {
		p, srv := newTestProxy(t, Options{MetricsRetention: time.Hour})
		mustSetTable(t, p, table(1, Route{Host: "app.test", Release: 1, Backends: []Backend{b.backend(1)}}))
		for range 3 {
			request(t, srv.Client(), srv.URL, "app.test", "/")
		}
		waitForRequests(t, p, 3)
		mustSetTable(t, p, table(2, Route{Host: "app.test", Release: 2, Backends: []Backend{c.backend(2)}}))
		m := p.Metrics(0)
		if s, ok := statsOf(m.Total, "app.test", 1); !ok || s.Requests != 3 {
			t.Fatalf("release 1 after it left the table: %+v, %v", s, ok)
		}
		if _, ok := statsOf(m.Total, "app.test", 2); !ok {
			t.Fatal("no stats for the new release")
		}
	})

	t.Run("500 releases come and go", func(t *testing.T) {
		const retention = 20 * time.Millisecond
		p, srv := newTestProxy(t, Options{MetricsRetention: retention})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		maxTracked := 0
		for v := 1; v <= 500; v++ {
			r := Route{Host: "app.test", Release: v, Backends: []Backend{b.backend(v)},
				Canary: &Canary{Release: v + 1000, Weight: 50, Backends: []Backend{c.backend(v + 1000)}}}
			mustSetTable(t, p, table(uint64(v), r))
			if v%25 == 0 {
				request(t, srv.Client(), srv.URL, "app.test", "/")
				time.Sleep(retention / 4)
			}
			p.metrics.mu.Lock()
			maxTracked = max(maxTracked, len(p.metrics.stats))
			p.metrics.mu.Unlock()
		}
		time.Sleep(retention + 5*time.Millisecond)
		m := p.Metrics(0)
		if len(m.Total) != 2 {
			t.Fatalf("%d releases tracked after retention, want the 2 in the table", len(m.Total))
		}
		p.metrics.mu.Lock()
		tracked := len(p.metrics.stats)
		p.metrics.mu.Unlock()
		if tracked != 2 {
			t.Fatalf("store holds %d releases", tracked)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		// One release's counters take ~82 KB; 1000 of them kept would be 80 MB.
		if growth > 16<<20 {
			t.Errorf("heap grew by %d MB over 500 releases", growth>>20)
		}
		t.Logf("at most %d releases tracked at once; heap growth %d KB", maxTracked, growth>>10)
	})
}

// unixClient is an HTTP client for the control socket.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

// scrape GETs a Prometheus text page and parses it.
func scrape(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("GET %s: not Prometheus text: %v", url, err)
	}
	return fams
}

// sample finds the metric of family name with exactly these labels.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, lp := range m.Label {
			got[lp.GetName()] = lp.GetValue()
		}
		if reflect.DeepEqual(got, labels) {
			return m
		}
	}
	return nil
}

func TestPrometheusMetrics(t *testing.T) {
	st, can := statusBackend(t, "stable-a"), statusBackend(t, "canary-a")
	sock := socketPath(t)
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + mln.Addr().String()
	proxyURL, c, _ := startServe(t, ServeOptions{ControlSocket: sock, MetricsListener: mln})
	if _, err := c.SetTable(t.Context(), table(7, canaryRoute("app.test", []*testBackend{st}, []*testBackend{can}, 50))); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	for range 6 {
		request(t, hc, proxyURL, "app.test", "/", "X-Slipway-Release", "stable")
	}
	request(t, hc, proxyURL, "app.test", "/?code=500", "X-Slipway-Release", "stable")
	for range 4 {
		request(t, hc, proxyURL, "app.test", "/?sleep=30ms", "X-Slipway-Release", "canary")
	}

	release := func(rel int) map[string]string {
		return map[string]string{"host": "app.test", "app": "web", "env": "production", "release": strconv.Itoa(rel)}
	}
	with := func(m map[string]string, k, v string) map[string]string {
		m = maps.Clone(m)
		m[k] = v
		return m
	}
	var fams map[string]*dto.MetricFamily
	waitFor(t, "requests in /metrics", 5*time.Second, func() bool {
		fams = scrape(t, unixClient(sock), "http://proxy/metrics")
		m := sample(fams, "slipway_proxy_request_duration_seconds", release(canaryRel))
		return m != nil && m.GetHistogram().GetSampleCount() == 4 &&
			sample(fams, "slipway_proxy_requests_total", with(release(stableRel), "class", "5xx")).GetCounter().GetValue() == 1
	})
	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{with(release(stableRel), "class", "2xx"), 6},
		{with(release(stableRel), "class", "5xx"), 1},
		{with(release(stableRel), "class", "error"), 0},
		{with(release(canaryRel), "class", "2xx"), 4},
	} {
		m := sample(fams, "slipway_proxy_requests_total", tc.labels)
		if m == nil || m.GetCounter().GetValue() != tc.want {
			t.Errorf("slipway_proxy_requests_total%v = %v, want %v", tc.labels, m, tc.want)
		}
	}
	if f := fams["slipway_proxy_requests_total"]; f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("requests_total type %v", f.GetType())
	}
	h := sample(fams, "slipway_proxy_request_duration_seconds", release(canaryRel)).GetHistogram()
	if s := h.GetSampleSum(); s < 4*0.03 || s > 4*0.5 {
		t.Errorf("canary latency sum %v s for 4 requests of 30ms", s)
	}
	for _, bk := range h.GetBucket() {
		want := uint64(0)
		if bk.GetUpperBound() > 0.03 {
			want = 4
		}
		if bk.GetUpperBound() < 0.025 || bk.GetUpperBound() > 0.5 {
			if bk.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), want)
			}
		}
	}
	backend := func(id, addr string, rel int) map[string]string {
		return map[string]string{"backend": id, "addr": addr, "app": "web", "env": "production", "release": strconv.Itoa(rel)}
	}
	for _, name := range []string{"slipway_proxy_backend_in_flight_requests", "slipway_proxy_backend_healthy", "slipway_proxy_backend_ejected"} {
		for _, b := range []map[string]string{backend("stable-a", st.addr(), stableRel), backend("canary-a", can.addr(), canaryRel)} {
			m := sample(fams, name, b)
			want := map[string]float64{"slipway_proxy_backend_healthy": 1}[name]
			if m == nil || m.GetGauge().GetValue() != want {
				t.Errorf("%s%v = %v, want %v", name, b, m, want)
			}
		}
	}
	if m := sample(fams, "slipway_proxy_canary_weight", release(canaryRel)); m.GetGauge().GetValue() != 50 {
		t.Errorf("canary weight %v", m)
	}
	if m := sample(fams, "slipway_proxy_routing_table_version", map[string]string{}); m.GetGauge().GetValue() != 7 {
		t.Errorf("table version %v", m)
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Error("no Go runtime or process metrics")
	}

	// The metrics listener serves the same page, and nothing else.
	tcp := scrape(t, hc, metricsURL+"/metrics")
	if m := sample(tcp, "slipway_proxy_requests_total", with(release(stableRel), "class", "2xx")); m.GetCounter().GetValue() != 6 {
		t.Errorf("metrics listener: %v", m)
	}
	res, err := hc.Get(metricsURL + "/table")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /table on the metrics listener: %d, want 404", res.StatusCode)
	}

	// The same numbers as JSON, through the Client.
	m, err := c.Metrics(t.Context(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Window != 30*time.Second {
		t.Errorf("window %s", m.Window)
	}
	for _, list := range [][]ReleaseStats{m.Total, m.Recent} {
		s, _ := statsOf(list, "app.test", stableRel)
		cs, _ := statsOf(list, "app.test", canaryRel)
		if s.Status["2xx"] != 6 || s.Status["5xx"] != 1 || s.Requests != 7 || cs.Requests != 4 || cs.Latency.Quantile(0.5) < 0.03 {
			t.Errorf("Client.Metrics: %+v, %+v", s, cs)
		}
	}
	res, err = unixClient(sock).Get("http://proxy/metrics/releases?window=soon")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad window: %d, want 400", res.StatusCode)
	}
}

func TestMetricsOffRecordsNothing(t *testing.T) {
	b := statusBackend(t, "a")
	p, srv := newTestProxy(t, Options{noMetrics: true})
	mustSetTable(t, p, table(1, routeTo("app.test", b)))
	if code := request(t, srv.Client(), srv.URL, "app.test", "/"); code != http.StatusOK {
		t.Fatal(code)
	}
	if m := p.Metrics(0); len(m.Total) != 0 || len(m.Recent) != 0 {
		t.Fatalf("metrics off: %+v", m)
	}
}
