package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrStaleTable is matched (errors.Is) by the *StaleTableError SetTable
// returns for a table older than the current one.
var ErrStaleTable = errors.New("stale routing table")

// StaleTableError rejects a table whose version is lower than the one the
// proxy serves.
type StaleTableError struct {
	Got     uint64 // version of the rejected table
	Current uint64 // version the proxy keeps serving
}

func (e *StaleTableError) Error() string {
	return fmt.Sprintf("routing table version %d is older than the proxy's version %d; send a table with a version above %d",
		e.Got, e.Current, e.Current)
}

// Is makes errors.Is(err, ErrStaleTable) true.
func (e *StaleTableError) Is(target error) bool { return target == ErrStaleTable }

// Options configure a Proxy.
type Options struct {
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
	// StatePath, if set, is a file where every accepted table is written
	// (atomically, before it takes effect) and from which New loads the
	// last one, so a restarted proxy routes at once.
	StatePath string
	// TrustForwardedHeaders keeps the client's X-Forwarded-For (appending
	// the client address), X-Forwarded-Host and X-Forwarded-Proto. Set it
	// only behind another proxy that sets them; facing the internet,
	// clients could forge them.
	TrustForwardedHeaders bool
	// MetricsRetention is how long the metrics of a release are kept
	// after it leaves the routing table (cumulative counters stay
	// readable meanwhile, e.g. for a rollout's final verdict); 0 means
	// 10 minutes.
	MetricsRetention time.Duration

	// noMetrics turns per-release metrics off (benchmarks compare).
	noMetrics bool
}

// Proxy routes requests by Host to the backends of the current Table. It
// is an http.Handler; Run drives its health checks; ControlHandler serves
// the API the control plane uses to feed it tables.
type Proxy struct {
	log            *slog.Logger
	statePath      string
	trustForwarded bool
	rp             *httputil.ReverseProxy
	healthClient   *http.Client
	metrics        *metricsStore // nil when metrics are off
	registry       *prometheus.Registry

	snap atomic.Pointer[snapshot] // never nil

	// setMu serializes SetTable, including the state file write.
	setMu sync.Mutex

	// mu guards the fields below. Never held while blocking on I/O.
	mu       sync.Mutex
	backends map[string]*backend   // in the current table, by ID
	retiring map[*backend]struct{} // out of the table, requests in flight
	checks   map[*backend]*checker // active health checkers
	runCtx   context.Context       // Run's context; nil when Run is not active
	running  bool                  // Run is active or still waiting for checkers
	checkWG  sync.WaitGroup        // health checker goroutines
}

// snapshot is a Table compiled for routing. It is never mutated.
type snapshot struct {
	table  Table
	routes map[string]*route // by normalized host
}

// New returns a Proxy serving an empty table (version 0), or the table in
// Options.StatePath when that file exists.
func New(opts Options) (*Proxy, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		log:            log,
		statePath:      opts.StatePath,
		trustForwarded: opts.TrustForwardedHeaders,
		healthClient:   newHealthClient(),
		backends:       make(map[string]*backend),
		retiring:       make(map[*backend]struct{}),
		checks:         make(map[*backend]*checker),
	}
	if !opts.noMetrics {
		p.metrics = newMetricsStore(opts.MetricsRetention)
	}
	p.registry = newRegistry(p)
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      roundTripper{p},
		BufferPool:     newBufferPool(),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Streamed responses (no Content-Length) and text/event-stream are
		// flushed after every write by ReverseProxy itself (it uses -1 for
		// them); responses of known length are copied through a buffer.
		FlushInterval: 0,
	}
	p.snap.Store(&snapshot{routes: map[string]*route{}})
	if opts.StatePath != "" {
		t, ok, err := loadTable(opts.StatePath)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := t.Validate(); err != nil {
				return nil, fmt.Errorf("state file %s: %w; fix or delete it to start with an empty table", opts.StatePath, err)
			}
			p.setMu.Lock()
			p.apply(t)
			p.setMu.Unlock()
			log.Info("loaded routing table", "version", t.Version, "routes", len(t.Routes), "path", opts.StatePath)
		}
	}
	return p, nil
}

// Table returns a copy of the table being served.
func (p *Proxy) Table() Table { return p.snap.Load().table.clone() }

// SetTable validates t and, if its version is above the current one,
// makes it the table every new request is routed by. A table with the
// current version is ignored; an older one is rejected with a
// *StaleTableError; an invalid one with an error wrapping ErrInvalidTable.
// Backends that leave the table finish their in-flight requests (see
// Drain), then their connections are closed.
func (p *Proxy) SetTable(t Table) error {
	t = t.clone()
	if err := t.Validate(); err != nil {
		return err
	}
	p.setMu.Lock()
	defer p.setMu.Unlock()
	cur := p.snap.Load().table
	switch {
	case t.Version < cur.Version:
		return &StaleTableError{Got: t.Version, Current: cur.Version}
	case t.Version == cur.Version:
		if !reflect.DeepEqual(normalizeForCompare(t), normalizeForCompare(cur)) {
			p.log.Warn("ignoring a different routing table with the current version; bump the version to change routes",
				"version", t.Version)
		}
		return nil
	}
	if p.statePath != "" {
		if err := saveTable(p.statePath, t); err != nil {
			return fmt.Errorf("save routing table version %d: %w", t.Version, err)
		}
	}
	p.apply(t)
	p.log.Info("routing table applied", "version", t.Version, "previous", cur.Version, "routes", len(t.Routes))
	return nil
}

// apply swaps in t, which is valid and owned by the Proxy. Called with
// setMu held.
//
// Ordering matters for draining: backends that stay or come back are
// revived before the new snapshot is published, and backends that leave
// are marked retired only after it is published. A request marks itself
// in flight and then checks retired (see acquire); Drain, called after
// SetTable returns, reads in-flight counts. Either the request sees
// retired and goes to the new table, or Drain sees it in flight.
func (p *Proxy) apply(t Table) {
	p.mu.Lock()
	defer p.mu.Unlock()

	next := &snapshot{table: t, routes: make(map[string]*route, len(t.Routes))}
	keep := make(map[string]*backend)
	infos := make(map[*backend]*backendInfo)
	stats := p.trackReleases(t)
	for i, r := range t.Routes {
		host := normalizeHost(r.Host)
		stickyHeader, _ := parseSticky(r.Sticky) // validated
		rt := &route{
			host: host, app: r.App, env: r.Env, release: r.Release,
			stickyHeader: stickyHeader, cookieName: stickyCookieName(r),
		}
		sideOf := func(release int, bs []Backend, st *releaseStats) *side {
			s := &side{release: release, backends: make([]*backend, 0, len(bs)), stats: st,
				setCookie: setCookieValue(rt.cookieName, release)}
			for _, tb := range bs {
				b := keep[tb.ID]
				if b == nil {
					b = p.adopt(tb)
					keep[tb.ID] = b
					infos[b] = &backendInfo{app: r.App, env: r.Env, release: tb.Release}
				}
				infos[b].hosts = append(infos[b].hosts, host)
				s.backends = append(s.backends, b)
			}
			return s
		}
		rt.stable = sideOf(r.Release, r.Backends, stats[i][0])
		if c := r.Canary; c != nil {
			rt.canary = sideOf(c.Release, c.Backends, stats[i][1])
			rt.weight = c.Weight
		}
		next.routes[host] = rt
	}
	for b, info := range infos {
		b.info.Store(info)
	}

	var gone []*backend
	for id, b := range p.backends {
		if keep[id] != b {
			gone = append(gone, b)
		}
	}
	p.backends = keep

	p.snap.Store(next)

	for _, b := range gone {
		if b.retired.Swap(true) {
			continue
		}
		p.retiring[b] = struct{}{}
		p.dropIfIdle(b)
	}
	p.reconcileChecks(t)
}

// trackReleases returns the statistics of the stable and canary release
// of each route of t (nil when metrics are off or a route has no
// canary), and starts the retention clock of the releases t leaves out.
func (p *Proxy) trackReleases(t Table) [][2]*releaseStats {
	out := make([][2]*releaseStats, len(t.Routes))
	if p.metrics == nil {
		return out
	}
	live := make([]releaseLabels, 0, len(t.Routes)+1)
	for _, r := range t.Routes {
		l := releaseLabels{host: normalizeHost(r.Host), app: r.App, env: r.Env, release: r.Release}
		live = append(live, l)
		if r.Canary != nil {
			l.release = r.Canary.Release
			live = append(live, l)
		}
	}
	stats := p.metrics.track(live)
	for i, r := range t.Routes {
		out[i][0], stats = stats[0], stats[1:]
		if r.Canary != nil {
			out[i][1], stats = stats[0], stats[1:]
		}
	}
	return out
}

// adopt returns the backend for tb: the current one with that ID and
// address, a retiring one revived, or a new one (a current backend whose
// address changed then retires like a removed one). Called with mu held.
func (p *Proxy) adopt(tb Backend) *backend {
	if b := p.backends[tb.ID]; b != nil && b.addr == tb.Addr {
		return b
	}
	for b := range p.retiring {
		if b.id == tb.ID && b.addr == tb.Addr && !b.dropped {
			delete(p.retiring, b)
			b.retired.Store(false)
			p.log.Info("backend back in the table before it drained", "backend", b.id)
			return b
		}
	}
	return newBackend(tb.ID, tb.Addr)
}

// dropIfIdle forgets a retired backend with nothing in flight and closes
// its idle connections. The transport refuses to pool connections that
// become idle later (CloseIdleConnections sets that), and nothing sends
// on it again: acquire never hands out a retired backend. Called with mu
// held.
func (p *Proxy) dropIfIdle(b *backend) {
	if b.dropped || !b.retired.Load() || b.inflight.Load() != 0 {
		return
	}
	b.dropped = true
	delete(p.retiring, b)
	b.transport.CloseIdleConnections()
	p.log.Debug("backend dropped", "backend", b.id, "addr", b.addr)
}

// clone deep-copies t so neither the caller nor the Proxy can change the
// other's copy.
func (t Table) clone() Table {
	out := Table{Version: t.Version, Routes: make([]Route, len(t.Routes))}
	for i, r := range t.Routes {
		r.Backends = append([]Backend(nil), r.Backends...)
		if r.Canary != nil {
			c := *r.Canary
			c.Backends = append([]Backend(nil), c.Backends...)
			r.Canary = &c
		}
		out.Routes[i] = r
	}
	return out
}

// normalizeForCompare treats nil and empty slices alike.
func normalizeForCompare(t Table) Table {
	t = t.clone()
	for i := range t.Routes {
		if len(t.Routes[i].Backends) == 0 {
			t.Routes[i].Backends = nil
		}
		if c := t.Routes[i].Canary; c != nil && len(c.Backends) == 0 {
			c.Backends = nil
		}
	}
	if len(t.Routes) == 0 {
		t.Routes = nil
	}
	return t
}
