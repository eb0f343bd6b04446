// Package process is the default driver: it runs each instance as a plain
// process on this machine, under a supervisor process of its own, the shim
// (see RunShim), in the manner of containerd-shim or conmon.
//
// The control plane is never the parent of an instance's process: it
// starts a shim, detached in a session of its own, which runs the process,
// writes its output to log files, restarts it when it crashes and records
// its state in files. Instances therefore survive a crash or restart of the
// control plane, and a new Driver on the same directory re-adopts them
// (Recover) without restarting them. The Driver itself keeps no state but a
// few locks: every call reads the instance's files, and checks that the
// recorded shim is alive and really is the shim (pid and start time, and
// command line), since pids get reused.
//
// One directory belongs to one Driver at a time. A systemd unit running the
// control plane needs KillMode=process, or stopping the service kills
// every shim in its cgroup.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// Options configure a Driver. Zero fields take the documented defaults.
type Options struct {
	// Dir holds the instances (Dir/instances/<id>). Required.
	Dir string
	// ShimCommand is the argv prefix that runs RunShim, such as
	// [os.Executable(), "process-shim"]. Required.
	ShimCommand []string
	// Host is the address instances are reached on. Default 127.0.0.1.
	Host string
	// Logger receives the driver's logs. Default: discarded.
	Logger *slog.Logger
	// LogMaxBytes is the size at which an instance's log is rotated.
	// Default 10 MiB.
	LogMaxBytes int64
	// LogKeep is how many rotated log files are kept. Default 3.
	LogKeep int
	// BaseEnv is the environment every instance starts from, as KEY=VALUE,
	// before its Environ and PORT. The shims get it too. Default: PATH,
	// HOME, LANG and TMPDIR from the driver's environment, and nothing else,
	// so that secrets of the control plane do not leak into apps.
	BaseEnv []string
	// ShimEnv is added to BaseEnv for the shim processes only.
	ShimEnv []string
	// DrainTimeout is used for specs without one. Default 30s.
	DrainTimeout time.Duration
	// Backoff is the restart policy of crashed processes; zero fields
	// default to 100ms initial, 30s max, reset after 10s of running.
	Backoff Backoff
	// StartTimeout bounds how long Start waits for the shim to start the
	// process, on top of ctx. Default 30s.
	StartTimeout time.Duration
	// LogPollInterval is how often Logs with follow looks for new output.
	// Default 200ms.
	LogPollInterval time.Duration
}

// defaultStopMargin is how long Stop waits beyond the drain timeout for a
// shim to exit before killing it.
const defaultStopMargin = 5 * time.Second

// Driver runs instances as processes. It implements driver.Driver.
type Driver struct {
	opts       Options
	dir        string // Options.Dir/instances
	stopMargin time.Duration
	log        *slog.Logger
	locks      keyedLocks

	mu       sync.Mutex
	starting map[string]bool // IDs being started
	ports    map[int]bool    // ports picked by Starts in progress
}

var _ driver.Driver = (*Driver)(nil)

// New returns a Driver for the instances in opts.Dir, creating the
// directory if needed. Call Recover before anything else to clean up after
// an earlier control plane.
func New(opts Options) (*Driver, error) {
	if opts.Dir == "" {
		return nil, errors.New("process driver: Dir is required")
	}
	if len(opts.ShimCommand) == 0 {
		return nil, errors.New("process driver: ShimCommand is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("process driver: %w", err)
	}
	opts.Dir = dir
	opts.ShimCommand = slices.Clone(opts.ShimCommand)
	opts.ShimEnv = slices.Clone(opts.ShimEnv)
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogMaxBytes <= 0 {
		opts.LogMaxBytes = 10 << 20
	}
	if opts.LogKeep <= 0 {
		opts.LogKeep = 3
	}
	if opts.BaseEnv == nil {
		opts.BaseEnv = defaultBaseEnv(os.Getenv)
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	opts.Backoff = opts.Backoff.withDefaults()
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.LogPollInterval <= 0 {
		opts.LogPollInterval = 200 * time.Millisecond
	}
	d := &Driver{
		opts:       opts,
		dir:        filepath.Join(dir, instancesDir),
		stopMargin: defaultStopMargin,
		log:        opts.Logger,
		starting:   make(map[string]bool),
		ports:      make(map[int]bool),
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("process driver: %w", err)
	}
	return d, nil
}

func (d *Driver) instanceDir(id string) instanceDir {
	return instanceDir(filepath.Join(d.dir, id))
}

// Stop implements driver.Driver. It sends SIGTERM to the shim, which
// drains and stops the process group, and waits for the shim to exit for
// the drain timeout plus a margin, after which it kills the shim and the
// group itself.
func (d *Driver) Stop(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return fmt.Errorf("stop instance %s: %w", id, err)
	}
	defer unlock()
	dir := d.instanceDir(id)
	cfg, err := readConfig(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // unknown, or stopped already
	}
	if err != nil {
		d.log.Warn("unreadable instance config; stopping anyway", "instance", id, "err", err)
		cfg.DrainTimeout = d.opts.DrainTimeout
	}
	st, err := readState(dir)
	if err != nil {
		d.log.Warn("unreadable instance state; stopping anyway", "instance", id, "err", err)
	}
	if st != nil && isShim(st.ShimPID, st.ShimStartTicks, string(dir)) {
		if err := d.stopShim(ctx, dir, st, cfg.DrainTimeout); err != nil {
			return fmt.Errorf("stop instance %s: %w", id, err)
		}
	}
	d.destroy(dir)
	d.log.Info("instance stopped", "instance", id)
	return nil
}

// stopShim sends SIGTERM to the shim and waits for it to exit.
func (d *Driver) stopShim(ctx context.Context, dir instanceDir, st *shimState, drain time.Duration) error {
	if err := syscall.Kill(st.ShimPID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal shim: %w", err)
	}
	limit := drain + d.stopMargin
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for isShim(st.ShimPID, st.ShimStartTicks, string(dir)) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-deadline.C:
			d.log.Warn("shim did not stop in time; killing it", "instance", filepath.Base(string(dir)), "after", limit)
			_ = syscall.Kill(st.ShimPID, syscall.SIGKILL)
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// destroy kills whatever is left of the instance's processes and removes
// its working files. Errors are logged: there is nothing more to do.
func (d *Driver) destroy(dir instanceDir) {
	st, _ := readState(dir)
	if st != nil {
		if isShim(st.ShimPID, st.ShimStartTicks, string(dir)) {
			_ = syscall.Kill(st.ShimPID, syscall.SIGKILL)
		}
		if killOrphans(st.PGID, st.PIDStartTicks, dir.app()) {
			d.log.Warn("killed processes left behind by a dead shim", "instance", filepath.Base(string(dir)), "pgid", st.PGID)
			// SIGKILL takes effect asynchronously: wait for the ports to
			// close, a little.
			for i := 0; i < 100 && len(groupMembers(st.PGID)) > 0; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if err := removeWorkingFiles(dir); err != nil {
		d.log.Error("cannot clean up instance", "instance", filepath.Base(string(dir)), "err", err)
	}
}

// Status implements driver.Driver.
func (d *Driver) Status(ctx context.Context, id string) (driver.Instance, error) {
	inst, err := d.status(id)
	if err != nil {
		return driver.Instance{}, fmt.Errorf("status of instance %s: %w", id, err)
	}
	return inst, nil
}

func (d *Driver) status(id string) (driver.Instance, error) {
	if !validID(id) {
		return driver.Instance{}, driver.ErrNotFound
	}
	dir := d.instanceDir(id)
	cfg, err := readConfig(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return driver.Instance{}, driver.ErrNotFound
	}
	if err != nil {
		return driver.Instance{}, err
	}
	st, err := readState(dir)
	if err != nil {
		return driver.Instance{}, err
	}
	inst, _ := d.observe(dir, cfg, st)
	return inst, nil
}

// observe returns the instance as its files describe it, and whether its
// shim is alive.
func (d *Driver) observe(dir instanceDir, cfg instanceConfig, st *shimState) (driver.Instance, bool) {
	inst := driver.Instance{
		ID:        cfg.ID,
		App:       cfg.App,
		Env:       cfg.Env,
		Release:   cfg.Release,
		Addr:      net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		State:     driver.StateStarting,
		StartedAt: cfg.CreatedAt,
	}
	alive := false
	if st != nil {
		inst.State, inst.PID, inst.Restarts, inst.LastExit = st.State, st.PID, st.Restarts, st.LastExit
		inst.StartedAt = st.StartedAt
		alive = isShim(st.ShimPID, st.ShimStartTicks, string(dir))
	}
	if !alive && !d.isStarting(cfg.ID) {
		if st != nil && st.State != driver.StateStopped {
			// The shim died without stopping the process; the process
			// got SIGKILL with it.
			inst.LastExit = "supervisor died"
		}
		inst.State, inst.PID = driver.StateStopped, 0
	}
	return inst, alive
}

// List implements driver.Driver. Instances are sorted by ID.
func (d *Driver) List(ctx context.Context) ([]driver.Instance, error) {
	var list []driver.Instance
	for _, id := range d.ids() {
		inst, err := d.status(id)
		if errors.Is(err, driver.ErrNotFound) {
			continue // stopped meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list instances: %s: %w", id, err)
		}
		list = append(list, inst)
	}
	return list, nil
}

// ids returns the IDs of the directories under Dir/instances, sorted,
// including those left with logs only.
func (d *Driver) ids() []string {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// configs returns the configs of the current instances.
func (d *Driver) configs() []instanceConfig {
	var cfgs []instanceConfig
	for _, id := range d.ids() {
		if cfg, err := readConfig(d.instanceDir(id)); err == nil {
			cfgs = append(cfgs, cfg)
		}
	}
	return cfgs
}

// Recover implements driver.Driver. Live shims are left alone; nothing in
// the driver needs re-attaching. For an instance whose shim is dead, it
// kills what is left of its process group and removes its working files,
// as Stop would, and reports it stopped.
func (d *Driver) Recover(ctx context.Context) ([]driver.Instance, error) {
	var found []driver.Instance
	for _, id := range d.ids() {
		inst, ok, err := d.recover(ctx, id)
		if err != nil {
			return found, fmt.Errorf("recover instances: %w", err)
		}
		if ok {
			found = append(found, inst)
		}
	}
	return found, nil
}

func (d *Driver) recover(ctx context.Context, id string) (driver.Instance, bool, error) {
	unlock, err := d.locks.lock(ctx, id)
	if err != nil {
		return driver.Instance{}, false, err
	}
	defer unlock()
	dir := d.instanceDir(id)
	cfg, err := readConfig(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Stopped earlier, or a Stop was interrupted half-way.
		if err := removeWorkingFiles(dir); err != nil {
			d.log.Error("cannot clean up instance", "instance", id, "err", err)
		}
		return driver.Instance{}, false, nil
	}
	if err != nil {
		d.log.Error("unreadable instance config; removing the instance", "instance", id, "err", err)
		d.destroy(dir)
		return driver.Instance{}, false, nil
	}
	st, err := readState(dir)
	if err != nil {
		d.log.Warn("unreadable instance state", "instance", id, "err", err)
	}
	inst, alive := d.observe(dir, cfg, st)
	if alive {
		d.log.Info("re-adopted instance", "instance", id, "state", inst.State, "pid", inst.PID, "addr", inst.Addr)
		return inst, true, nil
	}
	d.log.Warn("instance found dead; cleaning up", "instance", id, "last_exit", inst.LastExit)
	d.destroy(dir)
	return inst, true, nil
}

// Logs implements driver.Driver. Following polls the log every
// LogPollInterval and returns nil when ctx ends.
func (d *Driver) Logs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error {
	if !validID(id) {
		return fmt.Errorf("logs of instance %s: %w", id, driver.ErrNotFound)
	}
	dir := d.instanceDir(id)
	if _, err := os.Stat(dir.logs()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("logs of instance %s: %w", id, driver.ErrNotFound)
		}
		return fmt.Errorf("logs of instance %s: %w", id, err)
	}
	if err := readLogs(ctx, dir.log(), tail, follow, d.opts.LogPollInterval, w); err != nil {
		return fmt.Errorf("logs of instance %s: %w", id, err)
	}
	return nil
}

func (d *Driver) setStarting(id string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.starting[id] = true
	} else {
		delete(d.starting, id)
	}
}

func (d *Driver) isStarting(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starting[id]
}
