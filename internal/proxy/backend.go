package proxy

import (
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Passive ejection: a backend that refuses a connection is skipped for
// ejectBase, doubling on each new ejection up to ejectMax, until a request
// to it succeeds again.
const (
	ejectBase = 5 * time.Second
	ejectMax  = time.Minute
)

// Upstream connection pool of one backend. Each backend has its own
// http.Transport so that its connections can be closed when it leaves the
// table without touching anyone else's.
const (
	// maxIdlePerBackend bounds the keep-alive pool; bursts above it open
	// extra connections that are closed when they become idle.
	maxIdlePerBackend = 64
	idleConnTimeout   = 60 * time.Second
	dialTimeout       = 5 * time.Second
)

// backend is one instance with its connection pool and live counters. The
// same *backend is shared by every table that lists its ID with the same
// address, so its health, ejection and connections carry over.
//
// Lifecycle: a backend is active while the current table lists it. When a
// table drops it, it is marked retired; when its last in-flight request
// ends it is dropped: its idle connections are closed and the Proxy
// forgets it. A retired backend that reappears before it is dropped is
// revived.
type backend struct {
	id        string
	addr      string
	transport *http.Transport

	info atomic.Pointer[backendInfo]

	inflight     atomic.Int64
	served       atomic.Uint64
	unhealthy    atomic.Bool  // set by the active health checker
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when not ejected
	ejections    atomic.Int32 // consecutive ejections, reset by a success
	retired      atomic.Bool  // no longer in the current table

	// dropped is guarded by Proxy.mu.
	dropped bool
}

// backendInfo labels a backend in logs and status; it is replaced, never
// mutated, when a new table arrives.
type backendInfo struct {
	hosts   []string
	app     string
	env     string
	release int
}

func newBackend(id, addr string) *backend {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	b := &backend{
		id:   id,
		addr: addr,
		transport: &http.Transport{
			Proxy:                 nil, // never send app traffic through $HTTP_PROXY
			DialContext:           d.DialContext,
			MaxIdleConns:          maxIdlePerBackend,
			MaxIdleConnsPerHost:   maxIdlePerBackend,
			IdleConnTimeout:       idleConnTimeout,
			ExpectContinueTimeout: time.Second,
			// Pass Accept-Encoding and compressed bodies through untouched.
			DisableCompression: true,
		},
	}
	b.info.Store(&backendInfo{})
	return b
}

func (b *backend) logAttrs() []any {
	info := b.info.Load()
	return []any{"backend", b.id, "app", info.app, "env", info.env, "release", info.release}
}

// eject takes b out of rotation after a refused connection and reports for
// how long, or 0 if b was already ejected (concurrent failures of one
// outage count once).
func (b *backend) eject(now time.Time) time.Duration {
	if now.UnixNano() < b.ejectedUntil.Load() {
		return 0
	}
	d := ejectDuration(int(b.ejections.Add(1)))
	b.ejectedUntil.Store(now.Add(d).UnixNano())
	return d
}

// ejectDuration is how long the n-th consecutive ejection lasts.
func ejectDuration(n int) time.Duration {
	d := ejectBase
	for i := 1; i < n && d < ejectMax; i++ {
		d *= 2
	}
	return min(d, ejectMax)
}

// succeeded ends any ejection: the backend answered.
func (b *backend) succeeded() {
	if b.ejections.Load() != 0 {
		b.ejections.Store(0)
		b.ejectedUntil.Store(0)
	}
}

// Tiers of preference when picking a backend; lower is better.
const (
	tierHealthy   = iota // passing health checks, not ejected
	tierUnhealthy        // failing health checks, accepting connections
	tierEjected          // refused a connection recently
)

func (b *backend) tier(now int64) int {
	switch {
	case now < b.ejectedUntil.Load():
		return tierEjected
	case b.unhealthy.Load():
		return tierUnhealthy
	}
	return tierHealthy
}
