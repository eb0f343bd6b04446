package store

import (
	"context"
	"time"
)

// Instance is the control plane's record of an instance it started; the
// driver owns its live state.
type Instance struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Env     string `json:"env"`
	Release int    `json:"release"`
	Addr    string `json:"addr"`
	// Ready is set once the instance passed its health gate; only ready
	// instances receive traffic.
	Ready bool `json:"ready"`
	// WarmUntil, when set, keeps an instance of a superseded release
	// running until then for an instant rollback.
	WarmUntil time.Time `json:"warm_until,omitzero"`
	CreatedAt time.Time `json:"created_at"`
}

// AddInstance records an instance (not ready until SetInstanceReady).
func (s *Store) AddInstance(ctx context.Context, in Instance) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO instances (id, app, env, release, addr, ready, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET addr = excluded.addr`, in.ID, in.App, in.Env, in.Release, in.Addr, in.Ready, s.ts())
	return err
}

// SetInstanceReady marks an instance as having passed its health gate
// (ready true) or as leaving the route before it stops (false).
func (s *Store) SetInstanceReady(ctx context.Context, id string, ready bool) error {
	_, err := s.db.ExecContext(ctx, `UPDATE instances SET ready = ? WHERE id = ?`, ready, id)
	return err
}

// SetWarm keeps the instances running until until (zero: not warm).
func (s *Store) SetWarm(ctx context.Context, ids []string, until time.Time) error {
	v := ""
	if !until.IsZero() {
		v = until.UTC().Format(time.RFC3339Nano)
	}
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, `UPDATE instances SET warm_until = ? WHERE id = ?`, v, id); err != nil {
			return err
		}
	}
	return nil
}

// RemoveInstance forgets an instance.
func (s *Store) RemoveInstance(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM instances WHERE id = ?`, id)
	return err
}

// Instances lists instances; empty app/env match all.
func (s *Store) Instances(ctx context.Context, app, env string) ([]Instance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, app, env, release, addr, ready, warm_until, created_at FROM instances
		WHERE (? = '' OR app = ?) AND (? = '' OR env = ?) ORDER BY app, env, release, id`, app, app, env, env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		var in Instance
		var created, warm string
		if err := rows.Scan(&in.ID, &in.App, &in.Env, &in.Release, &in.Addr, &in.Ready, &warm, &created); err != nil {
			return nil, err
		}
		in.CreatedAt = parseTS(created)
		if warm != "" {
			in.WarmUntil = parseTS(warm)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
