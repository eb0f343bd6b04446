package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/spec"
)

// Release is an immutable, numbered deploy of an app to an environment: it
// pins the artifact, the spec and the exact config. Only its status,
// reason and finish time change after it is created.
type Release struct {
	App        string            `json:"app"`
	Env        string            `json:"env"`
	Number     int               `json:"number"`
	Artifact   string            `json:"artifact"`
	Spec       spec.App          `json:"-"`
	Config     map[string]string `json:"-"`
	ConfigHash string            `json:"config_hash"`
	Source     string            `json:"source"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	CreatedBy  string            `json:"created_by"`
	CreatedAt  time.Time         `json:"created_at"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
}

// Duration is how long the release took to go live or fail (0 while running).
func (r Release) Duration() time.Duration {
	if r.FinishedAt == nil {
		return 0
	}
	return r.FinishedAt.Sub(r.CreatedAt)
}

// Rollout phases, in order. They are persisted so a restarted control plane
// knows whether traffic had been switched.
const (
	PhaseStarting  = "starting"  // new instances starting; old release serves
	PhaseSwitching = "switching" // new instances healthy; route being switched
	PhaseSwitched  = "switched"  // new release serves; old instances draining
	PhaseDone      = "done"
)

// Rollout states.
const (
	RolloutRunning   = "running"
	RolloutSucceeded = "succeeded"
	RolloutFailed    = "failed"
)

// Rollout is the move of an environment from one release to another.
type Rollout struct {
	ID           int64      `json:"id"`
	App          string     `json:"app"`
	Env          string     `json:"env"`
	FromRelease  int        `json:"from_release"` // 0 for the first deploy
	ToRelease    int        `json:"to_release"`
	Strategy     string     `json:"strategy"`
	State        string     `json:"state"`
	Phase        string     `json:"phase"`
	Reason       string     `json:"reason,omitempty"`
	NewInstances []string   `json:"new_instances"`
	OldInstances []string   `json:"old_instances"`
	CreatedBy    string     `json:"created_by"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
}

// ErrConflict is returned when a rollout is already running for the same
// (app, environment).
var ErrConflict = errors.New("a rollout is already in progress")

// ConflictError carries the rollout that is in the way.
type ConflictError struct{ Running Rollout }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s/%s: %v (rollout %d to release %d, started %s ago); wait for it to finish (`slipway status %s --env %s`)",
		e.Running.App, e.Running.Env, ErrConflict, e.Running.ID, e.Running.ToRelease,
		time.Since(e.Running.StartedAt).Round(time.Second), e.Running.App, e.Running.Env)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// NewRollout describes a rollout to begin.
type NewRollout struct {
	App, Env string
	Artifact string
	// Spec, when set, is stored as the app's spec in the same transaction
	// (a deploy with -f) and pinned in the release. When nil the stored
	// spec is pinned.
	Spec *spec.App
	// PinSpec, when set, is pinned in the release instead of the stored
	// spec, without changing the stored spec (rollback, promote).
	PinSpec *spec.App
	// Config, when set, is pinned as is (rollback, promote). Otherwise the
	// effective config is computed from the spec and the overrides.
	Config map[string]string
	// ConfigSet and ConfigUnset change the overrides first (config set).
	ConfigSet   map[string]string
	ConfigUnset []string
	Source      string
	Strategy    string
	Actor       string
}

// BeginRollout creates the next release of (app, env) and a running rollout
// to it, in one transaction. It returns a *ConflictError if a rollout of the
// same environment is running.
func (s *Store) BeginRollout(ctx context.Context, nr NewRollout) (Release, Rollout, error) {
	var rel Release
	var ro Rollout
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if running, err := runningRollout(ctx, tx, nr.App, nr.Env); err == nil {
			return &ConflictError{Running: running}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if nr.Spec != nil {
			raw, err := json.Marshal(nr.Spec)
			if err != nil {
				return err
			}
			if err := s.applyApp(ctx, tx, *nr.Spec, raw, nr.Actor); err != nil {
				return err
			}
		}
		app, err := appTx(ctx, tx, nr.App)
		if err != nil {
			return err
		}
		if _, ok := app.Environments[nr.Env]; !ok {
			return fmt.Errorf("environment %q of app %s: %w; environments in slipway.yaml: %s",
				nr.Env, nr.App, ErrNotFound, strings.Join(envNames(app), ", "))
		}
		var artifactOK int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM artifacts WHERE digest = ?`, nr.Artifact).Scan(&artifactOK); err != nil {
			return err
		}
		if artifactOK == 0 {
			return fmt.Errorf("artifact %s: %w; upload it first", nr.Artifact, ErrNotFound)
		}
		if err := setOverrides(ctx, tx, nr); err != nil {
			return err
		}
		config := nr.Config
		if config == nil {
			overrides, err := overrides(ctx, tx, nr.App, nr.Env)
			if err != nil {
				return err
			}
			config = release.EffectiveConfig(app, nr.Env, overrides)
		}
		var live sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT live_release FROM environments WHERE app = ? AND env = ?`, nr.App, nr.Env).Scan(&live); err != nil {
			return err
		}
		var last int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) FROM releases WHERE app = ? AND env = ?`, nr.App, nr.Env).Scan(&last); err != nil {
			return err
		}
		if nr.PinSpec != nil {
			app = *nr.PinSpec
		}
		specRaw, _ := json.Marshal(app)
		configRaw, _ := json.Marshal(config)
		now := s.ts()
		rel = Release{App: nr.App, Env: nr.Env, Number: last + 1, Artifact: nr.Artifact, Spec: app, Config: config,
			ConfigHash: release.ConfigHash(config), Source: nr.Source, Status: release.StatusDeploying,
			CreatedBy: nr.Actor, CreatedAt: parseTS(now)}
		if _, err := tx.ExecContext(ctx, `INSERT INTO releases (app, env, number, artifact, spec, config, config_hash, source, status, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rel.App, rel.Env, rel.Number, rel.Artifact, string(specRaw), string(configRaw),
			rel.ConfigHash, rel.Source, rel.Status, rel.CreatedBy, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO rollouts (app, env, from_release, to_release, strategy, state, phase, created_by, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, nr.App, nr.Env, live, rel.Number, nr.Strategy, RolloutRunning, PhaseStarting, nr.Actor, now)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		ro = Rollout{ID: id, App: nr.App, Env: nr.Env, FromRelease: int(live.Int64), ToRelease: rel.Number, Strategy: nr.Strategy,
			State: RolloutRunning, Phase: PhaseStarting, NewInstances: []string{}, OldInstances: []string{}, CreatedBy: nr.Actor, StartedAt: rel.CreatedAt}
		return s.addEvent(ctx, tx, nr.Actor, "rollout.begin", nr.App, nr.Env,
			fmt.Sprintf("rollout %d to release %d (%s, artifact %s, config %s)", id, rel.Number, nr.Source, short(nr.Artifact), rel.ConfigHash))
	})
	return rel, ro, err
}

func setOverrides(ctx context.Context, tx *sql.Tx, nr NewRollout) error {
	for _, k := range sortedKeys(nr.ConfigSet) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO config_overrides (app, env, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (app, env, key) DO UPDATE SET value = excluded.value`, nr.App, nr.Env, k, nr.ConfigSet[k]); err != nil {
			return err
		}
	}
	for _, k := range nr.ConfigUnset {
		if _, err := tx.ExecContext(ctx, `DELETE FROM config_overrides WHERE app = ? AND env = ? AND key = ?`, nr.App, nr.Env, k); err != nil {
			return err
		}
	}
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

func envNames(app spec.App) []string {
	var out []string
	for name := range app.Environments {
		out = append(out, name)
	}
	return sortStrings(out)
}

func appTx(ctx context.Context, tx *sql.Tx, name string) (spec.App, error) {
	var raw string
	err := tx.QueryRowContext(ctx, `SELECT spec FROM apps WHERE name = ?`, name).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return spec.App{}, fmt.Errorf("app %q: %w; apply its slipway.yaml first", name, ErrNotFound)
	}
	if err != nil {
		return spec.App{}, err
	}
	var app spec.App
	return app, json.Unmarshal([]byte(raw), &app)
}

const rolloutCols = `id, app, env, COALESCE(from_release, 0), to_release, strategy, state, phase, reason, new_instances, old_instances, created_by, started_at, finished_at`

type scanner interface{ Scan(...any) error }

func scanRollout(row scanner) (Rollout, error) {
	var r Rollout
	var newIDs, oldIDs, started string
	var finished sql.NullString
	err := row.Scan(&r.ID, &r.App, &r.Env, &r.FromRelease, &r.ToRelease, &r.Strategy, &r.State, &r.Phase, &r.Reason,
		&newIDs, &oldIDs, &r.CreatedBy, &started, &finished)
	if err != nil {
		return r, err
	}
	r.StartedAt, r.FinishedAt = parseTS(started), parseNullTS(finished)
	if err := json.Unmarshal([]byte(newIDs), &r.NewInstances); err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(oldIDs), &r.OldInstances)
}

func runningRollout(ctx context.Context, tx *sql.Tx, app, env string) (Rollout, error) {
	r, err := scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE app = ? AND env = ? AND state = ?`, app, env, RolloutRunning))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// Rollout returns one rollout by ID.
func (s *Store) Rollout(ctx context.Context, id int64) (Rollout, error) {
	r, err := scanRollout(s.db.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rollout %d: %w", id, ErrNotFound)
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
		if _, err := tx.ExecContext(ctx, `UPDATE rollouts SET phase = ? WHERE id = ?`, phase, id); err != nil {
			return err
		}
		if phase != PhaseSwitched {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ? WHERE app = ? AND env = ? AND status = ?`,
			release.StatusSuperseded, r.App, r.Env, release.StatusLive); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ?, finished_at = ? WHERE app = ? AND env = ? AND number = ?`,
			release.StatusLive, s.ts(), r.App, r.Env, r.ToRelease); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE environments SET live_release = ? WHERE app = ? AND env = ?`, r.ToRelease, r.App, r.Env); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, r.CreatedBy, "release.live", r.App, r.Env, fmt.Sprintf("release %d is live (rollout %d)", r.ToRelease, id))
	})
}

// FinishRollout ends a running rollout. A failed rollout whose release
// never went live marks that release failed with the same reason.
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
		if _, err := tx.ExecContext(ctx, `UPDATE rollouts SET state = ?, phase = ?, reason = ?, finished_at = ? WHERE id = ?`,
			state, PhaseDone, reason, now, id); err != nil {
			return err
		}
		if state == RolloutFailed {
			if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ?, reason = ?, finished_at = ? WHERE app = ? AND env = ? AND number = ? AND status = ?`,
				release.StatusFailed, reason, now, r.App, r.Env, r.ToRelease, release.StatusDeploying); err != nil {
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

const releaseCols = `app, env, number, artifact, spec, config, config_hash, source, status, reason, created_by, created_at, finished_at`

func scanRelease(row scanner) (Release, error) {
	var r Release
	var specRaw, configRaw, created string
	var finished sql.NullString
	err := row.Scan(&r.App, &r.Env, &r.Number, &r.Artifact, &specRaw, &configRaw, &r.ConfigHash, &r.Source, &r.Status,
		&r.Reason, &r.CreatedBy, &created, &finished)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.FinishedAt = parseTS(created), parseNullTS(finished)
	if err := json.Unmarshal([]byte(specRaw), &r.Spec); err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(configRaw), &r.Config)
}

// Release returns release number n of (app, env).
func (s *Store) Release(ctx context.Context, app, env string, n int) (Release, error) {
	r, err := scanRelease(s.db.QueryRowContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE app = ? AND env = ? AND number = ?`, app, env, n))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("release %d of %s/%s: %w", n, app, env, ErrNotFound)
	}
	return r, err
}

// Releases lists the releases of (app, env), newest first.
func (s *Store) Releases(ctx context.Context, app, env string) ([]Release, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE app = ? AND env = ? ORDER BY number DESC`, app, env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
