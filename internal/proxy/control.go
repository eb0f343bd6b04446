package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Limits of the control API.
const (
	maxTableBytes       = 32 << 20
	maxDrainBytes       = 1 << 20
	defaultDrainTimeout = 30 * time.Second
	maxDrainTimeout     = 10 * time.Minute
)

// errBadRequest marks control requests that cannot be understood.
var errBadRequest = errors.New("bad request")

// Bodies of the control API.
type (
	versionBody struct {
		Version uint64 `json:"version"`
	}
	errorBody struct {
		Error string `json:"error"`
		// Version is the current table version, sent with 409.
		Version *uint64 `json:"version,omitempty"`
	}
	drainRequestBody struct {
		Backends  []string `json:"backends"`
		TimeoutMS int64    `json:"timeout_ms"`
	}
	drainResponseBody struct {
		Remaining int    `json:"remaining"`
		Error     string `json:"error,omitempty"`
	}
	healthzBody struct {
		OK      bool   `json:"ok"`
		Version uint64 `json:"version"`
	}
)

// ControlHandler is the API the control plane drives the proxy with,
// meant for a unix socket only reachable by it:
//
//	PUT  /table    Table JSON -> 200 {"version":N}; 409 {"error","version"} if stale; 400 if invalid
//	GET  /table    -> the current Table
//	POST /drain    {"backends":["id"],"timeout_ms":30000} -> 200 {"remaining":0}; 504 {"remaining":N,"error"}
//	GET  /status   -> Status
//	GET  /healthz  -> {"ok":true,"version":N}
//	GET  /metrics  -> Prometheus text format (see MetricsHandler)
//	GET  /metrics/releases?window=30s -> Metrics over that window (default 1m, at most 5m)
//
// Errors are {"error":"..."} with a 4xx or 5xx status.
func (p *Proxy) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /table", p.handlePutTable)
	mux.HandleFunc("GET /table", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Table())
	})
	mux.HandleFunc("POST /drain", p.handleDrain)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, healthzBody{OK: true, Version: p.snap.Load().table.Version})
	})
	mux.Handle("GET /metrics", p.MetricsHandler())
	mux.HandleFunc("GET /metrics/releases", p.handleReleaseMetrics)
	return mux
}

func (p *Proxy) handlePutTable(w http.ResponseWriter, r *http.Request) {
	t, err := decodeTable(http.MaxBytesReader(w, r.Body, maxTableBytes))
	if err == nil {
		err = p.SetTable(t)
	}
	if err != nil {
		p.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, versionBody{Version: p.snap.Load().table.Version})
}

func (p *Proxy) handleDrain(w http.ResponseWriter, r *http.Request) {
	var req drainRequestBody
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxDrainBytes), &req); err != nil {
		p.writeError(w, fmt.Errorf("%w: drain request: %w", errBadRequest, err))
		return
	}
	timeout := defaultDrainTimeout
	if req.TimeoutMS > 0 {
		timeout = min(time.Duration(req.TimeoutMS)*time.Millisecond, maxDrainTimeout)
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), timeout,
		fmt.Errorf("drain timeout of %s reached", timeout))
	defer cancel()
	n, err := p.Drain(ctx, req.Backends)
	if err != nil {
		writeJSON(w, statusOf(err), drainResponseBody{Remaining: n, Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, drainResponseBody{Remaining: n})
}

func (p *Proxy) handleReleaseMetrics(w http.ResponseWriter, r *http.Request) {
	var window time.Duration
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			p.writeError(w, fmt.Errorf("%w: window %q is not a duration such as 30s", errBadRequest, v))
			return
		}
		window = d
	}
	writeJSON(w, http.StatusOK, p.Metrics(window))
}

// decodeTable parses a Table sent by the control plane; malformed input
// is an error wrapping ErrInvalidTable.
func decodeTable(r io.Reader) (Table, error) {
	var t Table
	if err := decodeJSON(r, &t); err != nil {
		return Table{}, fmt.Errorf("%w: %w", ErrInvalidTable, err)
	}
	return t, nil
}

// decodeJSON reads exactly one JSON value into v.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return errors.New("decode JSON: unexpected data after the value")
	}
	return nil
}

// statusOf is the one place errors of this package become HTTP statuses.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrStaleTable):
		return http.StatusConflict
	case errors.Is(err, ErrInvalidTable), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrDrainIncomplete):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func (p *Proxy) writeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	body := errorBody{Error: err.Error()}
	if code == http.StatusConflict {
		v := p.snap.Load().table.Version
		var stale *StaleTableError
		if errors.As(err, &stale) {
			v = stale.Current
		}
		body.Version = &v
	}
	if code >= 500 {
		p.log.Error("control request failed", "err", err)
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
