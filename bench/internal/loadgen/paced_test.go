package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// label returns what is between the first '[' and the next ']'.
func label(body []byte) []byte {
	_, rest, ok := bytes.Cut(body, []byte("["))
	if !ok {
		return nil
	}
	v, _, ok := bytes.Cut(rest, []byte("]"))
	if !ok {
		return nil
	}
	return v
}

func TestPaced(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch {
		case i%10 == 0:
			http.Error(w, "hello [v2] failing on purpose", http.StatusInternalServerError)
		case i%2 == 0:
			fmt.Fprintln(w, "hello [v2] pid 1")
		default:
			fmt.Fprintln(w, "hello [v1] pid 1")
		}
	}))
	defer srv.Close()

	const rate = 400
	p := StartPaced(context.Background(), srv.Listener.Addr().String(), "x", rate, 4, label)
	time.Sleep(500 * time.Millisecond)
	events := p.Stop()
	if got := len(events); got < rate/4 || got > rate*3/4 {
		t.Fatalf("%d requests in 0.5s at %d/s", got, rate)
	}
	vs := p.Versions()
	seen := map[string]int{}
	errs := 0
	for i, e := range events {
		if e.Status == 0 {
			t.Fatalf("request %d failed: %+v", i, e)
		}
		if e.Sent < e.Due || e.Done < e.Sent || (i > 0 && e.Done < events[i-1].Done) {
			t.Fatalf("event %d out of order: %+v", i, e)
		}
		if e.Status == http.StatusInternalServerError {
			errs++
		}
		seen[vs[e.Version]]++
	}
	if seen["v1"] == 0 || seen["v2"] == 0 || seen[""] != 0 || errs == 0 {
		t.Errorf("versions %v, %d errors", seen, errs)
	}
	// The schedule is kept: request i is due at i/rate.
	last := events[len(events)-1]
	if last.Due > 600*time.Millisecond {
		t.Errorf("last request due at %s, after the load stopped", last.Due)
	}
}
