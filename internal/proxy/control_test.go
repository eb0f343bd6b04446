package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServe runs Serve on a loopback port until the test ends and
// returns the app traffic URL and a Client for its control socket.
func startServe(t *testing.T, opts ServeOptions) (proxyURL string, c *Client, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opts) }()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })

	c = NewClient(opts.ControlSocket)
	waitFor(t, "control socket", 5*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("Serve returned early: %v", err)
		default:
		}
		return c.Ping(t.Context()) == nil
	})
	return "http://" + ln.Addr().String(), c, stop
}

// socketPath returns a short unix socket path (sun_path is ~108 bytes).
func socketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "slp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "ctl.sock")
}

func TestControlAPIAndClient(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	sock := socketPath(t)
	proxyURL, c, _ := startServe(t, ServeOptions{ControlSocket: sock})
	ctx := t.Context()

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("control socket mode %o, want 600", perm)
	}

	r := routeTo("app.test", a)
	r.Health = HealthCheck{Path: "/up", Interval: time.Second}
	want := table(3, r)
	v, err := c.SetTable(ctx, want)
	if err != nil || v != 3 {
		t.Fatalf("SetTable = %d, %v", v, err)
	}
	got, err := c.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tablesEqual(got, want) {
		t.Fatalf("Table = %+v, want %+v", got, want)
	}
	if _, body := get(t, http.DefaultClient, proxyURL, "app.test"); body != "a" {
		t.Fatalf("got %q, want a", body)
	}

	// Stale: 409 with the current version.
	_, err = c.SetTable(ctx, table(2, routeTo("app.test", b)))
	var stale *StaleTableError
	if !errors.As(err, &stale) || stale.Current != 3 || stale.Got != 2 || !errors.Is(err, ErrStaleTable) {
		t.Fatalf("stale SetTable err = %v, want StaleTableError{Got: 2, Current: 3}", err)
	}
	// Invalid: 400.
	_, err = c.SetTable(ctx, table(4, Route{Host: "app.test", Backends: []Backend{{ID: "x"}}}))
	if !errors.Is(err, ErrInvalidTable) || !strings.Contains(err.Error(), "addr is empty") {
		t.Fatalf("invalid SetTable err = %v, want ErrInvalidTable naming the problem", err)
	}

	// Switch to b while a request to a is in flight; drain a.
	started, release := make(chan struct{}), make(chan struct{})
	a.handle(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "a")
	})
	slow := make(chan error, 1)
	go func() { _, _, err := tryGet(http.DefaultClient, proxyURL, "app.test"); slow <- err }()
	<-started
	if v, err := c.SetTable(ctx, table(4, routeTo("app.test", b))); err != nil || v != 4 {
		t.Fatalf("SetTable = %d, %v", v, err)
	}
	n, err := c.Drain(ctx, []string{"a"}, 20*time.Millisecond)
	if n != 1 || !errors.Is(err, ErrDrainIncomplete) {
		t.Fatalf("Drain with a request in flight = %d, %v; want 1, ErrDrainIncomplete", n, err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 4 || len(st.Backends) != 2 {
		t.Fatalf("Status = %+v", st)
	}
	sa := st.Backends[0]
	if sa.ID != "a" || sa.InTable || sa.InFlight != 1 || sa.Requests != 1 || sa.Hosts[0] != "app.test" || sa.App != "web" {
		t.Fatalf("status of a = %+v", sa)
	}
	close(release)
	if n, err := c.Drain(ctx, []string{"a"}, 5*time.Second); n != 0 || err != nil {
		t.Fatalf("Drain = %d, %v", n, err)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}

	// A second proxy must not take over a live socket.
	err = Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", ControlSocket: sock})
	if err == nil || !strings.Contains(err.Error(), "another proxy") {
		t.Fatalf("second Serve on a live socket: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("first proxy no longer answers: %v", err)
	}
}

func tablesEqual(a, b Table) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestControlHandlerErrors(t *testing.T) {
	p, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := p.ControlHandler()
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/table", `{"version":1,"routes":[]}`, 200},
		{"PUT", "/table", `{"version":1,"routes":[]}`, 200}, // same version: no-op
		{"PUT", "/table", `{"version":0}`, 409},
		{"PUT", "/table", `not json`, 400},
		{"PUT", "/table", `{"version":2} {"version":3}`, 400},
		{"PUT", "/table", `{"version":2,"routes":[{"host":""}]}`, 400},
		{"POST", "/drain", `{"backends":"x"}`, 400},
		{"POST", "/drain", `{"backends":["x"]}`, 200},
		{"DELETE", "/table", ``, 405},
		{"GET", "/nope", ``, 404},
		{"GET", "/healthz", ``, 200},
	} {
		req, _ := http.NewRequest(tc.method, "http://proxy"+tc.path, strings.NewReader(tc.body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, rec.Code, rec.Body.String(), tc.want)
		}
		if rec.Code == 409 && !strings.Contains(rec.Body.String(), `"version":1`) {
			t.Errorf("409 body %s lacks the current version", rec.Body.String())
		}
	}
}

func TestServeReloadsStateOnRestart(t *testing.T) {
	a := newTestBackend(t, "a")
	dir := t.TempDir()
	state := filepath.Join(dir, "proxy-state.json")
	sock := socketPath(t)

	_, c, stop := startServe(t, ServeOptions{ControlSocket: sock, StatePath: state})
	if _, err := c.SetTable(t.Context(), table(7, routeTo("app.test", a))); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	// A stale socket file (as after a crash) must not stop the restart.
	if _, err := os.Stat(sock); err == nil {
		t.Fatal("socket file left after a clean shutdown")
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()

	proxyURL, c, _ := startServe(t, ServeOptions{ControlSocket: sock, StatePath: state})
	if code, body := get(t, http.DefaultClient, proxyURL, "app.test"); code != 200 || body != "a" {
		t.Fatalf("restarted proxy: %d %q, want it to route from the saved table", code, body)
	}
	if got, err := c.Table(t.Context()); err != nil || got.Version != 7 {
		t.Fatalf("restarted proxy table version %d, %v; want 7", got.Version, err)
	}
}

func TestServeRejectsCorruptState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(state, []byte(`{"version":`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Serve(t.Context(), ServeOptions{Listen: "127.0.0.1:0", ControlSocket: socketPath(t), StatePath: state})
	if err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("Serve with a corrupt state file: %v", err)
	}
}

func TestServeShutdownLetsRequestsFinish(t *testing.T) {
	a := newTestBackend(t, "a")
	started, release := make(chan struct{}), make(chan struct{})
	a.handle(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	proxyURL, c, stop := startServe(t, ServeOptions{ControlSocket: socketPath(t)})
	if _, err := c.SetTable(t.Context(), table(1, routeTo("app.test", a))); err != nil {
		t.Fatal(err)
	}
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() { _, body, err := tryGet(http.DefaultClient, proxyURL, "app.test"); res <- result{body, err} }()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if r := <-res; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func FuzzSetTable(f *testing.F) {
	f.Add([]byte(`{"version":1,"routes":[{"host":"a.test","backends":[{"id":"i1","addr":"127.0.0.1:8080"}]}]}`))
	f.Add([]byte(`{"version":2,"routes":[{"host":"A.test","health":{"path":"/up","interval":1000000000}},{"host":"a.TEST"}]}`))
	f.Add([]byte(`{"version":3,"routes":[{"host":"[::1]","backends":[{"id":"x","addr":"[::1]:1"},{"id":"x","addr":"h:2"}]}]}`))
	f.Add([]byte(`{"version":18446744073709551615,"routes":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := decodeTable(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidTable) {
				t.Fatalf("decode error %v does not wrap ErrInvalidTable", err)
			}
			return
		}
		err = p.SetTable(tb)
		if err != nil {
			if !errors.Is(err, ErrInvalidTable) {
				t.Fatalf("SetTable error %v is neither valid nor invalid", err)
			}
			return
		}
		got := p.Table()
		if tb.Version > 0 && got.Version != tb.Version {
			t.Fatalf("accepted version %d, serving %d", tb.Version, got.Version)
		}
		// Every accepted route is reachable by its host.
		for _, r := range got.Routes {
			if p.snap.Load().routes[normalizeHost(r.Host)] == nil && tb.Version > 0 {
				t.Fatalf("route %q not in the routing map", r.Host)
			}
		}
		_ = p.Status()
	})
}
