package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// Start implements driver.Driver. It picks a free port on Host by listening
// on port 0 and closing the listener: another program may take the port
// before the instance binds it, and the instance then crashes and is
// restarted on the same port, so that is a small window, not a guarantee.
// It unpacks the artifact into the instance's app directory, starts the
// shim and returns once the shim reports the process started.
func (d *Driver) Start(ctx context.Context, spec driver.InstanceSpec) (driver.Instance, error) {
	if err := checkSpec(spec); err != nil {
		return driver.Instance{}, fmt.Errorf("start instance %s: %w", spec.ID, err)
	}
	unlock, err := d.locks.lock(ctx, spec.ID)
	if err != nil {
		return driver.Instance{}, fmt.Errorf("start instance %s: %w", spec.ID, err)
	}
	defer unlock()

	if inst, err := d.status(spec.ID); err == nil {
		return inst, nil
	} else if !errors.Is(err, driver.ErrNotFound) {
		return driver.Instance{}, fmt.Errorf("start instance %s: %w", spec.ID, err)
	}
	d.setStarting(spec.ID, true)
	defer d.setStarting(spec.ID, false)
	dir := d.instanceDir(spec.ID)
	if err := d.create(ctx, spec, dir); err != nil {
		d.destroy(dir)
		return driver.Instance{}, fmt.Errorf("start instance %s: %w", spec.ID, err)
	}
	inst, err := d.status(spec.ID)
	if err != nil {
		return driver.Instance{}, fmt.Errorf("start instance %s: %w", spec.ID, err)
	}
	d.log.Info("instance started", "instance", spec.ID, "app", spec.App, "env", spec.Env,
		"release", spec.Release, "addr", inst.Addr, "pid", inst.PID)
	return inst, nil
}

func checkSpec(spec driver.InstanceSpec) error {
	switch {
	case !validID(spec.ID):
		return fmt.Errorf("invalid id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", spec.ID)
	case spec.Command == "":
		return errors.New("no command")
	case spec.Artifact == "":
		return errors.New("no artifact")
	}
	if err := checkEnviron(spec.Environ); err != nil {
		return err
	}
	return checkSecrets(spec)
}

// create sets up the instance directory and starts the shim.
func (d *Driver) create(ctx context.Context, spec driver.InstanceSpec, dir instanceDir) error {
	port, release, err := d.pickPort()
	if err != nil {
		return err
	}
	defer release()
	for _, p := range []string{string(dir), dir.app(), dir.logs()} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	drain := spec.DrainTimeout
	if drain <= 0 {
		drain = d.opts.DrainTimeout
	}
	cfg := instanceConfig{
		ID:           spec.ID,
		App:          spec.App,
		Env:          spec.Env,
		Release:      spec.Release,
		Artifact:     spec.Artifact,
		Command:      spec.Command,
		Environ:      spec.Environ,
		Secrets:      secretNames(spec),
		DrainTimeout: drain,
		Host:         d.opts.Host,
		Port:         port,
		ProcessEnv:   childEnv(d.opts.BaseEnv, spec.Environ, port),
		ShimCommand:  d.opts.ShimCommand,
		LogMaxBytes:  d.opts.LogMaxBytes,
		LogKeep:      d.opts.LogKeep,
		Backoff:      d.opts.Backoff,
		CreatedAt:    time.Now(),
	}
	// The config goes first: it marks the directory as an instance, so a
	// crash from here on leaves something Recover cleans up.
	if err := writeJSON(dir.config(), cfg, 0o600); err != nil {
		return err
	}
	if err := unpack(spec.Artifact, dir.app()); err != nil {
		return err
	}
	if err := writeSecrets(dir, spec); err != nil {
		return err
	}
	return d.launch(ctx, dir)
}

// pickPort returns a free port on Host that no other instance uses, and a
// function to call once the port is recorded in the instance's config.
func (d *Driver) pickPort() (int, func(), error) {
	used := make(map[int]bool)
	for _, cfg := range d.configs() {
		used[cfg.Port] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(d.opts.Host, "0"))
		if err != nil {
			return 0, nil, fmt.Errorf("pick port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if used[port] || d.ports[port] {
			continue
		}
		d.ports[port] = true
		return port, func() {
			d.mu.Lock()
			delete(d.ports, port)
			d.mu.Unlock()
		}, nil
	}
	return 0, nil, errors.New("pick port: no free port found")
}

// launch starts the shim for dir and waits until it reports that the
// process started.
func (d *Driver) launch(ctx context.Context, dir instanceDir) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start shim: %w", err)
	}
	defer r.Close()
	// The first stage only forks the shim and exits. It is not tied to ctx:
	// killed half-way, it could leave a shim whose pid nobody knows.
	argv := append(slices.Clone(d.opts.ShimCommand), "start", string(dir))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = string(dir)
	cmd.Env = append(slices.Clone(d.opts.BaseEnv), d.opts.ShimEnv...)
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	w.Close()
	if err != nil {
		return fmt.Errorf("start shim: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("start shim: unexpected output %q", out)
	}
	if err := waitReady(ctx, r, d.opts.StartTimeout, dir); err != nil {
		// Do not leave a shim behind that may yet start the process.
		if isShimCmd(pid, string(dir)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return err
	}
	return nil
}

// waitReady waits for the shim's report on r.
func waitReady(ctx context.Context, r *os.File, timeout time.Duration, dir instanceDir) error {

	if err := r.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("start shim: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Now()) })
	defer stop()
	msg, err := io.ReadAll(io.LimitReader(r, 64<<10))
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("shim did not start the process within %v; see %s", timeout, dir.shimLog())
	case err != nil:
		return fmt.Errorf("wait for shim: %w", err)
	}
	reply := strings.TrimSpace(string(msg))
	switch {
	case reply == "ok":
		return nil
	case strings.HasPrefix(reply, "error: "):
		return errors.New(strings.TrimPrefix(reply, "error: "))
	}
	return fmt.Errorf("shim exited before starting the process; see %s", dir.shimLog())
}
