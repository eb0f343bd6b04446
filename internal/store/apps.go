package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/slipway-dev/slipway/internal/spec"
)

// ErrEnvInUse is returned when an apply would remove an environment that
// still runs a release.
var ErrEnvInUse = errors.New("environment still runs a release")

// App returns the stored spec of the named app.
func (s *Store) App(ctx context.Context, name string) (spec.App, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT spec FROM apps WHERE name = ?`, name).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return spec.App{}, fmt.Errorf("app %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return spec.App{}, err
	}
	var app spec.App
	if err := json.Unmarshal([]byte(raw), &app); err != nil {
		return spec.App{}, fmt.Errorf("app %q: decode stored spec: %w", name, err)
	}
	return app, nil
}

// Apps lists the names of every app.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM apps ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ApplyApp stores app's spec, creating the app and its environments as
// needed, in one transaction. It refuses to drop an environment that still
// runs a release, and to claim a host another app's environment uses.
func (s *Store) ApplyApp(ctx context.Context, app spec.App, actor string) error {
	raw, err := json.Marshal(app)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return s.applyApp(ctx, tx, app, raw, actor) })
}

func (s *Store) applyApp(ctx context.Context, tx *sql.Tx, app spec.App, raw []byte, actor string) error {
	if err := s.checkHosts(ctx, tx, app); err != nil {
		return err
	}
	now := s.ts()
	res, err := tx.ExecContext(ctx, `UPDATE apps SET spec = ?, updated_at = ? WHERE name = ?`, string(raw), now, app.Name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			app.Name, string(raw), now, now); err != nil {
			return err
		}
	}
	existing, err := envRows(ctx, tx, app.Name)
	if err != nil {
		return err
	}
	for env, live := range existing {
		if _, keep := app.Environments[env]; keep {
			continue
		}
		if live.Valid {
			return fmt.Errorf("remove environment %s of %s: it runs release %d: %w; keep it in slipway.yaml until it is taken down",
				env, app.Name, live.Int64, ErrEnvInUse)
		}
		// A first deploy in flight has nothing live yet but is about to.
		if ro, err := runningRollout(ctx, tx, app.Name, env); err == nil {
			return fmt.Errorf("remove environment %s of %s: rollout %d to release %d is in progress: %w; wait for it to finish, then apply again",
				env, app.Name, ro.ID, ro.ToRelease, ErrEnvInUse)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		// The environment's overrides go with it, so one created later
		// under the same name does not inherit them.
		if _, err := tx.ExecContext(ctx, `DELETE FROM config_overrides WHERE app = ? AND env = ?`, app.Name, env); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM environments WHERE app = ? AND env = ?`, app.Name, env); err != nil {
			return err
		}
	}
	for env := range app.Environments {
		if _, ok := existing[env]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO environments (app, env) VALUES (?, ?)`, app.Name, env); err != nil {
			return err
		}
	}
	return s.addEvent(ctx, tx, actor, "apply", app.Name, "", "")
}

func envRows(ctx context.Context, tx *sql.Tx, app string) (map[string]sql.NullInt64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT env, live_release FROM environments WHERE app = ?`, app)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]sql.NullInt64{}
	for rows.Next() {
		var env string
		var live sql.NullInt64
		if err := rows.Scan(&env, &live); err != nil {
			return nil, err
		}
		out[env] = live
	}
	return out, rows.Err()
}

// ErrHostTaken is returned when two apps claim the same host.
var ErrHostTaken = errors.New("host already routed to another app")

func (s *Store) checkHosts(ctx context.Context, tx *sql.Tx, app spec.App) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, spec FROM apps WHERE name != ?`, app.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, raw string
		if err := rows.Scan(&name, &raw); err != nil {
			return err
		}
		var other spec.App
		if err := json.Unmarshal([]byte(raw), &other); err != nil {
			return err
		}
		for oenv, o := range other.Environments {
			for env, e := range app.Environments {
				if e.Host == o.Host {
					return fmt.Errorf("environments.%s.host %q: %w (%s/%s); pick another host", env, e.Host, ErrHostTaken, name, oenv)
				}
			}
		}
	}
	return rows.Err()
}

// Environment is the state of one (app, environment).
type Environment struct {
	App         string `json:"app"`
	Env         string `json:"env"`
	LiveRelease int    `json:"live_release"` // 0 when nothing is live
}

// Environments lists every environment of every app, sorted.
func (s *Store) Environments(ctx context.Context) ([]Environment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app, env, COALESCE(live_release, 0) FROM environments ORDER BY app, env`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Environment
	for rows.Next() {
		var e Environment
		if err := rows.Scan(&e.App, &e.Env, &e.LiveRelease); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LiveRelease returns the live release number of (app, env), 0 if none.
func (s *Store) LiveRelease(ctx context.Context, app, env string) (int, error) {
	var live sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT live_release FROM environments WHERE app = ? AND env = ?`, app, env).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("environment %s of app %s: %w", env, app, ErrNotFound)
	}
	return int(live.Int64), err
}

// ConfigOverrides returns the keys set with `slipway config set`.
func (s *Store) ConfigOverrides(ctx context.Context, app, env string) (map[string]string, error) {
	return overrides(ctx, s.db, app, env)
}

// querier is what *sql.DB and *sql.Tx share for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func overrides(ctx context.Context, q querier, app, env string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM config_overrides WHERE app = ? AND env = ?`, app, env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
