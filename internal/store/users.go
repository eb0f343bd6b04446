package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is a person or a program that calls the API. Role is its global
// role; Grants give it another role in some environments (environment name
// → role, in every app). Roles are checked by the auth package; the
// database only accepts viewer, deployer, approver and admin.
type User struct {
	Name      string            `json:"name"`
	Role      string            `json:"role"`
	Grants    map[string]string `json:"grants"`
	Disabled  bool              `json:"disabled,omitempty"`
	Tokens    int               `json:"tokens"` // how many tokens it holds
	CreatedAt time.Time         `json:"created_at"`
}

// Token describes an API token. The token itself is never stored, only its
// sha256, and neither appears here.
type Token struct {
	ID         int64      `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Credential is what a token authenticates as.
type Credential struct {
	Token Token
	Role  string // the user's global role
}

// refusal is a change refused because of the state it would leave; it
// matches ErrConflict (HTTP 409) but says what happened in its own words.
type refusal string

func (e refusal) Error() string        { return string(e) }
func (e refusal) Is(target error) bool { return target == ErrConflict }

// CountUsers returns how many users exist, disabled ones included.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// AddUser creates user name with a global role and its first token (named
// tokenName, stored as tokenHash), in one transaction, audited as actor. A
// user removed earlier comes back with the new role and no grants. It
// fails with ErrConflict if an active user has the name.
func (s *Store) AddUser(ctx context.Context, actor, name, role, tokenName, tokenHash string) (User, Token, error) {
	var u User
	var tok Token
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.ts()
		old, err := userTx(ctx, tx, name)
		readd := err == nil
		switch {
		case err == nil && !old.Disabled:
			return refusal(fmt.Sprintf("user %s already exists (role %s); change its role with `slipway user grant %s ROLE`", name, old.Role, name))
		case err == nil:
			if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, disabled = 0 WHERE name = ?`, role, name); err != nil {
				return fmt.Errorf("add user %s: %w", name, err)
			}
		case errors.Is(err, ErrNotFound):
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)`, name, role, now); err != nil {
				return fmt.Errorf("add user %s: %w", name, err)
			}
		default:
			return err
		}
		if tok, err = s.addToken(ctx, tx, name, tokenName, tokenHash); err != nil {
			return err
		}
		if u, err = userTx(ctx, tx, name); err != nil {
			return err
		}
		detail := fmt.Sprintf("role %s; token %q (#%d)", role, tokenName, tok.ID)
		if readd {
			detail = "re-added after removal: " + detail
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "user.add", Target: "user " + name, Detail: detail})
	})
	return u, tok, err
}

// User returns one user with its grants.
func (s *Store) User(ctx context.Context, name string) (User, error) {
	return userTx(ctx, s.db, name)
}

type userQuerier interface {
	querier
	querierRow
}

const userCols = `name, role, created_at, disabled, (SELECT COUNT(*) FROM tokens t WHERE t.user_name = users.name)`

func scanUser(row scanner) (User, error) {
	var u User
	var created string
	err := row.Scan(&u.Name, &u.Role, &created, &u.Disabled, &u.Tokens)
	u.CreatedAt = parseTS(created)
	u.Grants = map[string]string{}
	return u, err
}

func userTx(ctx context.Context, q userQuerier, name string) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w (see `slipway user list`)", name, ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	rows, err := q.QueryContext(ctx, `SELECT env, role FROM grants WHERE user_name = ? ORDER BY env`, name)
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var env, role string
		if err := rows.Scan(&env, &role); err != nil {
			return u, err
		}
		u.Grants[env] = role
	}
	return u, rows.Err()
}

// Users lists every user by name, removed ones too (Disabled).
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	byName := map[string]*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	grants, err := s.db.QueryContext(ctx, `SELECT user_name, env, role FROM grants`)
	if err != nil {
		return nil, err
	}
	defer grants.Close()
	for grants.Next() {
		var user, env, role string
		if err := grants.Scan(&user, &env, &role); err != nil {
			return nil, err
		}
		if u := byName[user]; u != nil {
			u.Grants[env] = role
		}
	}
	return out, grants.Err()
}

// lastAdmin refuses a change that would leave no active admin.
func lastAdmin(ctx context.Context, tx *sql.Tx, name, what string) error {
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> ?`, name).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return refusal(fmt.Sprintf("%s: %s is the last admin, and nobody could manage users after that; make another user admin first (`slipway user grant NAME admin`)", what, name))
	}
	return nil
}

func activeUser(ctx context.Context, tx *sql.Tx, name string) (User, error) {
	u, err := userTx(ctx, tx, name)
	if err == nil && u.Disabled {
		return u, fmt.Errorf("user %s was removed: %w; add it again with `slipway user add %s --role ROLE`", name, ErrNotFound, name)
	}
	return u, err
}

// RemoveUser disables a user, revokes all its tokens and drops its grants,
// in one transaction. The name stays, so the audit log keeps meaning
// something; AddUser brings it back. The last active admin cannot be
// removed.
func (s *Store) RemoveUser(ctx context.Context, actor, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		u, err := activeUser(ctx, tx, name)
		if err != nil {
			return err
		}
		if u.Role == "admin" {
			if err := lastAdmin(ctx, tx, name, "remove user "+name); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = 1 WHERE name = ?`, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_name = ?`, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE user_name = ?`, name); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "user.remove", Target: "user " + name,
			Detail: fmt.Sprintf("was %s%s; %d token(s) revoked", u.Role, describeGrants(u.Grants), u.Tokens)})
	})
}

func describeGrants(g map[string]string) string {
	if len(g) == 0 {
		return ""
	}
	var parts []string
	for _, env := range sortedKeys(g) {
		parts = append(parts, g[env]+" on "+env)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// SetRole sets a user's global role (env "") or its role in one
// environment (a grant), in one transaction. Demoting the last active
// admin is refused.
func (s *Store) SetRole(ctx context.Context, actor, name, env, role string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		u, err := activeUser(ctx, tx, name)
		if err != nil {
			return err
		}
		if env == "" {
			if u.Role == "admin" && role != "admin" {
				if err := lastAdmin(ctx, tx, name, "make "+name+" "+role); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE name = ?`, role, name); err != nil {
				return fmt.Errorf("set role of %s: %w", name, err)
			}
			return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "user.role", Target: "user " + name,
				Detail: fmt.Sprintf("global role %s -> %s", u.Role, role)})
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO grants (user_name, env, role, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_name, env) DO UPDATE SET role = excluded.role`, name, env, role, s.ts()); err != nil {
			return fmt.Errorf("grant %s to %s on %s: %w", role, name, env, err)
		}
		was := u.Grants[env]
		if was == "" {
			was = "none (global role " + u.Role + ")"
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "user.grant", Env: env, Target: "user " + name,
			Detail: fmt.Sprintf("%s on %s (was %s)", role, env, was)})
	})
}

// RevokeGrant removes a user's grant for env: its global role applies
// there again.
func (s *Store) RevokeGrant(ctx context.Context, actor, name, env string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		u, err := activeUser(ctx, tx, name)
		if err != nil {
			return err
		}
		was, ok := u.Grants[env]
		if !ok {
			return fmt.Errorf("grant of %s on %s: %w (its role there is its global role, %s)", name, env, ErrNotFound, u.Role)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE user_name = ? AND env = ?`, name, env); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "user.revoke", Env: env, Target: "user " + name,
			Detail: fmt.Sprintf("%s on %s revoked; global role %s applies", was, env, u.Role)})
	})
}

// AddToken gives an active user another token, audited as actor. Token
// names are unique per user.
func (s *Store) AddToken(ctx context.Context, actor, user, name, hash string) (Token, error) {
	var tok Token
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := activeUser(ctx, tx, user); err != nil {
			return err
		}
		var err error
		if tok, err = s.addToken(ctx, tx, user, name, hash); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "token.create", Target: tokenTarget(tok)})
	})
	return tok, err
}

func tokenTarget(t Token) string { return fmt.Sprintf("token %d (%s/%s)", t.ID, t.User, t.Name) }

func (s *Store) addToken(ctx context.Context, tx *sql.Tx, user, name, hash string) (Token, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE user_name = ? AND name = ?`, user, name).Scan(&n); err != nil {
		return Token{}, err
	}
	if n > 0 {
		return Token{}, refusal(fmt.Sprintf("%s already has a token named %s; choose another name or revoke it first", user, name))
	}
	now := s.ts()
	res, err := tx.ExecContext(ctx, `INSERT INTO tokens (user_name, name, hash, created_at) VALUES (?, ?, ?, ?)`, user, name, hash, now)
	if err != nil {
		// The hash is unique; a clash means the same token twice, which
		// only a caller reusing a token can cause. Do not echo the hash.
		return Token{}, fmt.Errorf("add token %s of %s: %w", name, user, err)
	}
	id, _ := res.LastInsertId()
	return Token{ID: id, User: user, Name: name, CreatedAt: parseTS(now)}, nil
}

const tokenCols = `id, user_name, name, created_at, last_used_at`

func scanToken(row scanner, extra ...any) (Token, error) {
	var t Token
	var created string
	var used sql.NullString
	err := row.Scan(append([]any{&t.ID, &t.User, &t.Name, &created, &used}, extra...)...)
	t.CreatedAt, t.LastUsedAt = parseTS(created), parseNullTS(used)
	return t, err
}

// Tokens lists the tokens of user ("" for every user's), oldest first.
func (s *Store) Tokens(ctx context.Context, user string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE ? = '' OR user_name = ? ORDER BY id`, user, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes token id, audited as actor. With owner set, only a
// token of that user may be revoked; another's is reported not found, so
// token IDs of other users are not revealed.
func (s *Store) RevokeToken(ctx context.Context, actor string, id int64, owner string) (Token, error) {
	var tok Token
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		tok, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ? AND (? = '' OR user_name = ?)`, id, owner, owner))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %d: %w (see `slipway token list`)", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: "token.revoke", Target: tokenTarget(tok)})
	})
	return tok, err
}

// TokenByHash finds the token with the given sha256 and the role of its
// user. Tokens of removed users are gone, so they are not found.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Credential, error) {
	var c Credential
	var err error
	c.Token, err = scanToken(s.db.QueryRowContext(ctx, `SELECT t.id, t.user_name, t.name, t.created_at, t.last_used_at, u.role
		FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.hash = ? AND u.disabled = 0`, hash), &c.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// TouchToken records that token id was used now. It is not audited;
// callers limit how often they call it (a polling client should not cause
// a write per request).
func (s *Store) TouchToken(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, s.ts(), id)
	return err
}
