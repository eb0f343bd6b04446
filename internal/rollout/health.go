package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/spec"
)

// HealthError says why an instance never became healthy.
type HealthError struct {
	Instance string
	Reason   string
}

func (e *HealthError) Error() string { return fmt.Sprintf("instance %s %s", e.Instance, e.Reason) }

// Gate is the health gate a new instance passes before it gets traffic:
// HealthyThreshold consecutive 2xx/3xx answers to GET Path, with failures
// during StartPeriod not counted, all within DeployTimeout. It also asks the
// driver after every probe so a crashed instance fails the gate at once.
type Gate struct {
	Client *http.Client
	Status func(ctx context.Context, id string) (driver.Instance, error)
	Now    func() time.Time
}

// Wait blocks until inst is healthy, ctx ends, or the gate fails.
func (g Gate) Wait(ctx context.Context, inst driver.Instance, h spec.Health) error {
	now := g.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	deadline := start.Add(h.DeployTimeout.D())
	url := "http://" + inst.Addr + h.Path
	passes, lastProblem := 0, "did not answer yet"
	interval := h.Interval.D()
	for {
		if st, err := g.Status(ctx, inst.ID); err == nil && st.State != driver.StateRunning && st.State != driver.StateStarting {
			exit := st.LastExit
			if exit == "" {
				exit = string(st.State)
			}
			return &HealthError{Instance: inst.ID, Reason: fmt.Sprintf("exited (%s) before becoming healthy; see `slipway logs %s --env %s --release %d`", exit, inst.App, inst.Env, inst.Release)}
		}
		problem := g.probe(ctx, url, h.Timeout.D())
		if problem == "" {
			passes++
			if passes >= h.HealthyThreshold {
				return nil
			}
		} else {
			passes = 0
			lastProblem = problem
		}
		if now().After(deadline) {
			return &HealthError{Instance: inst.ID, Reason: fmt.Sprintf("failed its health check GET %s for %s: %s", h.Path, h.DeployTimeout.D(), lastProblem)}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// probe returns "" if healthy, otherwise what was wrong.
func (g Gate) probe(ctx context.Context, url string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	client := g.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("no answer within %s", timeout)
		}
		return "connection failed"
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return ""
	}
	return fmt.Sprintf("answered %s", resp.Status)
}
