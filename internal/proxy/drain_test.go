package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestDrainWaitsForSlowRequest(t *testing.T) {
	old, next := newTestBackend(t, "old"), newTestBackend(t, "new")
	started, release := make(chan struct{}), make(chan struct{})
	old.handle(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "old finished")
	})
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", old)))

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := tryGet(srv.Client(), srv.URL, "app.test")
		slow <- result{code, body, err}
	}()
	<-started

	mustSetTable(t, p, table(2, routeTo("app.test", next)))
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "new" {
		t.Fatalf("after the switch got %q, want new", body)
	}

	// A drain that times out reports the request still in flight.
	short, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	n, err := p.Drain(short, []string{"old"})
	cancel()
	if n != 1 || !errors.Is(err, ErrDrainIncomplete) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short drain = %d, %v; want 1 and ErrDrainIncomplete", n, err)
	}
	if s, ok := statusOfBackend(p, "old"); !ok || s.InTable || s.InFlight != 1 {
		t.Fatalf("status of draining backend = %+v, %v", s, ok)
	}

	drained := make(chan error, 1)
	go func() {
		n, err := p.Drain(t.Context(), []string{"old"})
		if err == nil && n != 0 {
			err = errors.New("remaining requests without an error")
		}
		drained <- err
	}()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a request was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the request finished")
	}
	r := <-slow
	if r.err != nil || r.code != http.StatusOK || r.body != "old finished" {
		t.Fatalf("slow request: %d %q %v; want it to finish on the old backend", r.code, r.body, r.err)
	}
	if _, ok := statusOfBackend(p, "old"); ok {
		t.Fatal("drained backend is still known to the proxy")
	}
	waitFor(t, "old backend's connections to close", 5*time.Second, func() bool { return old.conns.Load() == 0 })
}

func TestDrainUnknownBackendsReturnsAtOnce(t *testing.T) {
	p, _ := newTestProxy(t, Options{})
	n, err := p.Drain(t.Context(), []string{"never-seen"})
	if n != 0 || err != nil {
		t.Fatalf("Drain = %d, %v", n, err)
	}
}

func TestBackendBackBeforeDrainedIsRevived(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	release := make(chan struct{})
	started := make(chan struct{})
	a.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "a")
	})
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", a)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/slow", nil)
		req.Host = "app.test"
		if res, err := srv.Client().Do(req); err == nil {
			_ = res.Body.Close()
		}
	}()
	<-started
	mustSetTable(t, p, table(2, routeTo("app.test", b)))
	mustSetTable(t, p, table(3, routeTo("app.test", a))) // rollback while a drains
	close(release)
	<-done
	s, ok := statusOfBackend(p, "a")
	if !ok || !s.InTable {
		t.Fatalf("revived backend status %+v, %v", s, ok)
	}
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "a" {
		t.Fatalf("got %q, want a", body)
	}
	if s, _ := statusOfBackend(p, "a"); s.Requests != 2 {
		t.Fatalf("revived backend served %d requests, want its counters carried over (2)", s.Requests)
	}
}

func TestBackendAddressChangeRetiresTheOldOne(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, Route{Host: "app.test", Backends: []Backend{{ID: "i1", Addr: a.addr()}}}))
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "a" {
		t.Fatalf("got %q", body)
	}
	mustSetTable(t, p, table(2, Route{Host: "app.test", Backends: []Backend{{ID: "i1", Addr: b.addr()}}}))
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "b" {
		t.Fatalf("after the address changed got %q, want b", body)
	}
	st := p.Status()
	if len(st.Backends) != 1 || st.Backends[0].Addr != b.addr() {
		t.Fatalf("status %+v, want only the new address", st.Backends)
	}
	waitFor(t, "connections to the old address to close", 5*time.Second, func() bool { return a.conns.Load() == 0 })
}
