package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// readyFD is the file descriptor on which a shim reports to the driver
// that the instance's process started ("ok\n") or could not ("error: ...\n").
const readyFD = 3

// Limits of the shim's own log, logs/shim.log.
const (
	shimLogMaxBytes = 1 << 20
	shimLogKeep     = 1
)

// RunShim is the entry point of the per-instance supervisor, the shim. The
// driver runs Options.ShimCommand followed by one of:
//
//	start DIR   start a detached shim for the instance directory DIR (as
//	            "run DIR", in a new session, so that it outlives the control
//	            plane), print its pid on stdout and return at once
//	run DIR     supervise the instance in DIR until SIGTERM or SIGINT
//
// The command wired to it must hand over its remaining arguments unchanged
// and exit non-zero when RunShim returns an error. RunShim uses file
// descriptor 3, when it is a pipe, to report to the driver whether the
// instance's process started.
//
// The run stage reads DIR/spec.json, runs `/bin/sh -c COMMAND` in DIR/app in
// a process group of its own with the environment from spec.json, and
// appends its stdout and stderr to DIR/logs/current.log, rotated by size.
// It restarts the process with exponential backoff whenever it exits,
// keeping the port, and keeps DIR/state.json up to date. On SIGTERM it
// sends SIGTERM to the process group, waits for the group to exit up to the
// drain timeout, SIGKILLs what is left, records the state stopped and
// returns. The process gets SIGKILL if the shim dies (PR_SET_PDEATHSIG);
// the rest of its group is killed by the driver's next Stop or Recover.
// Processes that leave the group (setsid, setpgid) are beyond the shim's
// reach. Cancelling ctx has the effect of SIGTERM.
func RunShim(ctx context.Context, args []string) error {
	if len(args) != 2 || !filepath.IsAbs(args[1]) {
		return fmt.Errorf("process shim: usage: start|run INSTANCE_DIR (absolute), got %q", args)
	}
	dir := instanceDir(args[1])
	closeOnExecInherited()
	switch args[0] {
	case "start":
		return startShim(dir)
	case "run":
		return runShim(ctx, dir)
	}
	return fmt.Errorf("process shim: unknown stage %q, want start or run", args[0])
}

// closeOnExecInherited marks every file descriptor above stderr, but the
// ready pipe, close-on-exec: whatever the shim inherited by mistake (a pipe
// of the control plane's caller, say) must not be passed on to the
// instance's process, where it would live as long as the instance.
func closeOnExecInherited() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 && fd != readyFD {
			syscall.CloseOnExec(fd)
		}
	}
}

// readyPipe returns the pipe to report readiness on, or nil if there is
// none. The pipe is not passed on to the instance's process.
func readyPipe() *os.File {
	var st syscall.Stat_t
	if err := syscall.Fstat(readyFD, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil
	}
	syscall.CloseOnExec(readyFD)
	return os.NewFile(readyFD, "ready")
}

// startShim starts the run stage detached: in a session of its own, with
// stdin, stdout and stderr on /dev/null, and not waited for, so that it is
// re-parented to init (or the nearest subreaper) as soon as this process
// exits, and no control plane process is ever its parent for long.
func startShim(dir instanceDir) error {
	cfg, err := readConfig(dir)
	if err != nil {
		return fmt.Errorf("start shim: %w", err)
	}
	if len(cfg.ShimCommand) == 0 {
		return errors.New("start shim: spec.json has no shim command")
	}
	argv := append(slices.Clone(cfg.ShimCommand), "run", string(dir))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = string(dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if ready := readyPipe(); ready != nil {
		defer ready.Close()
		cmd.ExtraFiles = []*os.File{ready}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start shim: %w", err)
	}
	fmt.Println(cmd.Process.Pid)
	return cmd.Process.Release()
}

// runShim is the run stage.
func runShim(ctx context.Context, dir instanceDir) (err error) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s := &shim{dir: dir, ready: readyPipe(), log: slog.New(slog.DiscardHandler)}
	defer func() { s.signalReady(err) }() // if not done yet

	s.cfg, err = readConfig(dir)
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	s.cfg.Backoff = s.cfg.Backoff.withDefaults()
	secrets, err := takeSecrets(dir, s.cfg)
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	s.secretEnv = secrets.Env
	if err := os.MkdirAll(dir.logs(), 0o700); err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	shimLog, err := openRotating(dir.shimLog(), shimLogMaxBytes, shimLogKeep)
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	defer shimLog.Close()
	s.log = slog.New(slog.NewTextHandler(shimLog, nil)).With("instance", s.cfg.ID)
	defer func() {
		if err != nil {
			s.log.Error("shim failed", "err", err)
		}
	}()
	logFile, err := openRotating(dir.log(), s.cfg.LogMaxBytes, s.cfg.LogKeep)
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	defer logFile.Close()
	out := newRedactor(logFile, secrets.Redact)
	defer out.Flush()

	// One pipe for the shim's lifetime carries the stdout and stderr of
	// every incarnation of the process; the shim keeps its write end open
	// so that restarts do not end the copying.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	s.out = pw
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyLog(pr, out, s.log)
	}()
	defer func() {
		pw.Close()
		// Whatever still holds the pipe left the process group; give up
		// on it after a while.
		select {
		case <-copied:
		case <-time.After(time.Second):
			pr.Close()
			<-copied
		}
		pr.Close()
	}()

	return s.run(ctx)
}

// copyLog copies the process's output to the log until EOF. It keeps
// reading when the log cannot be written, so that the process never blocks
// on a full pipe.
func copyLog(r io.Reader, w io.Writer, log *slog.Logger) {
	buf := make([]byte, 32<<10)
	failing := false
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil && !failing {
				log.Error("cannot write the log; dropping output until it works again", "err", werr)
				failing = true
			} else if werr == nil {
				failing = false
			}
		}
		if err != nil {
			return
		}
	}
}

// shim supervises one instance's process.
type shim struct {
	dir   instanceDir
	cfg   instanceConfig
	log   *slog.Logger
	ready *os.File // nil once readiness was reported
	out   *os.File // the process's stdout and stderr
	st    shimState
	// secretEnv is added to cfg.ProcessEnv; it lives only in memory.
	secretEnv map[string]string
}

func (s *shim) run(ctx context.Context) error {
	self, err := readStat(os.Getpid())
	if err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	s.st = shimState{
		ShimPID:        os.Getpid(),
		ShimStartTicks: self.StartTicks,
		Port:           s.cfg.Port,
		State:          driver.StateStarting,
		StartedAt:      time.Now(),
	}
	if err := s.save(); err != nil {
		return fmt.Errorf("run shim: %w", err)
	}
	s.log.Info("shim started", "pid", os.Getpid(), "port", s.cfg.Port)
	var delay time.Duration
	for first := true; ; first = false {
		ran, err := s.runOnce(ctx)
		if err != nil && first {
			s.setStopped()
			return fmt.Errorf("run shim: %w", err)
		}
		if ctx.Err() != nil {
			s.setStopped()
			s.log.Info("shim stopped", "last_exit", s.st.LastExit)
			return nil
		}
		delay = s.cfg.Backoff.Next(delay, ran)
		s.st.State, s.st.PID, s.st.PIDStartTicks = driver.StateRestarting, 0, 0
		s.update()
		s.log.Warn("process exited", "exit", s.st.LastExit, "ran", ran.Round(time.Millisecond), "restart_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.setStopped()
			s.log.Info("shim stopped while waiting to restart")
			return nil
		case <-t.C:
		}
		s.st.Restarts++
	}
}

// runOnce starts the process and waits until it exits, or until ctx ends
// and it was stopped. It returns how long the process ran, and an error
// only if it could not be started.
func (s *shim) runOnce(ctx context.Context) (time.Duration, error) {
	cmd := exec.Command("/bin/sh", "-c", shellCommand(s.cfg.Command))
	cmd.Dir = s.dir.app()
	cmd.Env = withSecrets(s.cfg.ProcessEnv, s.secretEnv)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.st.LastExit = "start: " + err.Error()
		return 0, fmt.Errorf("start process: %w", err)
	}
	started := time.Now()
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = cmd.Wait() // the exit is read from cmd.ProcessState
	}()

	st, _ := readStat(pid) // zero if it already exited
	s.st.State, s.st.PID, s.st.PIDStartTicks, s.st.PGID = driver.StateRunning, pid, st.StartTicks, pid
	s.st.StartedAt = started
	s.update()
	s.log.Info("process started", "pid", pid, "restarts", s.st.Restarts)
	s.signalReady(nil)

	select {
	case <-exited:
	case <-ctx.Done():
		s.terminate(pid, exited)
	}
	s.st.LastExit = cmd.ProcessState.String()
	// Whatever the process left in its group (a background job, a child
	// of a shell killed first) may hold the port: it goes too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return time.Since(started), nil
}

// terminate stops the process group pgid: SIGTERM, then SIGKILL once the
// drain timeout passes. It returns when the group leader has exited and
// no live process is left in the group.
func (s *shim) terminate(pgid int, exited <-chan struct{}) {
	s.log.Info("stopping process", "pgid", pgid, "drain_timeout", s.cfg.DrainTimeout)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.NewTimer(s.cfg.DrainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	leaderDone := false
	for {
		select {
		case <-exited:
			leaderDone, exited = true, nil
		case <-tick.C:
		case <-deadline.C:
			s.log.Warn("drain timeout passed; killing the process group", "pgid", pgid)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			if !leaderDone {
				<-exited
			}
			// SIGKILL takes effect asynchronously; make sure the group
			// is gone (and its ports closed) before reporting stopped.
			for range 100 {
				if len(groupMembers(pgid)) == 0 {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
		if leaderDone && len(groupMembers(pgid)) == 0 {
			return
		}
	}
}

func (s *shim) setStopped() {
	s.st.State, s.st.PID, s.st.PIDStartTicks = driver.StateStopped, 0, 0
	s.update()
}

// update saves the state, logging a failure: the process runs on regardless.
func (s *shim) update() {
	_ = s.save()
}

// save writes the state file.
func (s *shim) save() error {
	s.st.UpdatedAt = time.Now()
	err := writeJSON(s.dir.state(), s.st, 0o644)
	if err != nil {
		s.log.Error("cannot save state", "err", err)
	}
	return err
}

// signalReady reports to the driver, once, whether the process started.
func (s *shim) signalReady(err error) {
	if s.ready == nil {
		return
	}
	msg := "ok\n"
	if err != nil {
		msg = "error: " + err.Error() + "\n"
	}
	if _, werr := io.WriteString(s.ready, msg); werr != nil {
		s.log.Warn("cannot report readiness", "err", werr)
	}
	s.ready.Close()
	s.ready = nil
}

// shellCommand prefixes a simple command with exec, so the shell replaces
// itself with the app: the app then is the supervised process, gets its
// signals directly, and dies with the shim (the parent-death signal
// survives exec but not fork, and dash forks for `sh -c ./app`). Commands
// with shell control operators run as written.
func shellCommand(command string) string {
	trimmed := strings.TrimSpace(command)
	if strings.ContainsAny(trimmed, ";&|\n`()<>") || strings.HasPrefix(trimmed, "exec ") {
		return command
	}
	return "exec " + trimmed
}
