package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
)

// Token is an API token; only its sha256 is stored.
type Token struct {
	Name string
	Role string
}

// AddToken stores a token hash. It fails if the name exists.
func (s *Store) AddToken(ctx context.Context, name, hash, role string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, hash, role, created_at) VALUES (?, ?, ?, ?)`, name, hash, role, s.ts()); err != nil {
			return fmt.Errorf("add token %s: %w", name, err)
		}
		return s.addEvent(ctx, tx, "system", "token.create", "", "", name)
	})
}

// TokenByHash finds the token with the given hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var t Token
	err := s.db.QueryRowContext(ctx, `SELECT name, role FROM tokens WHERE hash = ?`, hash).Scan(&t.Name, &t.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// CountTokens returns how many tokens exist.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	return n, err
}

// AddArtifact records an uploaded artifact; recording it twice is fine.
func (s *Store) AddArtifact(ctx context.Context, digest string, size int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO artifacts (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
		digest, size, s.ts())
	return err
}

// HasArtifact reports whether the artifact was recorded.
func (s *Store) HasArtifact(ctx context.Context, digest string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM artifacts WHERE digest = ?`, digest).Scan(&n)
	return n > 0, err
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}
