package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client talks to a proxy process's ControlHandler over its unix socket.
// It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a Client for the control socket at socketPath. It does
// not connect until a method is called.
func NewClient(socketPath string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &Client{
		socket: socketPath,
		hc: &http.Client{Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", socketPath)
			},
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
}

// SetTable sends t and returns the version the proxy serves afterwards (t's,
// or the current one if t's version equals it). A table older than the
// proxy's fails with a *StaleTableError (errors.Is ErrStaleTable), an
// invalid one with an error wrapping ErrInvalidTable.
func (c *Client) SetTable(ctx context.Context, t Table) (version uint64, err error) {
	var out versionBody
	code, err := c.do(ctx, http.MethodPut, "/table", t, &out)
	if err != nil {
		if code == http.StatusConflict {
			var cur uint64
			if v := errVersion(err); v != nil {
				cur = *v
			}
			return cur, &StaleTableError{Got: t.Version, Current: cur}
		}
		return 0, err
	}
	return out.Version, nil
}

// Table returns the table the proxy serves.
func (c *Client) Table(ctx context.Context) (Table, error) {
	var t Table
	_, err := c.do(ctx, http.MethodGet, "/table", nil, &t)
	return t, err
}

// Drain asks the proxy to wait up to timeout (0 means 30s) for the
// requests in flight to these backends, then close their connections. It
// returns the requests still in flight; if any, the error wraps
// ErrDrainIncomplete. ctx should outlast timeout.
func (c *Client) Drain(ctx context.Context, ids []string, timeout time.Duration) (remaining int, err error) {
	var out drainResponseBody
	req := drainRequestBody{Backends: ids, TimeoutMS: timeout.Milliseconds()}
	code, err := c.do(ctx, http.MethodPost, "/drain", req, &out)
	if code == http.StatusGatewayTimeout {
		return out.Remaining, fmt.Errorf("%w: %s", ErrDrainIncomplete, out.Error)
	}
	if err != nil {
		return 0, err
	}
	return out.Remaining, nil
}

// Status returns the proxy's view of its backends.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	_, err := c.do(ctx, http.MethodGet, "/status", nil, &s)
	return s, err
}

// Metrics returns the proxy's per-release metrics: counters since it
// started (Total) and over the last window (Recent); window 0 means 1
// minute, and it is capped at 5 minutes (Metrics.Window says what was
// used).
func (c *Client) Metrics(ctx context.Context, window time.Duration) (Metrics, error) {
	var m Metrics
	path := "/metrics/releases"
	if window > 0 {
		path += "?window=" + url.QueryEscape(window.String())
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &m)
	return m, err
}

// Ping checks that a proxy answers on the socket.
func (c *Client) Ping(ctx context.Context) error {
	var h healthzBody
	if _, err := c.do(ctx, http.MethodGet, "/healthz", nil, &h); err != nil {
		return err
	}
	if !h.OK {
		return fmt.Errorf("proxy at %s reports not ok", c.socket)
	}
	return nil
}

// controlError is a non-2xx answer of the control API.
type controlError struct {
	method, path string
	code         int
	body         errorBody
}

func (e *controlError) Error() string {
	return fmt.Sprintf("proxy control %s %s: %d %s: %s", e.method, e.path, e.code, http.StatusText(e.code), e.body.Error)
}

// Unwrap maps 400 back to ErrInvalidTable for PUT /table.
func (e *controlError) Unwrap() error {
	if e.code == http.StatusBadRequest && e.path == "/table" {
		return ErrInvalidTable
	}
	return nil
}

func errVersion(err error) *uint64 {
	var ce *controlError
	if errors.As(err, &ce) {
		return ce.body.Version
	}
	return nil
}

// do sends one request and decodes the JSON answer into out. For
// non-2xx answers it returns the status and a *controlError, and also
// decodes the body into out when the answer was JSON of out's shape.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("proxy control %s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://slipway-proxy"+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("proxy control %s %s via %s: %w; is the proxy running?", method, path, c.socket, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxTableBytes+1))
	if err != nil {
		return res.StatusCode, fmt.Errorf("proxy control %s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		ce := &controlError{method: method, path: path, code: res.StatusCode}
		if json.Unmarshal(data, &ce.body) != nil || ce.body.Error == "" {
			ce.body.Error = string(bytes.TrimSpace(data))
		}
		_ = json.Unmarshal(data, out)
		return res.StatusCode, ce
	}
	if err := json.Unmarshal(data, out); err != nil {
		return res.StatusCode, fmt.Errorf("proxy control %s %s: decode answer: %w", method, path, err)
	}
	return res.StatusCode, nil
}
