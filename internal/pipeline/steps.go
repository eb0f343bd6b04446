package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Exec is one step's command, ready to run.
type Exec struct {
	// Script is run with `sh -c`.
	Script string
	// Dir is the absolute working directory.
	Dir string
	// Env is the complete environment; nothing else is inherited.
	Env []string
	// Started, when set, is called once the command runs, with the ID of
	// its process group (0 if the runner has none), before Run returns.
	Started func(pgid int)
}

// StepRunner runs step commands. The local one runs processes; a
// container runner can take its place.
type StepRunner interface {
	// Run runs e and writes everything it prints (stdout and stderr) to
	// out as it comes. It returns when the command and everything it
	// started are gone:
	//   - the command ran and exited by itself: its exit code and a nil
	//     error (whatever it left running is stopped);
	//   - the command could not start: an error, and Started is not called;
	//   - ctx ended first: the command and everything it started are
	//     stopped, and the error wraps context.Cause(ctx).
	Run(ctx context.Context, e Exec, out io.Writer) (exitCode int, err error)
}

// Reaper is implemented by step runners that can find and stop the steps
// of a control plane that died without stopping them.
type Reaper interface {
	// Reap stops what is left of the step whose process group was pgid in
	// the run runID. It does nothing if that group is gone or belongs to
	// something else.
	Reap(pgid int, runID string) error
}

// LocalSteps runs each step as a local process, `sh -c`, in its own
// process group, so that stopping a step stops everything it started.
type LocalSteps struct {
	// Grace is how long a step has to exit after SIGTERM before its
	// process group gets SIGKILL. Default 5s.
	Grace time.Duration
}

var _ StepRunner = LocalSteps{}
var _ Reaper = LocalSteps{}

// Run implements StepRunner.
func (l LocalSteps) Run(ctx context.Context, e Exec, out io.Writer) (int, error) {
	grace := l.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return -1, context.Cause(ctx)
	}
	cmd := exec.Command("sh", "-c", e.Script)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = e.Dir, e.Env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output copied through a pipe (out is not a file) must not keep
	// Wait waiting on a background process that holds the pipe.
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start `sh -c` in %s: %w", e.Dir, err)
	}
	pgid := cmd.Process.Pid
	if e.Started != nil {
		e.Started(pgid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case waitErr = <-done:
		case <-t.C:
			syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-done
		}
		t.Stop()
	}
	// Whatever the step started and left running goes with it.
	syscall.Kill(-pgid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return -1, fmt.Errorf("step stopped: %w", context.Cause(ctx))
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return -1, waitErr
	}
	return cmd.ProcessState.ExitCode(), nil
}

// Reap implements Reaper: it kills process group pgid if one of its
// processes still carries SLIPWAY_RUN=runID in its environment.
func (LocalSteps) Reap(pgid int, runID string) error {
	if pgid <= 1 {
		return nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	marker := []byte("SLIPWAY_RUN=" + runID + "\x00")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if err != nil || !(bytes.HasPrefix(env, marker) || bytes.Contains(env, append([]byte{0}, marker...))) {
			continue
		}
		return syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return nil
}
