// Package proxy is Slipway's data plane: a reverse proxy that routes by Host
// header to the healthy backends of each route. It knows nothing of the
// store, the API or the drivers; it is fed a Table.
package proxy

import "time"

// Table is the whole routing state. The proxy swaps tables atomically: a
// request is routed entirely by the table current when it arrived.
type Table struct {
	// Version increases with every table the control plane sends; the
	// proxy ignores a table older than the one it has.
	Version uint64  `json:"version"`
	Routes  []Route `json:"routes"`
}

// Route sends requests for Host to Backends.
type Route struct {
	// Host is matched case-insensitively against the request's Host header
	// with any port removed.
	Host string `json:"host"`
	// App, Env and Release label logs and metrics.
	App     string `json:"app"`
	Env     string `json:"env"`
	Release int    `json:"release"`
	// Backends share the traffic (round robin or least-loaded across the
	// healthy ones).
	Backends []Backend `json:"backends"`
	// Health drives the proxy's active health checks of the backends.
	Health HealthCheck `json:"health"`
	// Canary, when set, is a second set of backends (a newer release)
	// that takes Canary.Weight per cent of clients during a canary rollout.
	Canary *Canary `json:"canary,omitempty"`
	// Sticky keeps a client on the version it was first sent to while a
	// canary runs: "cookie" (default; the proxy sets a cookie naming the
	// release) or "header:NAME" (the hash of that request header picks the
	// side, so the same header value always lands on the same side for a
	// given weight).
	Sticky string `json:"sticky,omitempty"`
}

// Canary is the canary side of a route. A request is sent to it when it
// carries the override header X-Slipway-Release (or cookie
// slipway-release) with value "canary" or the canary's release number;
// to stable when the override says "stable" or stable's number; otherwise
// by the sticky assignment, and for new clients by Weight.
type Canary struct {
	Release  int       `json:"release"`
	Backends []Backend `json:"backends"`
	// Weight is the percentage of new clients sent to the canary, 0-100.
	Weight int `json:"weight"`
}

// Backend is one instance.
type Backend struct {
	// ID is the instance ID; the same ID in a later table is the same
	// backend (its health state and connections carry over).
	ID      string `json:"id"`
	Addr    string `json:"addr"` // host:port
	Release int    `json:"release"`
}

// HealthCheck configures active checks: GET Path every Interval; a backend
// is taken out after UnhealthyThreshold consecutive failures and put back
// after HealthyThreshold consecutive passes. An empty Path disables them.
type HealthCheck struct {
	Path               string        `json:"path"`
	Interval           time.Duration `json:"interval"`
	Timeout            time.Duration `json:"timeout"`
	HealthyThreshold   int           `json:"healthy_threshold"`
	UnhealthyThreshold int           `json:"unhealthy_threshold"`
}

// Histogram counts latencies into buckets: Counts[i] is the number of
// observations <= Bounds[i] (seconds) and > Bounds[i-1]; the last count,
// at index len(Bounds), is everything above the last bound.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
}

// ReleaseStats is what the proxy measured for one release of one route.
type ReleaseStats struct {
	Host    string `json:"host"`
	App     string `json:"app"`
	Env     string `json:"env"`
	Release int    `json:"release"`
	// Requests answered, by class: "1xx".."5xx", and "error" for requests
	// the proxy itself failed (502/504: no backend answered).
	Requests uint64            `json:"requests"`
	Status   map[string]uint64 `json:"status"`
	Latency  Histogram         `json:"latency"`
}

// Metrics is a snapshot of per-release measurements: counters since the
// proxy started (Total, for sequential tests over deltas) and over the last
// Window (for current rates).
type Metrics struct {
	At     time.Time      `json:"at"`
	Window time.Duration  `json:"window"`
	Total  []ReleaseStats `json:"total"`
	Recent []ReleaseStats `json:"recent"`
}
