package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// Health check settings used when a Route's HealthCheck leaves them zero.
const (
	defaultHealthInterval     = 5 * time.Second
	defaultHealthTimeout      = 2 * time.Second
	defaultHealthyThreshold   = 2
	defaultUnhealthyThreshold = 3
)

// withDefaults fills zero settings of an enabled check. The timeout never
// exceeds the interval.
func (h HealthCheck) withDefaults() HealthCheck {
	if h.Interval == 0 {
		h.Interval = defaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = defaultHealthTimeout
	}
	h.Timeout = min(h.Timeout, h.Interval)
	if h.HealthyThreshold == 0 {
		h.HealthyThreshold = defaultHealthyThreshold
	}
	if h.UnhealthyThreshold == 0 {
		h.UnhealthyThreshold = defaultUnhealthyThreshold
	}
	return h
}

// Run performs the active health checks until ctx ends, then stops every
// checker and waits for it. Checkers follow the table: SetTable starts
// them for new backends and stops them for removed ones. Without Run no
// backend is ever marked unhealthy. Run returns an error only if it is
// already running.
func (p *Proxy) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("proxy: Run is already running")
	}
	p.running = true
	p.runCtx = ctx
	p.reconcileChecks(p.snap.Load().table)
	p.mu.Unlock()

	<-ctx.Done()

	p.mu.Lock()
	p.runCtx = nil
	p.reconcileChecks(p.snap.Load().table) // stops them all
	p.mu.Unlock()
	p.checkWG.Wait()
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
	return nil
}

// checker actively checks one backend.
type checker struct {
	cfg    HealthCheck // with defaults
	host   string      // Host header of the probes
	cancel context.CancelFunc
}

// reconcileChecks makes the running checkers match table t: one per
// backend (stable or canary) of a route with a health path (the first
// such route, if a backend is in several), none when Run is not active. A backend that is
// no longer checked counts as healthy. Called with mu held.
func (p *Proxy) reconcileChecks(t Table) {
	want := make(map[*backend]checker)
	if p.runCtx != nil {
		for _, r := range t.Routes {
			if r.Health.Path == "" {
				continue
			}
			backends := r.Backends
			if r.Canary != nil {
				backends = append(slices.Clip(backends), r.Canary.Backends...)
			}
			for _, tb := range backends {
				b := p.backends[tb.ID]
				if _, ok := want[b]; ok || b == nil {
					continue
				}
				want[b] = checker{cfg: r.Health.withDefaults(), host: normalizeHost(r.Host)}
			}
		}
	}
	for b, c := range p.checks {
		if w, ok := want[b]; ok && w.cfg == c.cfg && w.host == c.host {
			delete(want, b)
			continue
		}
		c.cancel()
		delete(p.checks, b)
		if _, ok := want[b]; !ok {
			b.unhealthy.Store(false)
		}
	}
	for b, c := range want {
		ctx, cancel := context.WithCancel(p.runCtx)
		c.cancel = cancel
		p.checks[b] = &c
		probe := p.probeFunc(b.addr, c.host, c.cfg)
		p.checkWG.Go(func() { p.checkLoop(ctx, b, c.cfg, probe) })
	}
}

// checkLoop probes b now and then every cfg.Interval until ctx ends,
// moving it in and out of rotation as thresholds are crossed.
func (p *Proxy) checkLoop(ctx context.Context, b *backend, cfg HealthCheck, probe func(context.Context) error) {
	s := healthState{healthy: !b.unhealthy.Load()}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		err := probe(ctx)
		if ctx.Err() != nil {
			return
		}
		var changed bool
		s, changed = s.observe(err == nil, cfg)
		if changed {
			// Under mu so a checker being stopped by reconcileChecks
			// cannot overwrite the state it leaves behind.
			p.mu.Lock()
			stopped := ctx.Err() != nil
			if !stopped {
				b.unhealthy.Store(!s.healthy)
			}
			p.mu.Unlock()
			if stopped {
				return
			}
			attrs := append(b.logAttrs(), "path", cfg.Path)
			if s.healthy {
				p.log.Info("backend passed health checks; back in rotation", attrs...)
			} else {
				p.log.Warn("backend failed health checks; out of rotation", append(attrs, "err", err)...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthState counts consecutive results of one backend's checks.
type healthState struct {
	healthy bool
	passes  int
	fails   int
}

// observe records one check result and reports whether the backend
// changed between healthy and unhealthy.
func (s healthState) observe(pass bool, cfg HealthCheck) (healthState, bool) {
	if pass {
		s.passes, s.fails = s.passes+1, 0
		if !s.healthy && s.passes >= cfg.HealthyThreshold {
			s.healthy = true
			return s, true
		}
		return s, false
	}
	s.passes, s.fails = 0, s.fails+1
	if s.healthy && s.fails >= cfg.UnhealthyThreshold {
		s.healthy = false
		return s, true
	}
	return s, false
}

// newHealthClient returns the client for probes. It keeps no idle
// connections, so a backend that leaves the table leaves nothing open.
func newHealthClient() *http.Client {
	d := &net.Dialer{Timeout: dialTimeout}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DialContext:        d.DialContext,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probeFunc returns one check of addr: GET cfg.Path with the route's Host
// header, passing on a 2xx or 3xx answer within cfg.Timeout.
func (p *Proxy) probeFunc(addr, host string, cfg HealthCheck) func(context.Context) error {
	url := "http://" + addr + cfg.Path
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Host = host
		req.Header.Set("User-Agent", "slipway-proxy-health")
		res, err := p.healthClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		if res.StatusCode < 200 || res.StatusCode > 399 {
			return fmt.Errorf("GET %s: status %d", cfg.Path, res.StatusCode)
		}
		return nil
	}
}
