package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
)

// Branch previews (migration 0007): the environments triggers make for
// branches, kept in the app's stored spec, with their branch and host.

// Preview is a branch's preview environment.
type Preview struct {
	App       string    `json:"app"`
	Env       string    `json:"env"`
	Branch    string    `json:"branch"`
	Host      string    `json:"host"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Previews returns the preview environments of app by name.
func (s *Store) Previews(ctx context.Context, app string) (map[string]Preview, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app, env, branch, host, created_at, updated_at FROM previews WHERE app = ?`, app)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Preview{}
	for rows.Next() {
		var p Preview
		var created, updated string
		if err := rows.Scan(&p.App, &p.Env, &p.Branch, &p.Host, &created, &updated); err != nil {
			return nil, err
		}
		p.CreatedAt, p.UpdatedAt = parseTS(created), parseTS(updated)
		out[p.Env] = p
	}
	return out, rows.Err()
}

// ErrNotPreview is returned when a preview operation names an environment
// that no trigger made.
var ErrNotPreview = errors.New("not a preview environment")

// ErrPreviewTaken is returned when a branch's preview environment has the
// name of another branch's preview (the names are the branches made
// DNS-safe, so feature/x and feature-x give the same one).
var ErrPreviewTaken = errors.New("the preview environment belongs to another branch")

// previewBranch returns the branch whose preview env is, "" if env is no
// preview.
func previewBranch(ctx context.Context, tx *sql.Tx, app, env string) (string, error) {
	var branch string
	err := tx.QueryRowContext(ctx, `SELECT branch FROM previews WHERE app = ? AND env = ?`, app, env).Scan(&branch)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return branch, err
}

// PutPreview creates or updates the preview environment p.Env of p.App
// for branch p.Branch: env is added to (or replaces its entry in) the
// app's stored spec, in one transaction with the environment's row and
// its audit event. It refuses to take over an environment of
// slipway.yaml, another branch's preview (ErrPreviewTaken), or a host
// another app routes.
func (s *Store) PutPreview(ctx context.Context, p Preview, env spec.Environment, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		app, err := appTx(ctx, tx, p.App)
		if err != nil {
			return err
		}
		owner, err := previewBranch(ctx, tx, p.App, p.Env)
		if err != nil {
			return err
		}
		if owner != "" && owner != p.Branch {
			return fmt.Errorf("environment %s of %s is the preview of branch %s, and branch %s would get the same name: %w; rename one of the branches",
				p.Env, p.App, owner, p.Branch, ErrPreviewTaken)
		}
		known := 0
		if owner != "" {
			known = 1
		}
		if _, exists := app.Environments[p.Env]; exists && known == 0 {
			return fmt.Errorf("environment %s of %s is in slipway.yaml: %w; rename it, since preview-* names are for branch previews", p.Env, p.App, ErrNotPreview)
		}
		envs := make(map[string]spec.Environment, len(app.Environments)+1)
		for name, e := range app.Environments {
			if name != p.Env && e.Host == env.Host {
				return fmt.Errorf("preview host %q is the host of %s/%s: %w", env.Host, p.App, name, ErrHostTaken)
			}
			envs[name] = e
		}
		envs[p.Env] = env
		app.Environments = envs
		if err := s.checkHosts(ctx, tx, app); err != nil {
			return err
		}
		raw, err := json.Marshal(app)
		if err != nil {
			return err
		}
		now := s.ts()
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET spec = ?, updated_at = ? WHERE name = ?`, string(raw), now, p.App); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO environments (app, env) VALUES (?, ?) ON CONFLICT (app, env) DO NOTHING`, p.App, p.Env); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO previews (app, env, branch, host, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app, env) DO UPDATE SET branch = excluded.branch, host = excluded.host, updated_at = excluded.updated_at`,
			p.App, p.Env, p.Branch, env.Host, now, now); err != nil {
			return err
		}
		action := "preview.create"
		if known > 0 {
			action = "preview.update"
		}
		return s.addEvent(ctx, tx, actor, action, p.App, p.Env, fmt.Sprintf("preview of branch %s at %s", p.Branch, env.Host))
	})
}

// RemovePreview takes preview environment env of app, branch's preview,
// down in the store, in one transaction: nothing is live there any more,
// the environment, its config overrides and its preview record are gone,
// and it is no longer in the app's stored spec. The caller stops its
// instances. It refuses while a rollout runs there, and when env is not a
// preview (ErrNotPreview) or another branch's (ErrPreviewTaken).
func (s *Store) RemovePreview(ctx context.Context, app, env, branch, actor, why string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		owner, err := previewBranch(ctx, tx, app, env)
		if err != nil {
			return err
		}
		if owner == "" {
			return fmt.Errorf("environment %s of %s: %w", env, app, ErrNotPreview)
		}
		if owner != branch {
			return fmt.Errorf("environment %s of %s is the preview of branch %s, not %s: %w", env, app, owner, branch, ErrPreviewTaken)
		}
		if ro, err := runningRollout(ctx, tx, app, env); err == nil {
			return &ConflictError{Running: ro}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		a, err := appTx(ctx, tx, app)
		if err != nil {
			return err
		}
		envs := make(map[string]spec.Environment, len(a.Environments))
		for name, e := range a.Environments {
			if name != env {
				envs[name] = e
			}
		}
		a.Environments = envs
		raw, err := json.Marshal(a)
		if err != nil {
			return err
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE apps SET spec = ?, updated_at = ? WHERE name = ?`, []any{string(raw), s.ts(), app}},
			{`UPDATE environments SET live_release = NULL WHERE app = ? AND env = ?`, []any{app, env}},
			{`DELETE FROM environments WHERE app = ? AND env = ?`, []any{app, env}},
			{`DELETE FROM config_overrides WHERE app = ? AND env = ?`, []any{app, env}},
			{`DELETE FROM previews WHERE app = ? AND env = ?`, []any{app, env}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return s.addEvent(ctx, tx, actor, "preview.teardown", app, env, why)
	})
}
