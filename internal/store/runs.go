package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline"
)

// Run states. A run is queued until a runner slot takes it, then running
// until it ends in one of the three final states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Step states of a run's steps.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepTimedOut  = "timed_out"
	StepCancelled = "cancelled"
	StepSkipped   = "skipped" // never started: an earlier stage failed or the run was cancelled
)

// What started a run.
const (
	TriggerManual  = "manual"  // `slipway run`, `slipway runs rerun`
	TriggerPush    = "push"    // a push seen by the trigger
	TriggerPoll    = "poll"    // a new commit found by polling
	TriggerWebhook = "webhook" // a push webhook
)

// ErrRunDone is returned when a run that already ended is asked to change.
var ErrRunDone = errors.New("the run has already ended")

// Run is one pipeline run: one commit checked out, tested and built.
type Run struct {
	ID       int64  `json:"id"`
	App      string `json:"app"`
	Repo     string `json:"repo"`
	SpecFile string `json:"spec_file"`
	// Revision is what was asked for (a hash, a branch or a tag); Commit
	// is the full hash it resolved to, set once the run checked it out.
	Revision   string     `json:"revision"`
	Commit     string     `json:"commit,omitempty"`
	Branch     string     `json:"branch,omitempty"`
	Tag        string     `json:"tag,omitempty"`
	Trigger    string     `json:"trigger"`
	Actor      string     `json:"actor"`
	State      string     `json:"state"`
	Artifact   string     `json:"artifact,omitempty"` // digest, once succeeded
	Error      string     `json:"error,omitempty"`
	RerunOf    int64      `json:"rerun_of,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Steps, in pipeline order; filled by Store.Run only, and empty until
	// the run has read its pipeline.
	Steps []RunStep `json:"steps,omitempty"`
	// TriggerResult says what a trigger did with a run a push started
	// (deployed, made a candidate or a preview, or why not); filled by
	// Store.Run only (triggers.go).
	TriggerResult string `json:"trigger_result,omitempty"`
}

// Done reports whether the run has ended.
func (r Run) Done() bool {
	return r.State == RunSucceeded || r.State == RunFailed || r.State == RunCancelled
}

// Duration is how long the run has been running, or ran (0 if it never
// started).
func (r Run) Duration(now time.Time) time.Duration { return span(r.StartedAt, r.FinishedAt, now) }

// RunStep is one step of a run.
type RunStep struct {
	Stage    string `json:"stage"`
	Step     string `json:"step"`
	State    string `json:"state"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Error    string `json:"error,omitempty"`
	// Log is the step's log file relative to the run's log directory
	// (DATA/runs/<id>); empty until the step starts.
	Log string `json:"log,omitempty"`
	// PGID is the process group of a running local step (0 otherwise).
	PGID       int        `json:"-"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Done reports whether the step has ended or will never start.
func (s RunStep) Done() bool { return s.State != StepPending && s.State != StepRunning }

// Duration is how long the step has been running, or ran.
func (s RunStep) Duration(now time.Time) time.Duration { return span(s.StartedAt, s.FinishedAt, now) }

func span(start, end *time.Time, now time.Time) time.Duration {
	switch {
	case start == nil:
		return 0
	case end == nil:
		return now.Sub(*start)
	}
	return end.Sub(*start)
}

// NewRun describes a run to queue.
type NewRun struct {
	App, Repo, SpecFile, Revision, Branch, Tag string
	Trigger, Actor                             string
	RerunOf                                    int64
}

// RunOutcome is how a run ended.
type RunOutcome struct {
	State    string // RunSucceeded, RunFailed or RunCancelled
	Artifact string // the digest, for RunSucceeded
	Error    string
	Actor    string // recorded in the audit log; default the run's actor
}

const runCols = `id, app, repo, spec_file, revision, commit_sha, branch, tag, trigger_kind, actor, state, artifact, error,
	COALESCE(rerun_of, 0), created_at, started_at, finished_at`

func scanRun(row scanner) (Run, error) {
	var r Run
	var created string
	var started, finished sql.NullString
	err := row.Scan(&r.ID, &r.App, &r.Repo, &r.SpecFile, &r.Revision, &r.Commit, &r.Branch, &r.Tag, &r.Trigger, &r.Actor,
		&r.State, &r.Artifact, &r.Error, &r.RerunOf, &created, &started, &finished)
	r.CreatedAt, r.StartedAt, r.FinishedAt = parseTS(created), parseNullTS(started), parseNullTS(finished)
	return r, err
}

func runTx(ctx context.Context, q querierRow, id int64) (Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

// CreateRun queues a run.
func (s *Store) CreateRun(ctx context.Context, nr NewRun) (Run, error) {
	var run Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		run, err = s.createRun(ctx, tx, nr)
		return err
	})
	return run, err
}

// createRun queues a run inside tx, with its audit event.
func (s *Store) createRun(ctx context.Context, tx *sql.Tx, nr NewRun) (Run, error) {
	var rerunOf any
	if nr.RerunOf > 0 {
		if _, err := runTx(ctx, tx, nr.RerunOf); err != nil {
			return Run{}, err
		}
		rerunOf = nr.RerunOf
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO runs (app, repo, spec_file, revision, branch, tag, trigger_kind, actor, state, rerun_of, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, nr.App, nr.Repo, nr.SpecFile, nr.Revision, nr.Branch, nr.Tag, nr.Trigger, nr.Actor,
		RunQueued, rerunOf, s.ts())
	if err != nil {
		return Run{}, err
	}
	id, _ := res.LastInsertId()
	run, err := runTx(ctx, tx, id)
	if err != nil {
		return Run{}, err
	}
	detail := fmt.Sprintf("run %d of %s at %s (%s)", id, pipeline.Redacted(nr.Repo), nr.Revision, nr.Trigger)
	if nr.RerunOf > 0 {
		detail += fmt.Sprintf(", rerun of run %d", nr.RerunOf)
	}
	return run, s.addEvent(ctx, tx, nr.Actor, "run.start", nr.App, "", detail)
}

// ClaimRun moves the oldest queued run to running and returns it, or
// ErrNotFound when none is queued.
func (s *Store) ClaimRun(ctx context.Context) (Run, error) {
	var run Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE state = ? ORDER BY id LIMIT 1`, RunQueued))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, started_at = ? WHERE id = ?`, RunRunning, s.ts(), r.ID); err != nil {
			return err
		}
		run, err = runTx(ctx, tx, r.ID)
		return err
	})
	return run, err
}

// SetRunCommit records the full hash a running run checked out.
func (s *Store) SetRunCommit(ctx context.Context, id int64, commit string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET commit_sha = ? WHERE id = ?`, commit, id)
	return err
}

// PlanRun records the steps of a running run, in order, all pending. A
// run is planned once.
func (s *Store) PlanRun(ctx context.Context, id int64, steps []RunStep) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := runTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != RunRunning {
			return fmt.Errorf("plan run %d: it is %s, not running", id, r.State)
		}
		for i, st := range steps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_steps (run_id, position, stage, step, state) VALUES (?, ?, ?, ?, ?)`,
				id, i, st.Stage, st.Step, StepPending); err != nil {
				return fmt.Errorf("plan run %d: %w", id, err)
			}
		}
		return nil
	})
}

// StartRunStep marks a pending step running, with its log file (relative
// to the run's log directory) and its process group (0 if none).
func (s *Store) StartRunStep(ctx context.Context, id int64, stage, step, log string, pgid int) error {
	return s.updateStep(ctx, id, stage, step, `state = ?, log_path = ?, pgid = ?, started_at = ?`, StepRunning, log, pgid, s.ts())
}

// FinishRunStep records how a step ended. exitCode is nil when the step
// did not exit by itself (timed out, cancelled) or never ran.
func (s *Store) FinishRunStep(ctx context.Context, id int64, stage, step, state string, exitCode *int, errText string) error {
	return s.updateStep(ctx, id, stage, step, `state = ?, exit_code = ?, error = ?, pgid = 0, finished_at = ?`, state, exitCode, errText, s.ts())
}

func (s *Store) updateStep(ctx context.Context, id int64, stage, step, set string, args ...any) error {
	res, err := s.db.ExecContext(ctx, `UPDATE run_steps SET `+set+` WHERE run_id = ? AND stage = ? AND step = ?`, append(args, id, stage, step)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("step %s/%s of run %d: %w", stage, step, id, ErrNotFound)
	}
	return nil
}

// FinishRun ends a queued or running run, in one transaction with its
// audit event: steps never started become skipped, and steps still
// running become cancelled (a cancelled run) or failed. It returns the
// run as it ended, or an error wrapping ErrRunDone if it had already
// ended.
func (s *Store) FinishRun(ctx context.Context, id int64, out RunOutcome) (Run, error) {
	var run Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := runTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Done() {
			return fmt.Errorf("run %d is %s: %w", id, r.State, ErrRunDone)
		}
		switch out.State {
		case RunSucceeded, RunFailed, RunCancelled:
		default:
			return fmt.Errorf("finish run %d: %q is not a final state", id, out.State)
		}
		now := s.ts()
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, artifact = ?, error = ?, finished_at = ? WHERE id = ?`,
			out.State, out.Artifact, out.Error, now, id); err != nil {
			return err
		}
		running := StepFailed
		if out.State == RunCancelled {
			running = StepCancelled
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run_steps SET state = ?, error = ?, pgid = 0, finished_at = ? WHERE run_id = ? AND state = ?`,
			running, out.Error, now, id, StepRunning); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run_steps SET state = ? WHERE run_id = ? AND state = ?`, StepSkipped, id, StepPending); err != nil {
			return err
		}
		if run, err = runTx(ctx, tx, id); err != nil {
			return err
		}
		actor := out.Actor
		if actor == "" {
			actor = r.Actor
		}
		detail := fmt.Sprintf("run %d at %s %s", id, shortCommit(r), out.State)
		switch {
		case out.Artifact != "":
			detail += ": artifact " + out.Artifact
		case out.Error != "":
			detail += ": " + out.Error
		}
		return s.addEvent(ctx, tx, actor, "run."+out.State, r.App, "", detail)
	})
	if err != nil {
		return run, err
	}
	run.Steps, err = s.runSteps(ctx, id)
	return run, err
}

// ErrRequeueLimit is returned by RequeueRun for a run already queued again
// as often as allowed.
var ErrRequeueLimit = errors.New("the run was queued again too often")

// RequeueRun puts running run id back in the queue, to run again from the
// start: what its interrupted attempt recorded (steps, commit, the spec it
// read) is forgotten, in one transaction with a run.requeued audit event
// (target "run ID") saying why. A run already requeued limit times is
// left running and ErrRequeueLimit returned: the caller fails it. It
// returns how often the run has been requeued, this time included.
func (s *Store) RequeueRun(ctx context.Context, id int64, why string, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := runTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != RunRunning {
			return fmt.Errorf("requeue run %d: it is %s, not running", id, r.State)
		}
		target := fmt.Sprintf("run %d", id)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE action = 'run.requeued' AND target = ?`, target).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return fmt.Errorf("run %d was queued again %d time(s) already: %w", id, n, ErrRequeueLimit)
		}
		n++
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, commit_sha = '', spec = NULL, error = '', started_at = NULL WHERE id = ?`,
			RunQueued, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_steps WHERE run_id = ?`, id); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Entry{Actor: "system", Action: "run.requeued", App: r.App, Target: target,
			Detail: fmt.Sprintf("run %d at %s %s; queued again to run from the start (%d of %d)", id, r.Revision, why, n, limit)})
	})
	return n, err
}

func shortCommit(r Run) string {
	if len(r.Commit) >= 12 {
		return r.Commit[:12]
	}
	return r.Revision
}

// Run returns one run with its steps.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := runTx(ctx, s.db, id)
	if err != nil {
		return r, err
	}
	if r.TriggerResult, err = s.triggerResult(ctx, id); err != nil {
		return r, err
	}
	r.Steps, err = s.runSteps(ctx, id)
	return r, err
}

func (s *Store) runSteps(ctx context.Context, id int64) ([]RunStep, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT stage, step, state, exit_code, error, log_path, pgid, started_at, finished_at
		FROM run_steps WHERE run_id = ? ORDER BY position`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunStep
	for rows.Next() {
		var st RunStep
		var code sql.NullInt64
		var started, finished sql.NullString
		if err := rows.Scan(&st.Stage, &st.Step, &st.State, &code, &st.Error, &st.Log, &st.PGID, &started, &finished); err != nil {
			return nil, err
		}
		if code.Valid {
			c := int(code.Int64)
			st.ExitCode = &c
		}
		st.StartedAt, st.FinishedAt = parseNullTS(started), parseNullTS(finished)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Runs lists runs newest first, of one app when app is not empty, in one
// state when state is not empty, at most limit.
func (s *Store) Runs(ctx context.Context, app, state string, limit int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE (? = '' OR app = ?) AND (? = '' OR state = ?) ORDER BY id DESC LIMIT ?`,
		app, app, state, state, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
