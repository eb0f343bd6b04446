package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/release"
)

// Rollout phases, in order. They are persisted so a restarted control plane
// knows whether traffic had been switched.
const (
	PhaseStarting  = "starting"  // new instances starting; old release serves
	PhaseProgress  = "progress"  // canary or rolling steps in progress; both serve
	PhaseSwitched  = "switched"  // new release serves all traffic; old instances draining
	PhaseReverting = "reverting" // post-deploy checks failed: previous release live again, new one stopping
	PhaseDone      = "done"
)

// Rollout states.
const (
	RolloutRunning   = "running"
	RolloutSucceeded = "succeeded"
	RolloutFailed    = "failed"  // never switched: the new release did not become healthy
	RolloutAborted   = "aborted" // stopped by analysis, a deadline or a user; traffic back on stable
)

// Rollout is the move of an environment from one release to another.
type Rollout struct {
	ID           int64      `json:"id"`
	App          string     `json:"app"`
	Env          string     `json:"env"`
	FromRelease  int        `json:"from_release"` // 0 for the first deploy
	ToRelease    int        `json:"to_release"`
	Kind         string     `json:"kind"` // deploy, promote, rollback, config
	Strategy     string     `json:"strategy"`
	State        string     `json:"state"`
	Phase        string     `json:"phase"`
	Reason       string     `json:"reason,omitempty"`
	Step         int        `json:"step"`   // index of the current canary step
	Weight       int        `json:"weight"` // canary weight now published
	Paused       bool       `json:"paused"`
	Awaiting     bool       `json:"awaiting_promotion"` // at a manual gate: `slipway rollout promote` continues
	Message      string     `json:"message,omitempty"`  // what it is doing now
	NewInstances []string   `json:"new_instances"`
	OldInstances []string   `json:"old_instances"`
	CreatedBy    string     `json:"created_by"`
	StartedAt    time.Time  `json:"started_at"`
	ProgressAt   time.Time  `json:"progress_at"` // last time a step completed
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
}

// ErrConflict is returned when a rollout is already running for the same
// (app, environment).
var ErrConflict = errors.New("a rollout is already in progress")

// ConflictError carries the rollout that is in the way.
type ConflictError struct{ Running Rollout }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s/%s: %v (rollout %d to release %d, started %s ago); wait for it to finish or abort it (`slipway rollout status %s --env %s`)",
		e.Running.App, e.Running.Env, ErrConflict, e.Running.ID, e.Running.ToRelease,
		time.Since(e.Running.StartedAt).Round(time.Second), e.Running.App, e.Running.Env)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

const rolloutCols = `id, app, env, COALESCE(from_release, 0), to_release, kind, strategy, state, phase, reason, step, weight, paused, awaiting, message,
	new_instances, old_instances, created_by, started_at, progress_at, finished_at`

type scanner interface{ Scan(...any) error }

func scanRollout(row scanner) (Rollout, error) {
	var r Rollout
	var newIDs, oldIDs, started, progress string
	var finished sql.NullString
	err := row.Scan(&r.ID, &r.App, &r.Env, &r.FromRelease, &r.ToRelease, &r.Kind, &r.Strategy, &r.State, &r.Phase, &r.Reason,
		&r.Step, &r.Weight, &r.Paused, &r.Awaiting, &r.Message, &newIDs, &oldIDs, &r.CreatedBy, &started, &progress, &finished)
	if err != nil {
		return r, err
	}
	r.StartedAt, r.ProgressAt, r.FinishedAt = parseTS(started), parseTS(progress), parseNullTS(finished)
	if err := json.Unmarshal([]byte(newIDs), &r.NewInstances); err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(oldIDs), &r.OldInstances)
}

func runningRollout(ctx context.Context, q querierRow, app, env string) (Rollout, error) {
	r, err := scanRollout(q.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE app = ? AND env = ? AND state = ?`, app, env, RolloutRunning))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

type querierRow interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Rollout returns one rollout by ID.
func (s *Store) Rollout(ctx context.Context, id int64) (Rollout, error) {
	r, err := scanRollout(s.db.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rollout %d: %w", id, ErrNotFound)
	}
	return r, err
}

// RunningRollout returns the rollout in progress in (app, env), or ErrNotFound.
func (s *Store) RunningRollout(ctx context.Context, app, env string) (Rollout, error) {
	r, err := runningRollout(ctx, s.db, app, env)
	if errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("%s/%s has no rollout in progress: %w", app, env, ErrNotFound)
	}
	return r, err
}

// Rollouts lists rollouts, newest first. With running only those in
// progress; app and env filter when not empty.
func (s *Store) Rollouts(ctx context.Context, app, env string, runningOnly bool, limit int) ([]Rollout, error) {
	q := `SELECT ` + rolloutCols + ` FROM rollouts WHERE (? = '' OR app = ?) AND (? = '' OR env = ?)`
	args := []any{app, app, env, env}
	if runningOnly {
		q += ` AND state = ?`
		args = append(args, RolloutRunning)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetRolloutInstances records the instances a rollout started and the ones
// it will replace, so a restarted control plane can finish or undo it.
func (s *Store) SetRolloutInstances(ctx context.Context, id int64, newIDs, oldIDs []string) error {
	n, _ := json.Marshal(nonNil(newIDs))
	o, _ := json.Marshal(nonNil(oldIDs))
	_, err := s.db.ExecContext(ctx, `UPDATE rollouts SET new_instances = ?, old_instances = ? WHERE id = ?`, string(n), string(o), id)
	return err
}

// SetRolloutProgress records the step and canary weight a running rollout
// has reached (and that it made progress now).
func (s *Store) SetRolloutProgress(ctx context.Context, id int64, phase string, step, weight int, message string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE rollouts SET phase = ?, step = ?, weight = ?, message = ?, progress_at = ? WHERE id = ? AND state = ?`,
		phase, step, weight, message, s.ts(), id, RolloutRunning)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("rollout %d is not running", id)
	}
	return nil
}

// SetRolloutMessage says what a running rollout is doing, without
// counting as progress.
func (s *Store) SetRolloutMessage(ctx context.Context, id int64, message string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE rollouts SET message = ? WHERE id = ?`, message, id)
	return err
}

// SetRolloutAwaiting records that a rollout waits at a manual gate.
func (s *Store) SetRolloutAwaiting(ctx context.Context, id int64, awaiting bool) error {
	_, err := s.db.ExecContext(ctx, `UPDATE rollouts SET awaiting = ? WHERE id = ?`, awaiting, id)
	return err
}

// SetRolloutPaused holds or releases a running rollout.
func (s *Store) SetRolloutPaused(ctx context.Context, id int64, paused bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE rollouts SET paused = ? WHERE id = ? AND state = ?`, paused, id, RolloutRunning)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("rollout %d is not running", id)
	}
	return nil
}

// SetRolloutPhase moves a running rollout to phase. Moving to
// PhaseSwitched also makes its release live and supersedes the previous
// one, in the same transaction.
func (s *Store) SetRolloutPhase(ctx context.Context, id int64, phase string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("rollout %d: %w", id, err)
		}
		if r.State != RolloutRunning {
			return fmt.Errorf("rollout %d is %s, not running", id, r.State)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rollouts SET phase = ?, progress_at = ? WHERE id = ?`, phase, s.ts(), id); err != nil {
			return err
		}
		if phase != PhaseSwitched {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ? WHERE app = ? AND env = ? AND status = ?`,
			release.StatusSuperseded, r.App, r.Env, release.StatusLive); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ?, finished_at = COALESCE(finished_at, ?) WHERE app = ? AND env = ? AND number = ?`,
			release.StatusLive, s.ts(), r.App, r.Env, r.ToRelease); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE environments SET live_release = ? WHERE app = ? AND env = ?`, r.ToRelease, r.App, r.Env); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, r.CreatedBy, "release.live", r.App, r.Env, fmt.Sprintf("release %d is live (rollout %d)", r.ToRelease, id))
	})
}

// FinishRollout ends a running rollout. A failed or aborted rollout whose
// release was new and never went live marks that release failed or
// aborted with the same reason; a release rolled out again (rollback) keeps
// its status.
func (s *Store) FinishRollout(ctx context.Context, id int64, state, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("rollout %d: %w", id, err)
		}
		if r.State != RolloutRunning {
			return fmt.Errorf("rollout %d is already %s", id, r.State)
		}
		if state == RolloutSucceeded && r.Phase != PhaseSwitched {
			return fmt.Errorf("rollout %d cannot succeed in phase %s: traffic was never switched to release %d", id, r.Phase, r.ToRelease)
		}
		now := s.ts()
		weight := r.Weight
		if state != RolloutSucceeded {
			weight = 0
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rollouts SET state = ?, phase = ?, reason = ?, finished_at = ?, weight = ?, paused = 0, awaiting = 0, message = '' WHERE id = ?`,
			state, PhaseDone, reason, now, weight, id); err != nil {
			return err
		}
		if state != RolloutSucceeded {
			status := release.StatusFailed
			if state == RolloutAborted {
				status = release.StatusAborted
			}
			if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ?, reason = ?, finished_at = ? WHERE app = ? AND env = ? AND number = ? AND status = ?`,
				status, reason, now, r.App, r.Env, r.ToRelease, release.StatusDeploying); err != nil {
				return err
			}
		}
		detail := fmt.Sprintf("rollout %d to release %d %s", id, r.ToRelease, state)
		if reason != "" {
			detail += ": " + reason
		}
		return s.addEvent(ctx, tx, r.CreatedBy, "rollout."+state, r.App, r.Env, detail)
	})
}

// PreviousLive is the release that was live before the current one went
// live: what an undo goes back to. 0 if there is none.
func (s *Store) PreviousLive(ctx context.Context, app, env string) (int, error) {
	var from sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT r.from_release FROM rollouts r JOIN environments e ON e.app = r.app AND e.env = r.env
		WHERE r.app = ? AND r.env = ? AND r.state = ? AND r.to_release = e.live_release ORDER BY r.id DESC LIMIT 1`,
		app, env, RolloutSucceeded).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return int(from.Int64), err
}

// Decision is one recorded decision of a rollout, with its evidence.
type Decision struct {
	ID        int64           `json:"id"`
	RolloutID int64           `json:"rollout_id"`
	At        time.Time       `json:"at"`
	Action    string          `json:"action"` // advance, abort, promote, pause, resume
	Actor     string          `json:"actor"`  // "analysis", "deadline", "schedule" or a user
	Step      int             `json:"step"`
	Weight    int             `json:"weight"`
	Reason    string          `json:"reason"`
	Evidence  json.RawMessage `json:"evidence,omitempty"`
}

// AddDecision records a decision.
func (s *Store) AddDecision(ctx context.Context, d Decision) error {
	ev := d.Evidence
	if len(ev) == 0 {
		ev = json.RawMessage("{}")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var app, env string
		if err := tx.QueryRowContext(ctx, `SELECT app, env FROM rollouts WHERE id = ?`, d.RolloutID).Scan(&app, &env); err != nil {
			return fmt.Errorf("rollout %d: %w", d.RolloutID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollout_decisions (rollout_id, at, action, actor, step, weight, reason, evidence)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.RolloutID, s.ts(), d.Action, d.Actor, d.Step, d.Weight, d.Reason, string(ev)); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, d.Actor, "rollout."+d.Action, app, env, fmt.Sprintf("rollout %d step %d weight %d%%: %s", d.RolloutID, d.Step, d.Weight, d.Reason))
	})
}

// Decisions lists a rollout's decisions, oldest first.
func (s *Store) Decisions(ctx context.Context, rolloutID int64) ([]Decision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, rollout_id, at, action, actor, step, weight, reason, evidence FROM rollout_decisions
		WHERE rollout_id = ? ORDER BY id`, rolloutID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Decision{}
	for rows.Next() {
		var d Decision
		var at, ev string
		if err := rows.Scan(&d.ID, &d.RolloutID, &at, &d.Action, &d.Actor, &d.Step, &d.Weight, &d.Reason, &ev); err != nil {
			return nil, err
		}
		d.At, d.Evidence = parseTS(at), json.RawMessage(ev)
		out = append(out, d)
	}
	return out, rows.Err()
}
