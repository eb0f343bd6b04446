package proxy

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrInvalidTable is wrapped by every error Validate returns.
var ErrInvalidTable = errors.New("invalid routing table")

// Validate reports the first problem that keeps t from being served: a
// route without a host, two routes for the same host, a backend without an
// ID or a host:port address, one backend ID listed twice in a route (on
// either side) or with two addresses, a health check with a relative path
// or negative settings, a canary whose weight is outside 0-100, that has
// a weight but no backends or the stable release's number, or a Sticky
// that is neither "cookie" nor "header:NAME". The error wraps
// ErrInvalidTable.
func (t Table) Validate() error {
	hosts := make(map[string]int, len(t.Routes))
	addrs := make(map[string]string)
	for i, r := range t.Routes {
		where := fmt.Sprintf("route %d (host %q)", i, r.Host)
		if err := validateHost(r.Host); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidTable, where, err)
		}
		h := normalizeHost(r.Host)
		if j, dup := hosts[h]; dup {
			return fmt.Errorf("%w: %s: host is also routed by route %d; merge the two routes", ErrInvalidTable, where, j)
		}
		hosts[h] = i
		ids := make(map[string]bool, len(r.Backends))
		if err := validateBackends(r.Backends, ids, addrs); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidTable, where, err)
		}
		if c := r.Canary; c != nil {
			if err := validateCanary(*c, r.Release); err != nil {
				return fmt.Errorf("%w: %s: canary: %w", ErrInvalidTable, where, err)
			}
			if err := validateBackends(c.Backends, ids, addrs); err != nil {
				return fmt.Errorf("%w: %s: canary: %w", ErrInvalidTable, where, err)
			}
		}
		if _, ok := parseSticky(r.Sticky); !ok {
			return fmt.Errorf("%w: %s: sticky %q: use \"cookie\" or \"header:NAME\" with NAME an HTTP header name",
				ErrInvalidTable, where, r.Sticky)
		}
		if err := validateHealth(r.Health); err != nil {
			return fmt.Errorf("%w: %s: health check: %w", ErrInvalidTable, where, err)
		}
	}
	return nil
}

// validateBackends checks the backends of one side of a route. ids holds
// the IDs already seen in the route, addrs the address of every ID seen
// in the table; both are updated.
func validateBackends(bs []Backend, ids map[string]bool, addrs map[string]string) error {
	for _, b := range bs {
		if b.ID == "" {
			return fmt.Errorf("a backend (addr %q) has no id", b.Addr)
		}
		if ids[b.ID] {
			return fmt.Errorf("backend %q is listed twice", b.ID)
		}
		ids[b.ID] = true
		if err := validateAddr(b.Addr); err != nil {
			return fmt.Errorf("backend %q: %w", b.ID, err)
		}
		if prev, ok := addrs[b.ID]; ok && prev != b.Addr {
			return fmt.Errorf("backend %q has addr %q here and %q in another route; one instance has one address",
				b.ID, b.Addr, prev)
		}
		addrs[b.ID] = b.Addr
	}
	return nil
}

// validateCanary checks a route's canary against its stable release.
func validateCanary(c Canary, stable int) error {
	switch {
	case c.Weight < 0 || c.Weight > 100:
		return fmt.Errorf("weight %d is not a percentage; use 0 to 100", c.Weight)
	case c.Weight > 0 && len(c.Backends) == 0:
		return fmt.Errorf("weight %d with no backends; send the canary's backends, or weight 0", c.Weight)
	case c.Release == stable:
		return fmt.Errorf("release %d is also the stable release; a canary must be another release", c.Release)
	case c.Release < 0:
		return fmt.Errorf("release %d is negative", c.Release)
	}
	return nil
}

func validateHost(host string) error {
	if host == "" {
		return errors.New("host is empty")
	}
	if strings.ContainsAny(host, " \t\r\n/\\@?#") {
		return errors.New("host must be a bare host name, without scheme, path or spaces")
	}
	if normalizeHost(host) != strings.ToLower(strings.TrimSuffix(host, ".")) {
		return errors.New("host must not include a port")
	}
	return nil
}

func validateAddr(addr string) error {
	if addr == "" {
		return errors.New("addr is empty; set it to host:port")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("addr %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("addr %q has no valid port", addr)
	}
	return nil
}

func validateHealth(h HealthCheck) error {
	if h.Path == "" {
		return nil
	}
	switch {
	case !strings.HasPrefix(h.Path, "/"):
		return fmt.Errorf("path %q must start with /", h.Path)
	case h.Interval < 0 || h.Timeout < 0:
		return errors.New("interval and timeout must not be negative")
	case h.HealthyThreshold < 0 || h.UnhealthyThreshold < 0:
		return errors.New("thresholds must not be negative")
	}
	return nil
}

// normalizeHost lowercases a Host header and removes its port and any
// trailing dot, so "Example.COM.:8080" and "example.com" match. It does not
// allocate when the host is already lowercase without a port.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if strings.HasPrefix(h, "[") {
			if j := strings.IndexByte(h, ']'); j > 0 {
				h = h[:j+1]
			}
		} else if strings.IndexByte(h[:i], ':') < 0 {
			h = h[:i]
		}
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}
