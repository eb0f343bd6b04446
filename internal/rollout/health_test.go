package rollout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/spec"
)

func health(threshold int, timeout time.Duration) spec.Health {
	return spec.Health{Path: "/healthz", Interval: spec.Duration(10 * time.Millisecond), Timeout: spec.Duration(200 * time.Millisecond),
		HealthyThreshold: threshold, UnhealthyThreshold: 3, DeployTimeout: spec.Duration(timeout)}
}

func TestGate(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(n int64) int // status for the nth probe (from 1)
		state     driver.State
		threshold int
		wantErr   string
	}{
		{name: "healthy at once", handler: func(int64) int { return 200 }, threshold: 1},
		{name: "needs consecutive passes", handler: func(n int64) int {
			if n%2 == 0 && n < 6 {
				return 500
			}
			return 204
		}, threshold: 2},
		{name: "redirect counts as healthy", handler: func(int64) int { return 302 }, threshold: 1},
		{name: "always 503 fails at the deadline", handler: func(int64) int { return 503 }, threshold: 1, wantErr: "answered 503"},
		{name: "slow start then healthy", handler: func(n int64) int {
			if n < 5 {
				return 503
			}
			return 200
		}, threshold: 1},
		{name: "crashed instance fails at once", handler: func(int64) int { return 503 }, state: driver.StateRestarting, threshold: 1, wantErr: "exited (exit status 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					t.Errorf("probe path %q", r.URL.Path)
				}
				w.WriteHeader(tt.handler(n.Add(1)))
			}))
			defer srv.Close()
			state := tt.state
			if state == "" {
				state = driver.StateRunning
			}
			g := Gate{Status: func(ctx context.Context, id string) (driver.Instance, error) {
				return driver.Instance{ID: id, State: state, LastExit: "exit status 1"}, nil
			}}
			inst := driver.Instance{ID: "i1", Addr: strings.TrimPrefix(srv.URL, "http://")}
			start := time.Now()
			err := g.Wait(context.Background(), inst, health(tt.threshold, 500*time.Millisecond))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Wait: %v", err)
				}
				return
			}
			var he *HealthError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Wait error %v, want a HealthError containing %q", err, tt.wantErr)
			}
			if tt.state == driver.StateRestarting && time.Since(start) > 400*time.Millisecond {
				t.Errorf("a crashed instance should fail the gate before the deadline")
			}
		})
	}
}

func TestGateUnreachableAndCancelled(t *testing.T) {
	g := Gate{Status: func(ctx context.Context, id string) (driver.Instance, error) {
		return driver.Instance{State: driver.StateRunning}, nil
	}}
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(ln.URL, "http://")
	ln.Close() // nothing listens there now
	err := g.Wait(context.Background(), driver.Instance{ID: "i", Addr: addr}, health(1, 100*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "connection failed") {
		t.Fatalf("unreachable instance: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	cancel(cause)
	if err := g.Wait(ctx, driver.Instance{ID: "i", Addr: addr}, health(1, time.Minute)); !errors.Is(err, cause) {
		t.Fatalf("cancelled wait returned %v, want the cancel cause", err)
	}
}
