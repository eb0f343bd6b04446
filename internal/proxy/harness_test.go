package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// testBackend is a real HTTP server on loopback that answers with its
// name and counts its requests and open connections.
type testBackend struct {
	name     string
	srv      *httptest.Server
	hits     atomic.Int64
	conns    atomic.Int64 // open connections, from ConnState
	handler  atomic.Pointer[http.HandlerFunc]
	lastReq  atomic.Pointer[http.Request]
	lastBody atomic.Pointer[string]
}

func newTestBackend(t testing.TB, name string) *testBackend {
	t.Helper()
	b := &testBackend{name: name}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		s := string(body)
		b.lastBody.Store(&s)
		b.lastReq.Store(r)
		if h := b.handler.Load(); h != nil {
			(*h)(w, r)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.conns.Add(-1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBackend) addr() string { return b.srv.Listener.Addr().String() }

func (b *testBackend) handle(h http.HandlerFunc) { b.handler.Store(&h) }

func (b *testBackend) backend(release int) Backend {
	return Backend{ID: b.name, Addr: b.addr(), Release: release}
}

// testLogger writes warnings and errors to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newTestProxy returns a Proxy serving on a loopback HTTP server.
func newTestProxy(t *testing.T, opts Options) (*Proxy, *httptest.Server) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func mustSetTable(t *testing.T, p *Proxy, tb Table) {
	t.Helper()
	if err := p.SetTable(tb); err != nil {
		t.Fatalf("SetTable(version %d): %v", tb.Version, err)
	}
}

// table builds a table with one route per host.
func table(version uint64, routes ...Route) Table {
	return Table{Version: version, Routes: routes}
}

func routeTo(host string, bs ...*testBackend) Route {
	r := Route{Host: host, App: "web", Env: "production", Release: 1}
	for _, b := range bs {
		r.Backends = append(r.Backends, b.backend(1))
	}
	return r
}

// get sends a request with the given Host through the proxy and returns
// status and body.
func get(t *testing.T, c *http.Client, proxyURL, host string) (int, string) {
	t.Helper()
	code, body, err := tryGet(c, proxyURL, host)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func tryGet(c *http.Client, proxyURL, host string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func statusOfBackend(p *Proxy, id string) (BackendStatus, bool) {
	for _, b := range p.Status().Backends {
		if b.ID == id {
			return b, true
		}
	}
	return BackendStatus{}, false
}
