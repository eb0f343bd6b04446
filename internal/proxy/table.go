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
