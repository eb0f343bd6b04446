package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// maxAttempts bounds how many backends one request may be sent to when
// connections are refused.
const maxAttempts = 3

// Bodies of responses the proxy writes itself.
const (
	bodyNoRoute    = "404 page not found: no app is routed for this host\n"
	bodyNoBackends = "503 service unavailable: no backends for this host\n"
	bodyBadGateway = "502 bad gateway: the app did not answer\n"
)

// forward is the state of one proxied request, shared by ServeHTTP, the
// round tripper and the error handler through the request context. They
// all run on the request's goroutine.
type forward struct {
	host    string
	start   time.Time
	side    *side      // the release answering; changes only on failover
	pinned  bool       // an explicit override: never fail over
	backend *backend   // counted in flight until ServeHTTP returns
	tried   []*backend // backends that refused a connection
	status  int        // of the backend's response; 0 until it arrives
}

type forwardKey struct{}

// ServeHTTP routes r by its Host header, to the stable or canary side of
// the route as decide says.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := &forward{host: normalizeHost(r.Host), start: time.Now()}
	rt, a := p.acquire(f, r.Header)
	switch {
	case rt == nil:
		writeText(w, http.StatusNotFound, bodyNoRoute)
		return
	case f.backend == nil:
		p.log.Debug("no backends for route", "host", f.host, "app", rt.app, "env", rt.env, "release", f.side.release)
		writeText(w, http.StatusServiceUnavailable, bodyNoBackends)
		p.record(f, classError)
		return
	}
	if a.setCookie {
		// Pin the client to the side it was assigned, even when this
		// answer came from the other side on failover.
		assigned := rt.stable
		if a.canary {
			assigned = rt.canary
		}
		w.Header()["Set-Cookie"] = append(w.Header()["Set-Cookie"], assigned.setCookie)
	}
	// Runs after the response, websocket session or stream is over, and on
	// http.ErrAbortHandler panics.
	defer func() {
		p.done(f.backend)
		switch {
		case f.status == 0:
			p.record(f, classError)
		default:
			p.record(f, statusClass(f.status))
		}
	}()
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, f)))
}

// acquire routes a new request for f.host from the current table: it
// decides the side by the request's headers, picks a backend and counts it
// in flight (the caller must call done), and sets f.side and f.backend.
// It returns the route and the assignment, a nil route if none matches,
// and leaves f.backend nil if no backend is left.
//
// A request that picked a backend from a table that has since been
// replaced could otherwise slip past Drain: so after counting itself in
// flight it checks that the backend is still in the table and, if not,
// routes again by the newer table (see apply for the ordering argument).
func (p *Proxy) acquire(f *forward, h http.Header) (*route, assignment) {
	roll := -1
	for range 100 {
		rt := p.snap.Load().routes[f.host]
		if rt == nil {
			return nil, assignment{}
		}
		var a assignment
		if rt.canary != nil {
			if roll < 0 {
				roll = rand.IntN(100)
			}
			a = rt.decide(h, roll)
		}
		f.pinned = a.override
		s, b := rt.pickFor(a, f.start.UnixNano(), nil)
		f.side = s
		if b == nil {
			return rt, a
		}
		b.inflight.Add(1)
		if !b.retired.Load() {
			f.backend = b
			return rt, a
		}
		p.done(b)
	}
	// Tables changing faster than a map lookup; give up on this request
	// (f.side is from the last table tried).
	return p.snap.Load().routes[f.host], assignment{}
}

// reacquire picks the backend for a retry of f after f.backend refused a
// connection: from the current table, on the side serving the same
// release, skipping the backends tried. Like a first pick (see pickOn) it
// moves to the other side only when this one has no healthy backend left
// and the request is not an explicit override. It returns nil when
// nothing is left, or when the release has left the table meanwhile.
func (p *Proxy) reacquire(f *forward) *backend {
	for range 100 {
		rt := p.snap.Load().routes[f.host]
		if rt == nil {
			return nil
		}
		s := rt.sideOf(f.side.release)
		if s == nil {
			// The release left the table since the request started.
			return nil
		}
		s, b := rt.pickOn(s, f.pinned, time.Now().UnixNano(), f.tried)
		if b == nil {
			return nil
		}
		b.inflight.Add(1)
		if !b.retired.Load() {
			f.side = s
			return b
		}
		p.done(b)
	}
	return nil
}

// done ends one in-flight request to b and drops b if it has left the
// table and this was its last request.
func (p *Proxy) done(b *backend) {
	if b.inflight.Add(-1) == 0 && b.retired.Load() {
		p.mu.Lock()
		p.dropIfIdle(b)
		p.mu.Unlock()
	}
}

// record counts the finished request f in its release's metrics.
func (p *Proxy) record(f *forward, class int) {
	st := f.side.stats
	if st == nil {
		return
	}
	end := time.Now()
	d := end.Sub(f.start)
	bucket := noLatency
	if class != class1xx {
		bucket = latencyBucket(d)
	}
	st.record(class, bucket, d, p.metrics.second(end))
}

// rewrite prepares the outbound request; the backend address is filled in
// per attempt by roundTrip. The Host header is the client's.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	if p.trustForwarded {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if p.trustForwarded {
		// The proxy in front knows the original host and scheme.
		for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := pr.In.Header.Get(h); v != "" {
				pr.Out.Header.Set(h, v)
			}
		}
	}
	pr.Out.URL.Scheme = "http"
	if pr.Out.Body != nil {
		pr.Out.Body = &countingBody{r: pr.Out.Body}
	}
}

// roundTripper sends each attempt to the forward's current backend.
type roundTripper struct{ p *Proxy }

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.p.roundTrip(req)
}

// roundTrip sends req to the request's backend. If the connection is
// refused (nothing of the request was sent, so any method is safe to
// resend) it ejects that backend and tries another of the route, up to
// maxAttempts in all, on the same side (see reacquire). Any other error
// goes to upstreamError, unretried.
func (p *Proxy) roundTrip(req *http.Request) (*http.Response, error) {
	f, _ := req.Context().Value(forwardKey{}).(*forward)
	if f == nil {
		return nil, errors.New("proxy: request without a route")
	}
	for attempt := 1; ; attempt++ {
		b := f.backend
		out := *req
		u := *req.URL
		u.Host = b.addr
		out.URL = &u
		res, err := b.transport.RoundTrip(&out)
		if err == nil {
			b.succeeded()
			b.served.Add(1)
			return res, nil
		}
		if !isDialError(err) || req.Context().Err() != nil {
			return nil, err
		}
		if d := b.eject(time.Now()); d > 0 {
			p.log.Warn("backend refused a connection; ejected", append(b.logAttrs(), "host", f.host, "for", d, "err", err)...)
		}
		if bodyRead(req) || attempt >= maxAttempts {
			return nil, err
		}
		f.tried = append(f.tried, b)
		next := p.reacquire(f)
		if next == nil {
			return nil, err
		}
		f.backend = next
		p.done(b)
	}
}

// isDialError reports whether err happened while connecting, before any
// byte of the request was written.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// countingBody records whether the transport read any of the request
// body. Its Close does nothing: the transport closes the body when a dial
// fails, and a retry must still read it. ReverseProxy closes the body it
// wraps when the request ends.
type countingBody struct {
	r    io.ReadCloser
	read atomic.Bool
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

func (c *countingBody) Close() error { return nil }

func bodyRead(req *http.Request) bool {
	c, ok := req.Body.(*countingBody)
	return ok && c.read.Load()
}

// modifyResponse notes the status of the backend's answer for metrics.
func (p *Proxy) modifyResponse(res *http.Response) error {
	if f, ok := res.Request.Context().Value(forwardKey{}).(*forward); ok {
		f.status = res.StatusCode
	}
	return nil
}

// upstreamError answers when the backend could not be reached or failed
// before sending a response.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	attrs := []any{"err", err}
	if f, ok := r.Context().Value(forwardKey{}).(*forward); ok {
		f.status = 0 // whatever the backend said, the proxy failed this one
		attrs = append(attrs, "host", f.host)
		attrs = append(attrs, f.backend.logAttrs()...)
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		p.log.Debug("client canceled a proxied request", attrs...)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.log.Warn("upstream request failed", attrs...)
	writeText(w, http.StatusBadGateway, bodyBadGateway)
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte { return *b.pool.Get().(*[]byte) }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == 32<<10 {
		buf = buf[:cap(buf)]
		b.pool.Put(&buf)
	}
}
