package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/store"
)

// logSection is one log file of a run, in the order `runs logs` prints
// them: setup, every step in pipeline order, finish.
type logSection struct {
	title string // printed as "==> title"
	file  string // relative to the run's log directory; "" if none yet
	done  bool   // nothing more will be written to it
	state string // of a step; "" for setup and finish
}

// logSections lists the sections of run as it is now. A section is done
// once the run has moved past it.
func logSections(run store.Run) []logSection {
	started := false
	for _, st := range run.Steps {
		if st.State != store.StepPending {
			started = true
		}
	}
	out := []logSection{{title: "setup", file: pipeline.SetupLog, done: run.Done() || started}}
	for _, st := range run.Steps {
		ref := pipeline.StepRef{Stage: st.Stage, Step: st.Step}
		out = append(out, logSection{title: ref.String(), file: st.Log, done: st.Done() || run.Done(), state: st.State})
	}
	return append(out, logSection{title: "finish", file: pipeline.FinishLog, done: run.Done()})
}

// RunLogs implements api.RunService: the logs of a run, section by
// section in order. With follow it keeps going while the run runs,
// printing each section's output as it is written, and returns once the
// run has ended and everything is printed.
func (cp *ControlPlane) RunLogs(ctx context.Context, id int64, follow bool, w io.Writer) error {
	return cp.runs.logs(ctx, id, follow, w)
}

func (q *runQueue) logs(ctx context.Context, id int64, follow bool, w io.Writer) error {
	dir := filepath.Join(q.dir, strconv.FormatInt(id, 10))
	var (
		at     int   // current section
		offset int64 // bytes of it printed
		headed bool  // its header printed
	)
	for {
		// Read the state before the files: a section done by then has
		// all its bytes on disk.
		run, err := q.store.Run(ctx, id)
		if err != nil {
			return err
		}
		secs := logSections(run)
		for at < len(secs) {
			s := secs[at]
			head := func(suffix string) {
				if !headed {
					fmt.Fprintf(w, "==> %s%s\n", s.title, suffix)
					headed = true
				}
			}
			n, exists, err := copyFrom(filepath.Join(dir, s.file), s.file != "", offset, w, func() { head("") })
			if err != nil {
				return err
			}
			offset += n
			switch {
			case exists && (s.done || !follow):
				head("") // a step that printed nothing
			case s.state == store.StepSkipped:
				head(" (skipped)")
			}
			if !s.done && follow {
				break
			}
			at, offset, headed = at+1, 0, false
		}
		if !follow || (at >= len(secs) && run.Done()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// copyFrom writes the bytes of file from offset on to w, calling header
// first if there are any, and reports how many and whether the file
// exists.
func copyFrom(file string, named bool, offset int64, w io.Writer, header func()) (int64, bool, error) {
	if !named {
		return 0, false, nil
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, true, err
	}
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			header()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, true, werr
			}
			total += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return total, true, nil
		}
		if err != nil {
			return total, true, err
		}
	}
}
