package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/slipway-dev/slipway/internal/spec"
)

// errTimedOut is the cause of a step context that ran out of time.
var errTimedOut = errors.New("step timed out")

// siblingFailed is the cause of stopping the other steps of a parallel
// stage once one failed.
type siblingFailed struct{ ref StepRef }

func (e siblingFailed) Error() string { return fmt.Sprintf("stopped because step %s failed", e.ref) }

// execution carries what every step of one run shares.
type execution struct {
	r       *Runner
	job     Job
	w       workspace
	commit  string
	specDir string
	obs     Observer
}

// stage runs the steps of st, one after another or all at once, and
// returns the first failure. In a parallel stage the first failure stops
// the other steps.
func (x *execution) stage(ctx context.Context, st spec.Stage) error {
	if !st.Parallel {
		for _, s := range st.Steps {
			if err := x.step(ctx, StepRef{Stage: st.Name, Step: s.Name}, s); err != nil {
				return err
			}
		}
		return nil
	}
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, s := range st.Steps {
		ref := StepRef{Stage: st.Name, Step: s.Name}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.step(sctx, ref, s); err != nil {
				once.Do(func() {
					first = err
					stop(siblingFailed{ref})
				})
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("run stopped: %w", context.Cause(ctx))
	}
	return first
}

// step runs one step with its timeout, its output going to its log file.
func (x *execution) step(ctx context.Context, ref StepRef, s spec.PipelineStep) error {
	if ctx.Err() != nil {
		return fmt.Errorf("run stopped: %w", context.Cause(ctx))
	}
	logRel := LogFile(ref)
	logPath := filepath.Join(x.job.LogDir, logRel)
	out, err := x.open(logPath)
	if err != nil {
		return err
	}
	defer out.Close()
	dir := x.specDir
	if s.Dir != "" {
		dir = filepath.Join(x.w.src, s.Dir)
	}
	timeout := stepTimeout(s)
	sctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	started := false
	code, err := x.r.opts.Steps.Run(sctx, Exec{
		Script: s.Run,
		Dir:    dir,
		Env:    stepEnv(x.r.opts.BaseEnv, x.w, s.Env, x.job, x.commit),
		Started: func(pgid int) {
			started = true
			x.obs.StepStarted(ref, logRel, pgid)
		},
	}, out)
	var o StepOutcome
	switch {
	case err == nil && code == 0:
		o = StepOutcome{State: StepSucceeded, ExitCode: &code}
	case err == nil:
		o = StepOutcome{State: StepFailed, ExitCode: &code, Error: fmt.Sprintf("failed with exit code %d", code)}
	case ctx.Err() != nil:
		o = StepOutcome{State: StepCancelled, Error: "cancelled: " + context.Cause(ctx).Error()}
	case errors.Is(context.Cause(sctx), errTimedOut):
		o = StepOutcome{State: StepTimedOut, Error: fmt.Sprintf("timed out after %s", timeout)}
	default:
		o = StepOutcome{State: StepFailed, Error: err.Error()}
	}
	if o.State != StepSucceeded {
		fmt.Fprintf(out, "\n[slipway] step %s %s\n", ref, o.Error)
	}
	if !started {
		x.obs.StepStarted(ref, logRel, 0)
	}
	x.obs.StepFinished(ref, o)
	switch {
	case o.State == StepSucceeded:
		return nil
	case o.State == StepCancelled && ctx.Err() != nil && !errors.As(context.Cause(ctx), new(siblingFailed)):
		return fmt.Errorf("run stopped: %w", context.Cause(ctx))
	}
	return &StepError{Ref: ref, Outcome: o}
}

func (x *execution) open(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
}
