package store

import (
	"context"
	"sort"
)

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
