package loadgen

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSendReusesTheConnection(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	body := strings.Repeat("x", 5000)
	req := []byte("POST /api/1/envelope/ HTTP/1.1\r\nHost: bench\r\nContent-Length: 5000\r\n\r\n" + body)

	c := NewClient(addr, "bench")
	defer c.Close()
	for i := range 3 {
		status, got, err := c.Send(req)
		if err != nil || status != 200 || string(got) != "POST /api/1/envelope/ 5000" {
			t.Fatalf("send %d: %d %q %v", i, status, got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 requests took %d connections, want 1", n)
	}
}

func TestSendDoesNotResend(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		if requests.Load() == 2 {
			// Drop the connection without an answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	req := []byte("POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: 2\r\n\r\nhi")
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"), "bench")
	defer c.Close()
	if _, _, err := c.Send(req); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Send(req); err == nil {
		t.Fatal("the dropped request succeeded")
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2 (no resend)", n)
	}
	if status, _, err := c.Send(req); err != nil || status != 200 {
		t.Fatalf("after a failure the client should reconnect: %d %v", status, err)
	}
}
