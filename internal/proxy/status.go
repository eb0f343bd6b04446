package proxy

import (
	"cmp"
	"slices"
	"time"
)

// Status is a point-in-time view of the proxy's backends.
type Status struct {
	Version  uint64          `json:"version"`
	Backends []BackendStatus `json:"backends"`
}

// BackendStatus describes one backend: in the table, or out of it and
// still finishing requests (InTable false).
type BackendStatus struct {
	ID      string   `json:"id"`
	Addr    string   `json:"addr"`
	Hosts   []string `json:"hosts"` // routes it serves; usually one
	App     string   `json:"app"`
	Env     string   `json:"env"`
	Release int      `json:"release"`
	InTable bool     `json:"in_table"`
	// Healthy is false while active health checks fail.
	Healthy  bool  `json:"healthy"`
	InFlight int64 `json:"in_flight"`
	// EjectedUntil is set while the backend is skipped after refusing a
	// connection.
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Requests counts responses received from it.
	Requests uint64 `json:"requests"`
}

// Status reports every backend, sorted by ID.
func (p *Proxy) Status() Status {
	now := time.Now().UnixNano()
	p.mu.Lock()
	s := Status{Version: p.snap.Load().table.Version, Backends: make([]BackendStatus, 0, len(p.backends)+len(p.retiring))}
	for _, b := range p.backends {
		s.Backends = append(s.Backends, b.status(true, now))
	}
	for b := range p.retiring {
		s.Backends = append(s.Backends, b.status(false, now))
	}
	p.mu.Unlock()
	slices.SortFunc(s.Backends, func(a, b BackendStatus) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Addr, b.Addr))
	})
	return s
}

func (b *backend) status(inTable bool, now int64) BackendStatus {
	info := b.info.Load()
	s := BackendStatus{
		ID:       b.id,
		Addr:     b.addr,
		Hosts:    slices.Clone(info.hosts),
		App:      info.app,
		Env:      info.env,
		Release:  info.release,
		InTable:  inTable,
		Healthy:  !b.unhealthy.Load(),
		InFlight: b.inflight.Load(),
		Requests: b.served.Load(),
	}
	if until := b.ejectedUntil.Load(); until > now {
		s.EjectedUntil = time.Unix(0, until).UTC()
	}
	return s
}
