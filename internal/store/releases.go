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
	// Secrets pins a version of each secret (name -> version), never a
	// value.
	Secrets map[string]int `json:"secrets,omitempty"`
}

// Duration is how long the release took to go live or fail (0 while running).
func (r Release) Duration() time.Duration {
	if r.FinishedAt == nil {
		return 0
	}
	return r.FinishedAt.Sub(r.CreatedAt)
}

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
	// SecretSet and SecretUnset add secret versions first (secret set and
	// unset); SecretSet holds ciphertexts sealed by the caller. The release
	// pins the current version of every secret of the environment.
	SecretSet   map[string][]byte
	SecretUnset []string
	// Existing, when > 0, rolls out that existing release again (a
	// rollback) instead of creating a new one; Artifact, Spec, PinSpec,
	// Config and the override changes are then ignored.
	Existing int
	// Kind is what started the rollout: deploy, promote, rollback, config.
	Kind     string
	Source   string
	Strategy string
	Actor    string
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
		if nr.Existing > 0 {
			live, err := liveTx(ctx, tx, nr.App, nr.Env)
			if err != nil {
				return err
			}
			r, err := scanRelease(tx.QueryRowContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE app = ? AND env = ? AND number = ?`, nr.App, nr.Env, nr.Existing))
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("release %d of %s/%s: %w", nr.Existing, nr.App, nr.Env, ErrNotFound)
			}
			if err != nil {
				return err
			}
			rel = r
			ro, err = s.insertRollout(ctx, tx, nr, live, r)
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
		secrets, err := s.pinSecrets(ctx, tx, nr)
		if err != nil {
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
		live, err := liveTx(ctx, tx, nr.App, nr.Env)
		if err != nil {
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
		secretsRaw, _ := json.Marshal(secrets)
		now := s.ts()
		rel = Release{App: nr.App, Env: nr.Env, Number: last + 1, Artifact: nr.Artifact, Spec: app, Config: config,
			ConfigHash: release.ConfigHash(config), Secrets: secrets, Source: nr.Source, Status: release.StatusDeploying,
			CreatedBy: nr.Actor, CreatedAt: parseTS(now)}
		if _, err := tx.ExecContext(ctx, `INSERT INTO releases (app, env, number, artifact, spec, config, config_hash, secrets, source, status, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rel.App, rel.Env, rel.Number, rel.Artifact, string(specRaw), string(configRaw),
			rel.ConfigHash, string(secretsRaw), rel.Source, rel.Status, rel.CreatedBy, now); err != nil {
			return err
		}
		ro, err = s.insertRollout(ctx, tx, nr, live, rel)
		return err
	})
	return rel, ro, err
}

// insertRollout records a running rollout of (app, env) to release to.
func (s *Store) insertRollout(ctx context.Context, tx *sql.Tx, nr NewRollout, from int, rel Release) (Rollout, error) {
	to := rel.Number
	now := s.ts()
	kind := nr.Kind
	if kind == "" {
		kind = "deploy"
	}
	var fromArg any
	if from > 0 {
		fromArg = from
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO rollouts (app, env, from_release, to_release, strategy, state, phase, created_by, started_at, kind, progress_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, nr.App, nr.Env, fromArg, to, nr.Strategy, RolloutRunning, PhaseStarting, nr.Actor, now, kind, now)
	if err != nil {
		return Rollout{}, err
	}
	id, _ := res.LastInsertId()
	ro := Rollout{ID: id, App: nr.App, Env: nr.Env, FromRelease: from, ToRelease: to, Strategy: nr.Strategy, Kind: kind,
		State: RolloutRunning, Phase: PhaseStarting, NewInstances: []string{}, OldInstances: []string{}, CreatedBy: nr.Actor,
		StartedAt: parseTS(now), ProgressAt: parseTS(now)}
	return ro, s.addEvent(ctx, tx, nr.Actor, kind, nr.App, nr.Env,
		fmt.Sprintf("rollout %d (%s, %s) to release %d: %s (artifact %s, config %s)", id, kind, nr.Strategy, to, nr.Source, short(rel.Artifact), rel.ConfigHash))
}

func liveTx(ctx context.Context, tx *sql.Tx, app, env string) (int, error) {
	var live sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT live_release FROM environments WHERE app = ? AND env = ?`, app, env).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("environment %q of app %s: %w", env, app, ErrNotFound)
	}
	return int(live.Int64), err
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

const releaseCols = `app, env, number, artifact, spec, config, config_hash, secrets, source, status, reason, created_by, created_at, finished_at`

func scanRelease(row scanner) (Release, error) {
	var r Release
	var specRaw, configRaw, secretsRaw, created string
	var finished sql.NullString
	err := row.Scan(&r.App, &r.Env, &r.Number, &r.Artifact, &specRaw, &configRaw, &r.ConfigHash, &secretsRaw, &r.Source, &r.Status,
		&r.Reason, &r.CreatedBy, &created, &finished)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.FinishedAt = parseTS(created), parseNullTS(finished)
	if err := json.Unmarshal([]byte(specRaw), &r.Spec); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(secretsRaw), &r.Secrets); err != nil {
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
