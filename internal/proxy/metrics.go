package proxy

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Per-release metrics. Every proxied request is counted once, when it
// ends, against the release whose backend answered it (or was to answer
// it): by status class ("error" when the proxy answered 502 or 503
// itself: no backend, a refused or broken connection, or a client that
// went away before the answer), and its latency, the time from the proxy
// receiving the request's headers until the response body was fully
// written to the client (so a streamed response or an upgraded
// connection counts its whole length; 1xx answers, i.e. upgrades, are
// counted by class but kept out of the latency histogram).
//
// Counters are kept twice: cumulative since the proxy started, and in a
// ring of per-second buckets covering the last windowSeconds, from which
// Metrics sums any window up to that. Recording is a handful of atomic
// adds on counters owned by the release; it takes no lock except once
// per second and release to recycle a bucket, and does not allocate.
const (
	// windowSeconds is the longest window Metrics can report.
	windowSeconds = 300
	// defaultMetricsWindow is used when Metrics is asked for window 0.
	defaultMetricsWindow = time.Minute
	// defaultMetricsRetention is how long a release's metrics are kept
	// after it leaves the routing table.
	defaultMetricsRetention = 10 * time.Minute
)

// Status classes, indexes into the counters.
const (
	class1xx   = 0
	classError = 5 // the proxy failed the request: no backend answered
	numClasses = 6
)

// numBuckets counts the histogram's buckets, the overflow one included;
// noLatency records a request without a latency.
const (
	numBuckets = len(latencyBounds) + 1
	noLatency  = -1
)

var classNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

// latencyBounds are the upper bounds, in seconds, of the latency
// histogram's buckets: 10 per decade (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
// from 100µs to 60s, so adjacent bounds differ by 20-33%. An immutable
// lookup table.
var latencyBounds = [...]float64{
	0.0001, 0.000125, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.0006, 0.0008,
	0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008,
	0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08,
	0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8,
	1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
	10, 12.5, 15, 20, 25, 30, 40, 50, 60,
}

// statusClass maps an HTTP status to its class index; a code outside
// 100-599 is an error.
func statusClass(code int) int {
	if code < 100 || code > 599 {
		return classError
	}
	return code/100 - 1
}

// latencyBucket returns the index of the bucket d falls in:
// the first bound >= d, or len(latencyBounds) above the last.
func latencyBucket(d time.Duration) int {
	s := d.Seconds()
	lo, hi := 0, len(latencyBounds)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s <= latencyBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Quantile estimates the q-quantile (0-1) of h in seconds, interpolating
// linearly within the bucket the rank falls in (the first bucket starts
// at 0; the overflow bucket reports the last bound). It returns 0 for an
// empty histogram.
func (h Histogram) Quantile(q float64) float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 || len(h.Bounds) == 0 {
		return 0
	}
	q = math.Min(math.Max(q, 0), 1)
	rank := q * float64(total)
	var cum uint64
	for i, c := range h.Counts {
		if c == 0 || float64(cum+c) < rank {
			cum += c
			continue
		}
		if i >= len(h.Bounds) {
			return h.Bounds[len(h.Bounds)-1]
		}
		lower := 0.0
		if i > 0 {
			lower = h.Bounds[i-1]
		}
		return lower + (h.Bounds[i]-lower)*(rank-float64(cum))/float64(c)
	}
	return h.Bounds[len(h.Bounds)-1]
}

// metricsStore holds the statistics of every release the proxy routes,
// and of those that left the table less than retention ago.
type metricsStore struct {
	start     time.Time // origin of bucket seconds (monotonic)
	retention time.Duration

	mu    sync.Mutex
	stats map[statsKey]*releaseStats
}

type statsKey struct {
	host    string
	release int
}

func newMetricsStore(retention time.Duration) *metricsStore {
	if retention <= 0 {
		retention = defaultMetricsRetention
	}
	return &metricsStore{start: time.Now(), retention: retention, stats: make(map[statsKey]*releaseStats)}
}

// second returns the bucket second of t.
func (m *metricsStore) second(t time.Time) int64 { return int64(t.Sub(m.start) / time.Second) }

// releaseLabels names one release of one route.
type releaseLabels struct {
	host, app, env string
	release        int
}

// track returns the statistics of each release in live (by host and
// release, labels updated), creating those not seen before, and starts
// the retention clock of the releases that are no longer live. It drops
// the releases whose retention has passed.
func (m *metricsStore) track(live []releaseLabels) []*releaseStats {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*releaseStats, len(live))
	seen := make(map[*releaseStats]bool, len(live))
	for i, l := range live {
		k := statsKey{l.host, l.release}
		s := m.stats[k]
		if s == nil {
			s = &releaseStats{}
			m.stats[k] = s
		}
		s.labels = l
		s.goneSince = time.Time{}
		out[i] = s
		seen[s] = true
	}
	for _, s := range m.stats {
		if !seen[s] && s.goneSince.IsZero() {
			s.goneSince = now
		}
	}
	m.sweepLocked(now)
	return out
}

// sweepLocked drops the releases that left the table more than retention
// ago. Called with mu held.
func (m *metricsStore) sweepLocked(now time.Time) {
	for k, s := range m.stats {
		if !s.goneSince.IsZero() && now.Sub(s.goneSince) >= m.retention {
			delete(m.stats, k)
		}
	}
}

// list returns the tracked releases with their labels, sorted by host and
// release, after dropping expired ones.
func (m *metricsStore) list() ([]*releaseStats, []releaseLabels) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(time.Now())
	stats := make([]*releaseStats, 0, len(m.stats))
	for _, s := range m.stats {
		stats = append(stats, s)
	}
	slices.SortFunc(stats, func(a, b *releaseStats) int {
		return cmp.Or(cmp.Compare(a.labels.host, b.labels.host), cmp.Compare(a.labels.release, b.labels.release))
	})
	labels := make([]releaseLabels, len(stats))
	for i, s := range stats {
		labels[i] = s.labels
	}
	return stats, labels
}

// snapshot reports every tracked release: cumulative counts, and the
// counts of the seconds in the last window (rounded up to whole seconds,
// 1 to windowSeconds; the current second, still filling, included).
func (m *metricsStore) snapshot(window time.Duration) Metrics {
	if window <= 0 {
		window = defaultMetricsWindow
	}
	secs := min(max(int64((window+time.Second-1)/time.Second), 1), windowSeconds)
	now := time.Now()
	cur := m.second(now)
	stats, labels := m.list()
	out := Metrics{
		At:     now.UTC(),
		Window: time.Duration(secs) * time.Second,
		Total:  make([]ReleaseStats, len(stats)),
		Recent: make([]ReleaseStats, len(stats)),
	}
	for i, s := range stats {
		out.Total[i] = s.total(labels[i])
		out.Recent[i] = s.recent(labels[i], cur, secs)
	}
	return out
}

// releaseStats is the counters of one release of one route.
type releaseStats struct {
	// labels and goneSince are guarded by metricsStore.mu.
	labels    releaseLabels
	goneSince time.Time // zero while in the table

	status   [numClasses]atomic.Uint64
	latency  [numBuckets]atomic.Uint64
	sumNanos atomic.Uint64

	rotate sync.Mutex // serializes recycling a ring bucket
	ring   [windowSeconds]secondCounts
}

// secondCounts is one second of a release's traffic. Its slot in the ring
// holds second sec; recording into a later second recycles it.
type secondCounts struct {
	sec     atomic.Int64
	status  [numClasses]atomic.Uint32
	latency [numBuckets]atomic.Uint32
}

// record counts one request of class that took d and ended in bucket
// second sec. bucket is latencyBucket(d), or noLatency to count the
// request without a latency.
func (s *releaseStats) record(class, bucket int, d time.Duration, sec int64) {
	s.status[class].Add(1)
	if bucket != noLatency {
		s.latency[bucket].Add(1)
		s.sumNanos.Add(uint64(d))
	}
	w := s.bucketFor(sec)
	if w == nil {
		return
	}
	w.status[class].Add(1)
	if bucket != noLatency {
		w.latency[bucket].Add(1)
	}
}

// bucketFor returns the ring bucket of second sec, recycling the slot if
// it holds an older second, or nil if it already holds a newer one (a
// request that took a whole ring's time to record itself).
//
// A slot is zeroed before its new second is published, under rotate, so
// a writer that sees the new second adds to zeroed counters; one that
// sees an old second waits for the rotation.
func (s *releaseStats) bucketFor(sec int64) *secondCounts {
	w := &s.ring[sec%windowSeconds]
	if cur := w.sec.Load(); cur == sec {
		return w
	} else if cur > sec {
		return nil
	}
	s.rotate.Lock()
	defer s.rotate.Unlock()
	switch cur := w.sec.Load(); {
	case cur > sec:
		return nil
	case cur < sec:
		for i := range w.status {
			w.status[i].Store(0)
		}
		for i := range w.latency {
			w.latency[i].Store(0)
		}
		w.sec.Store(sec)
	}
	return w
}

// total reports the cumulative counters.
func (s *releaseStats) total(l releaseLabels) ReleaseStats {
	out := newReleaseStats(l)
	for i := range s.status {
		out.add(i, s.status[i].Load())
	}
	for i := range s.latency {
		out.Latency.Counts[i] = s.latency[i].Load()
	}
	return out
}

// recent sums the ring buckets of the secs seconds ending with cur.
func (s *releaseStats) recent(l releaseLabels, cur, secs int64) ReleaseStats {
	out := newReleaseStats(l)
	for i := range s.ring {
		w := &s.ring[i]
		if sec := w.sec.Load(); sec > cur || sec <= cur-secs {
			continue
		}
		for c := range w.status {
			out.add(c, uint64(w.status[c].Load()))
		}
		for b := range w.latency {
			out.Latency.Counts[b] += uint64(w.latency[b].Load())
		}
	}
	return out
}

func newReleaseStats(l releaseLabels) ReleaseStats {
	return ReleaseStats{
		Host: l.host, App: l.app, Env: l.env, Release: l.release,
		Status: make(map[string]uint64, numClasses),
		Latency: Histogram{
			Bounds: slices.Clone(latencyBounds[:]),
			Counts: make([]uint64, numBuckets),
		},
	}
}

// add counts n requests of class c; classes without requests are left out
// of Status.
func (r *ReleaseStats) add(c int, n uint64) {
	if n == 0 {
		return
	}
	r.Status[classNames[c]] += n
	r.Requests += n
}

// Metrics reports what the proxy measured per release of each route: the
// routes' current stable and canary releases and those that left the
// table less than Options.MetricsRetention ago, sorted by host and
// release, with cumulative counters (Total) and those of the last window
// (Recent), rounded up to whole seconds and capped at 5 minutes; 0 means
// 1 minute. Metrics.Window is the window used. With metrics off, both
// lists are empty.
func (p *Proxy) Metrics(window time.Duration) Metrics {
	if p.metrics == nil {
		return Metrics{At: time.Now().UTC(), Window: window, Total: []ReleaseStats{}, Recent: []ReleaseStats{}}
	}
	return p.metrics.snapshot(window)
}
