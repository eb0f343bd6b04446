package store

import (
	"context"
	"time"
)

// Instance is the control plane's record of an instance it started; the
// driver owns its live state.
type Instance struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Env       string    `json:"env"`
	Release   int       `json:"release"`
	Addr      string    `json:"addr"`
	CreatedAt time.Time `json:"created_at"`
}

// AddInstance records an instance.
func (s *Store) AddInstance(ctx context.Context, in Instance) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO instances (id, app, env, release, addr, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET addr = excluded.addr`, in.ID, in.App, in.Env, in.Release, in.Addr, s.ts())
	return err
}

// RemoveInstance forgets an instance.
func (s *Store) RemoveInstance(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM instances WHERE id = ?`, id)
	return err
}

// Instances lists instances; empty app/env match all.
func (s *Store) Instances(ctx context.Context, app, env string) ([]Instance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, app, env, release, addr, created_at FROM instances
		WHERE (? = '' OR app = ?) AND (? = '' OR env = ?) ORDER BY app, env, release, id`, app, app, env, env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		var in Instance
		var created string
		if err := rows.Scan(&in.ID, &in.App, &in.Env, &in.Release, &in.Addr, &created); err != nil {
			return nil, err
		}
		in.CreatedAt = parseTS(created)
		out = append(out, in)
	}
	return out, rows.Err()
}
