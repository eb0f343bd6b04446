package proxy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoutesByHost(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("a.test", a), routeTo("B.Test", b)))

	for _, tc := range []struct{ host, want string }{
		{"a.test", "a"},
		{"A.TEST", "a"},
		{"a.test:8080", "a"},
		{"a.test.", "a"},
		{"b.test", "b"},
		{"b.TEST:443", "b"},
	} {
		code, body := get(t, srv.Client(), srv.URL, tc.host)
		if code != http.StatusOK || body != tc.want {
			t.Errorf("Host %q: got %d %q, want 200 %q", tc.host, code, body, tc.want)
		}
	}
}

func TestUnknownHostIs404(t *testing.T) {
	a := newTestBackend(t, "a")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("a.test", a)))

	for _, host := range []string{"other.test", "a.test.evil", ""} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		req.Host = host
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("Host %q: status %d, want 404", host, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Host %q: Content-Type %q, want text/plain", host, ct)
		}
		if len(body) == 0 || len(body) > 100 {
			t.Errorf("Host %q: body %q, want a short message", host, body)
		}
	}
	if n := a.hits.Load(); n != 0 {
		t.Errorf("backend got %d requests for unknown hosts", n)
	}
}

func TestRouteWithoutBackendsIs503(t *testing.T) {
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, Route{Host: "empty.test"}))
	if code, _ := get(t, srv.Client(), srv.URL, "empty.test"); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
}

func TestRoundRobinAcrossReplicas(t *testing.T) {
	bs := []*testBackend{newTestBackend(t, "r1"), newTestBackend(t, "r2"), newTestBackend(t, "r3")}
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", bs...)))

	const n = 60
	for range n {
		if code, _ := get(t, srv.Client(), srv.URL, "app.test"); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	for _, b := range bs {
		// Sequential requests see no load anywhere, so the rotation alone
		// decides; allow a little slack for a decrement racing the next
		// request.
		if got := b.hits.Load(); got < n/3-4 || got > n/3+4 {
			t.Errorf("backend %s got %d of %d requests, want about %d", b.name, got, n, n/3)
		}
	}
}

func TestLeastInFlightAvoidsBusyReplica(t *testing.T) {
	slow, fast := newTestBackend(t, "slow"), newTestBackend(t, "fast")
	release := make(chan struct{})
	slow.handle(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "slow")
	})
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", slow, fast)))

	// Park requests on the slow replica until it holds one.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	for slow.hits.Load() == 0 {
		wg.Go(func() { _, _, _ = tryGet(srv.Client(), srv.URL, "app.test") })
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "fast replica idle", 2*time.Second, func() bool {
		s, _ := statusOfBackend(p, "fast")
		return s.InFlight == 0
	})
	for range 10 {
		if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "fast" {
			t.Fatalf("got %q, want every request on the idle replica", body)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprintf("trust=%v", trust), func(t *testing.T) {
			a := newTestBackend(t, "a")
			p, srv := newTestProxy(t, Options{TrustForwardedHeaders: trust})
			mustSetTable(t, p, table(1, routeTo("app.test", a)))

			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/path?q=1", nil)
			req.Host = "App.Test:8443"
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Host", "original.test")
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()

			got := a.lastReq.Load()
			want := map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "App.Test:8443",
			}
			if trust {
				want["X-Forwarded-For"] = "203.0.113.9, 127.0.0.1"
				want["X-Forwarded-Host"] = "original.test"
			}
			for h, want := range want {
				if v := got.Header.Get(h); v != want {
					t.Errorf("%s = %q, want %q", h, v, want)
				}
			}
			if got.Host != "App.Test:8443" {
				t.Errorf("backend saw Host %q, want the client's", got.Host)
			}
			if got.URL.RequestURI() != "/path?q=1" {
				t.Errorf("backend saw %q, want /path?q=1", got.URL.RequestURI())
			}
		})
	}
}

// wsAccept computes Sec-WebSocket-Accept (RFC 6455 section 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestWebSocketPassThrough(t *testing.T) {
	ws := newTestBackend(t, "ws")
	ws.handle(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
			!strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			http.Error(w, "not a websocket handshake", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		if brw.Flush() != nil {
			return
		}
		_, _ = io.Copy(conn, brw) // echo until the client hangs up
	})
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("ws.test", ws)))

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	if got, want := res.Header.Get("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	for _, msg := range []string{"hello", "over the proxy"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != msg {
			t.Fatalf("echo %q, want %q", buf, msg)
		}
	}
	if s, _ := statusOfBackend(p, "ws"); s.InFlight != 1 {
		t.Errorf("in flight during the session = %d, want 1", s.InFlight)
	}
	_ = conn.Close()
	waitFor(t, "session to end", 5*time.Second, func() bool {
		s, _ := statusOfBackend(p, "ws")
		return s.InFlight == 0
	})
	// Counted as 1xx once the session ends, without a latency.
	st := waitForRequests(t, p, 1).Total[0]
	if st.Status["1xx"] != 1 || slices.Max(st.Latency.Counts) != 0 {
		t.Errorf("metrics of the session: %+v", st)
	}
}

func TestStreamedResponsesArriveBeforeTheHandlerEnds(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			b := newTestBackend(t, "stream")
			release := make(chan struct{})
			b.handle(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				_, _ = io.WriteString(w, "data: one\n\n")
				_ = http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "data: two\n\n")
			})
			p, srv := newTestProxy(t, Options{})
			mustSetTable(t, p, table(1, routeTo("sse.test", b)))

			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
			req.Host = "sse.test"
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			first, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("first event did not arrive while the handler was running: %v", err)
			}
			if first != "data: one\n" {
				t.Fatalf("first line %q", first)
			}
			close(release)
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != "\ndata: two\n\n" {
				t.Fatalf("rest %q", rest)
			}
		})
	}
}

func TestStaleTableRejected(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(5, routeTo("app.test", a)))

	err := p.SetTable(table(4, routeTo("app.test", b)))
	if !errors.Is(err, ErrStaleTable) {
		t.Fatalf("older table: err = %v, want ErrStaleTable", err)
	}
	var stale *StaleTableError
	if !errors.As(err, &stale) || stale.Current != 5 || stale.Got != 4 {
		t.Fatalf("err = %#v, want StaleTableError{Got: 4, Current: 5}", err)
	}
	// Equal version: a no-op, not an error.
	if err := p.SetTable(table(5, routeTo("app.test", b))); err != nil {
		t.Fatalf("same version: %v", err)
	}
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "a" {
		t.Fatalf("after rejected tables got %q, want a", body)
	}
	if v := p.Table().Version; v != 5 {
		t.Fatalf("version %d, want 5", v)
	}
}

func TestInvalidTableNotSwapped(t *testing.T) {
	a := newTestBackend(t, "a")
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", a)))
	bad := table(2, Route{Host: "app.test", Backends: []Backend{{ID: "x"}}})
	if err := p.SetTable(bad); !errors.Is(err, ErrInvalidTable) {
		t.Fatalf("err = %v, want ErrInvalidTable", err)
	}
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "a" {
		t.Fatalf("got %q after an invalid table, want a", body)
	}
}

func TestTableIsCopied(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	p, srv := newTestProxy(t, Options{})
	tb := table(1, routeTo("app.test", a))
	mustSetTable(t, p, tb)
	tb.Routes[0].Backends[0] = b.backend(1) // the caller's copy
	got := p.Table()
	got.Routes[0].Host = "changed.test" // and the returned copy
	if _, body := get(t, srv.Client(), srv.URL, "app.test"); body != "a" {
		t.Fatalf("got %q, want a", body)
	}
}

func TestValidate(t *testing.T) {
	ok := Backend{ID: "i1", Addr: "127.0.0.1:8080"}
	for _, tc := range []struct {
		name  string
		table Table
		want  string // substring of the error; empty means valid
	}{
		{"empty", Table{}, ""},
		{"good", table(1, Route{Host: "a.test", Backends: []Backend{ok}, Health: HealthCheck{Path: "/up"}}), ""},
		{"no backends", table(1, Route{Host: "a.test"}), ""},
		{"shared backend", table(1, Route{Host: "a.test", Backends: []Backend{ok}}, Route{Host: "www.a.test", Backends: []Backend{ok}}), ""},
		{"ipv6 host", table(1, Route{Host: "[::1]", Backends: []Backend{ok}}), ""},
		{"no host", table(1, Route{Backends: []Backend{ok}}), "host is empty"},
		{"host with port", table(1, Route{Host: "a.test:80", Backends: []Backend{ok}}), "port"},
		{"host with scheme", table(1, Route{Host: "http://a.test", Backends: []Backend{ok}}), "bare host"},
		{"duplicate host", table(1, Route{Host: "a.test", Backends: []Backend{ok}}, Route{Host: "A.TEST", Backends: []Backend{ok}}), "also routed"},
		{"no id", table(1, Route{Host: "a.test", Backends: []Backend{{Addr: "127.0.0.1:1"}}}), "no id"},
		{"duplicate id", table(1, Route{Host: "a.test", Backends: []Backend{ok, ok}}), "listed twice"},
		{"no addr", table(1, Route{Host: "a.test", Backends: []Backend{{ID: "i1"}}}), "addr is empty"},
		{"addr without port", table(1, Route{Host: "a.test", Backends: []Backend{{ID: "i1", Addr: "127.0.0.1"}}}), "not host:port"},
		{"addr bad port", table(1, Route{Host: "a.test", Backends: []Backend{{ID: "i1", Addr: "127.0.0.1:http"}}}), "valid port"},
		{"one id two addrs", table(1, Route{Host: "a.test", Backends: []Backend{ok}}, Route{Host: "b.test", Backends: []Backend{{ID: "i1", Addr: "127.0.0.1:9"}}}), "one address"},
		{"relative health path", table(1, Route{Host: "a.test", Backends: []Backend{ok}, Health: HealthCheck{Path: "up"}}), "start with /"},
		{"negative interval", table(1, Route{Host: "a.test", Backends: []Backend{ok}, Health: HealthCheck{Path: "/up", Interval: -1}}), "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.table.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			case err != nil && !errors.Is(err, ErrInvalidTable):
				t.Fatalf("err = %v does not wrap ErrInvalidTable", err)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":          "example.com",
		"Example.COM:8080":     "example.com",
		"example.com.":         "example.com",
		"example.com.:80":      "example.com",
		"[::1]:8080":           "[::1]",
		"[::1]":                "[::1]",
		"":                     "",
		"127.0.0.1:3000":       "127.0.0.1",
		"WWW.Example.Com:443":  "www.example.com",
		"double:colon:without": "double:colon:without",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSwapUnderLoad switches between two releases while clients send
// requests continuously: no request may fail, and once the last switch
// returns every new request goes to the new release. Then the old
// release is drained and stopped under load, still without errors.
func TestSwapUnderLoad(t *testing.T) {
	v1 := []*testBackend{newTestBackend(t, "v1-a"), newTestBackend(t, "v1-b")}
	v2 := []*testBackend{newTestBackend(t, "v2-a"), newTestBackend(t, "v2-b")}
	p, srv := newTestProxy(t, Options{})
	mustSetTable(t, p, table(1, routeTo("app.test", v1...)))

	var (
		stop     atomic.Bool
		failures atomic.Int64
		seen     sync.Map // body -> true
		wg       sync.WaitGroup
		total    atomic.Int64
		firstErr atomic.Pointer[string]
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				code, body, err := tryGet(client, srv.URL, "app.test")
				total.Add(1)
				if err != nil || code != http.StatusOK {
					if failures.Add(1) == 1 {
						msg := fmt.Sprintf("status %d body %q err %v", code, body, err)
						firstErr.Store(&msg)
					}
					continue
				}
				seen.Store(body, true)
			}
		})
	}

	const swaps = 20
	for i := 2; i <= swaps+1; i++ {
		set := v1
		if i%2 == 1 {
			set = v2
		}
		mustSetTable(t, p, table(uint64(i), routeTo("app.test", set...)))
		time.Sleep(3 * time.Millisecond)
	}
	// The last table (version 21) routes to v2.
	for range 20 {
		if _, body := get(t, client, srv.URL, "app.test"); !strings.HasPrefix(body, "v2-") {
			t.Fatalf("after the final switch got %q, want a v2 backend", body)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if n, err := p.Drain(ctx, []string{"v1-a", "v1-b"}); err != nil || n != 0 {
		t.Fatalf("Drain = %d, %v", n, err)
	}
	for _, b := range v1 {
		b.srv.Close()
	}
	time.Sleep(20 * time.Millisecond) // keep the load on the stopped release's address
	stop.Store(true)
	wg.Wait()

	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed; first: %s", n, total.Load(), *firstErr.Load())
	}
	for _, name := range []string{"v1-a", "v1-b", "v2-a", "v2-b"} {
		if _, ok := seen.Load(name); !ok {
			t.Errorf("no response from %s", name)
		}
	}
	t.Logf("%d requests across %d swaps, 0 failed", total.Load(), swaps)
}
