package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// Smoke runs an environment's post-deploy checks against what the proxy
// now serves on its host. It returns nil if every check passes, otherwise
// an error naming the first failure.
type Smoke struct {
	// ProxyAddr is the proxy's listen address (host:port).
	ProxyAddr string
	Client    *http.Client
}

// Check runs checks in order against host.
func (s Smoke) Check(ctx context.Context, host string, checks []spec.SmokeCheck) error {
	for _, c := range checks {
		timeout := c.Timeout.D()
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		var err error
		if c.HTTP != nil {
			err = s.http(cctx, host, *c.HTTP)
		} else {
			err = s.command(cctx, host, c.Command)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("smoke check %q: %w", c.Name, err)
		}
	}
	return nil
}

func (s Smoke) url(host string) string { return "http://" + host + portOf(s.ProxyAddr) }

func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 && addr[i:] != ":80" {
		return addr[i:]
	}
	return ""
}

func (s Smoke) http(ctx context.Context, host string, h spec.SmokeHTTP) error {
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.ProxyAddr+h.Path, nil)
	if err != nil {
		return err
	}
	req.Host = host
	client := s.Client
	if client == nil {
		client = &http.Client{}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %v", method, h.Path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	took := time.Since(start)
	want := h.Status
	if want == 0 {
		want = http.StatusOK
	}
	switch {
	case resp.StatusCode != want:
		return fmt.Errorf("%s %s answered %d, want %d", method, h.Path, resp.StatusCode, want)
	case h.Contains != "" && !strings.Contains(string(body), h.Contains):
		return fmt.Errorf("%s %s: body does not contain %q", method, h.Path, h.Contains)
	case h.MaxLatency > 0 && took > h.MaxLatency.D():
		return fmt.Errorf("%s %s took %s, more than %s", method, h.Path, took.Round(time.Millisecond), h.MaxLatency.D())
	}
	return nil
}

func (s Smoke) command(ctx context.Context, host, command string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), "SLIPWAY_URL="+s.url(host))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("command timed out: %s", command)
	}
	if err != nil {
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndex(last, "\n"); i >= 0 {
			last = last[i+1:]
		}
		if len(last) > 200 {
			last = last[:200]
		}
		return fmt.Errorf("command %q failed (%v): %s", command, err, last)
	}
	return nil
}

// verify runs the environment's smoke checks after a switch; on failure
// it puts the previous release back (its instances are still running),
// stops the new ones, and fails the rollout.
func (r *run) verify(ctx context.Context) (*Outcome, error) {
	checks := r.env.Smoke
	if len(checks) == 0 || r.e.Smoke == nil {
		return nil, nil
	}
	r.message(ctx, fmt.Sprintf("running %d smoke check(s)", len(checks)))
	err := r.e.Smoke.Check(ctx, r.env.Host, checks)
	if err == nil {
		r.decide(ctx, "advance", "smoke", fmt.Sprintf("%d smoke check(s) passed", len(checks)), nil)
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	reason := err.Error()
	if r.ro.FromRelease > 0 {
		reason += fmt.Sprintf("; rolled back to release %d", r.ro.FromRelease)
	}
	r.decide(ctx, "abort", "smoke", reason, nil)
	if err := r.e.Store.RevertSwitch(ctx, r.ro.ID, reason); err != nil {
		return nil, err
	}
	if err := retry(ctx, 20, 100*time.Millisecond, func() error { return r.e.Router.Publish(ctx) }); err != nil {
		r.log.Error("publish routes after a failed smoke check", "err", err)
	}
	r.e.StopInstances(ctx, r.newIDs)
	if err := r.e.Store.FinishRollout(ctx, r.ro.ID, store.RolloutFailed, reason); err != nil {
		return nil, err
	}
	r.log.Warn("smoke check failed; previous release restored", "reason", reason)
	return &Outcome{State: store.RolloutFailed, Reason: reason}, nil
}
