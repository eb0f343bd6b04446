package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// SecretVersion describes one version of a secret, never its value: the
// store only ever holds ciphertexts, sealed and opened by the caller.
type SecretVersion struct {
	App       string    `json:"app"`
	Env       string    `json:"env"`
	Key       string    `json:"key"`
	Version   int       `json:"version"`
	Deleted   bool      `json:"deleted,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

const secretCols = `app, env, key, version, deleted, created_by, created_at`

func scanSecret(row scanner) (SecretVersion, error) {
	var v SecretVersion
	var created string
	err := row.Scan(&v.App, &v.Env, &v.Key, &v.Version, &v.Deleted, &v.CreatedBy, &created)
	v.CreatedAt = parseTS(created)
	return v, err
}

// Secrets lists the current secrets of (app, env): the newest version of
// each name, leaving out those whose newest version deletes them, by name.
func (s *Store) Secrets(ctx context.Context, app, env string) ([]SecretVersion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+secretCols+` FROM secrets s WHERE app = ? AND env = ?
		AND version = (SELECT MAX(version) FROM secrets WHERE app = s.app AND env = s.env AND key = s.key)
		AND deleted = 0 ORDER BY key`, app, env)
	if err != nil {
		return nil, err
	}
	return collectSecrets(rows)
}

// SecretHistory lists every version of every secret of (app, env),
// deletions included, by name and newest first.
func (s *Store) SecretHistory(ctx context.Context, app, env string) ([]SecretVersion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+secretCols+` FROM secrets WHERE app = ? AND env = ? ORDER BY key, version DESC`, app, env)
	if err != nil {
		return nil, err
	}
	return collectSecrets(rows)
}

func collectSecrets(rows *sql.Rows) ([]SecretVersion, error) {
	defer rows.Close()
	out := []SecretVersion{}
	for rows.Next() {
		v, err := scanSecret(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SecretCiphertexts returns the ciphertext of each pinned version
// (name -> version), by name. A version that does not exist or deletes
// its secret is an error naming it.
func (s *Store) SecretCiphertexts(ctx context.Context, app, env string, pins map[string]int) (map[string][]byte, error) {
	out := make(map[string][]byte, len(pins))
	for _, k := range slices.Sorted(maps.Keys(pins)) {
		var ct []byte
		var deleted bool
		err := s.db.QueryRowContext(ctx, `SELECT ciphertext, deleted FROM secrets WHERE app = ? AND env = ? AND key = ? AND version = ?`,
			app, env, k, pins[k]).Scan(&ct, &deleted)
		if errors.Is(err, sql.ErrNoRows) || deleted {
			return nil, fmt.Errorf("secret %s version %d of %s/%s: %w", k, pins[k], app, env, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("secret %s version %d of %s/%s: %w", k, pins[k], app, env, err)
		}
		out[k] = ct
	}
	return out, nil
}

// ChangeSecrets adds secret versions without a rollout, for an environment
// that has no live release yet (its first deploy pins them): set holds
// ciphertexts by name, unset the names to delete. It returns the versions
// it added, or a *ConflictError while a rollout of the environment runs.
func (s *Store) ChangeSecrets(ctx context.Context, app, env string, set map[string][]byte, unset []string, actor string) ([]SecretVersion, error) {
	var added []SecretVersion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		a, err := appTx(ctx, tx, app)
		if err != nil {
			return err
		}
		if _, ok := a.Environments[env]; !ok {
			return fmt.Errorf("environment %q of app %s: %w", env, app, ErrNotFound)
		}
		// The running rollout pinned the secrets already: change them
		// after it ends, so the change is not silently left out.
		if running, err := runningRollout(ctx, tx, app, env); err == nil {
			return &ConflictError{Running: running}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		added, err = s.changeSecrets(ctx, tx, app, env, set, unset, actor)
		return err
	})
	return added, err
}

// pinSecrets applies the secret changes of nr and returns the versions the
// new release pins: the current version of every secret of the
// environment.
func (s *Store) pinSecrets(ctx context.Context, tx *sql.Tx, nr NewRollout) (map[string]int, error) {
	if _, err := s.changeSecrets(ctx, tx, nr.App, nr.Env, nr.SecretSet, nr.SecretUnset, nr.Actor); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, version FROM secrets s WHERE app = ? AND env = ?
		AND version = (SELECT MAX(version) FROM secrets WHERE app = s.app AND env = s.env AND key = s.key)
		AND deleted = 0`, nr.App, nr.Env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pins := map[string]int{}
	for rows.Next() {
		var k string
		var v int
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		pins[k] = v
	}
	return pins, rows.Err()
}

// changeSecrets adds a version per name in set and a deleting version per
// name in unset, recording each in the audit log by name and version only.
func (s *Store) changeSecrets(ctx context.Context, tx *sql.Tx, app, env string, set map[string][]byte, unset []string, actor string) ([]SecretVersion, error) {
	var added []SecretVersion
	add := func(k string, ct []byte, deleted bool) error {
		var last int
		var lastDeleted sql.NullBool
		err := tx.QueryRowContext(ctx, `SELECT version, deleted FROM secrets WHERE app = ? AND env = ? AND key = ? ORDER BY version DESC LIMIT 1`,
			app, env, k).Scan(&last, &lastDeleted)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if deleted && (last == 0 || lastDeleted.Bool) {
			return fmt.Errorf("secret %s of %s/%s: %w", k, app, env, ErrNotFound)
		}
		if ct == nil {
			ct = []byte{}
		}
		now := s.ts()
		v := SecretVersion{App: app, Env: env, Key: k, Version: last + 1, Deleted: deleted, CreatedBy: actor, CreatedAt: parseTS(now)}
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (app, env, key, version, ciphertext, created_by, created_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			app, env, k, v.Version, ct, actor, now, deleted); err != nil {
			return err
		}
		added = append(added, v)
		action, detail := "secret.set", fmt.Sprintf("%s version %d", k, v.Version)
		if deleted {
			action, detail = "secret.unset", fmt.Sprintf("%s (version %d deletes it)", k, v.Version)
		}
		return s.addEvent(ctx, tx, actor, action, app, env, detail)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if len(set[k]) == 0 {
			return nil, fmt.Errorf("secret %s: no ciphertext to store", k)
		}
		if slices.Contains(unset, k) {
			return nil, fmt.Errorf("secret %s is both set and unset", k)
		}
		if err := add(k, set[k], false); err != nil {
			return nil, err
		}
	}
	for _, k := range unset {
		if err := add(k, nil, true); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// SecretsKey returns the recipient (public key) the stored ciphertexts are
// encrypted for, or "" if none was recorded yet.
func (s *Store) SecretsKey(ctx context.Context) (string, error) {
	var r string
	err := s.db.QueryRowContext(ctx, `SELECT recipient FROM secrets_key WHERE id = 1`).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return r, err
}

// InitSecretsKey records the recipient of the secrets key on first start.
// It fails if another one is recorded already.
func (s *Store) InitSecretsKey(ctx context.Context, recipient string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT recipient FROM secrets_key WHERE id = 1`).Scan(&cur)
		switch {
		case err == nil && cur == recipient:
			return nil
		case err == nil:
			return fmt.Errorf("record secrets key: the store already uses key %s: %w", cur, ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets_key (id, recipient, updated_at) VALUES (1, ?, ?)`, recipient, s.ts()); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, "system", "secret.key-create", "", "", "secrets key "+recipient)
	})
}

// ReencryptSecrets rewrites every stored ciphertext with reseal (open with
// the old key, seal with the new) and records recipient as the key in use,
// in one transaction: either every secret moves to the new key or none
// does. Values do not change, so versions and pins stay valid. It returns
// how many ciphertexts it rewrote.
func (s *Store) ReencryptSecrets(ctx context.Context, recipient, actor string, reseal func(v SecretVersion, ciphertext []byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		type row struct {
			v  SecretVersion
			ct []byte
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+secretCols+`, ciphertext FROM secrets WHERE deleted = 0 ORDER BY app, env, key, version`)
		if err != nil {
			return err
		}
		var all []row
		for rows.Next() {
			var r row
			var created string
			if err := rows.Scan(&r.v.App, &r.v.Env, &r.v.Key, &r.v.Version, &r.v.Deleted, &r.v.CreatedBy, &created, &r.ct); err != nil {
				rows.Close()
				return err
			}
			r.v.CreatedAt = parseTS(created)
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			ct, err := reseal(r.v, r.ct)
			if err != nil {
				return fmt.Errorf("re-encrypt secret %s version %d of %s/%s: %w", r.v.Key, r.v.Version, r.v.App, r.v.Env, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE secrets SET ciphertext = ? WHERE app = ? AND env = ? AND key = ? AND version = ?`,
				ct, r.v.App, r.v.Env, r.v.Key, r.v.Version); err != nil {
				return err
			}
			n++
		}
		hooks, err := reencryptWebhookSecrets(ctx, tx, reseal) // triggers.go
		if err != nil {
			return err
		}
		n += hooks
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets_key (id, recipient, updated_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET recipient = excluded.recipient, updated_at = excluded.updated_at`, recipient, s.ts()); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, actor, "secret.rotate-key", "", "",
			fmt.Sprintf("re-encrypted %d secret version(s) for key %s", len(all), recipient))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
