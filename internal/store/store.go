// Package store keeps the control plane's state in SQL: apps, releases,
// rollouts, instances, users and tokens, and the audit log (audit.go says
// how to record a change in it). Every change runs in one
// transaction. SQLite (modernc.org/sqlite, pure Go) is the embedded default.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when the requested row does not exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// Store is the control plane's database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode, and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open store %s: the path must not contain ? or #; choose another --data dir", path)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// SQLite allows one writer; a single connection avoids SQLITE_BUSY
	// between our own goroutines and keeps transactions serialised.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, now: func() time.Time { return time.Now().UTC() }}
	if err := s.migrate(ctx, sqliteMigrations, "migrations/sqlite"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context, fsys fs.FS, dir string) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate: bad migration file name %q (want NNNN_name.sql)", e.Name())
		}
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply %s: %w", e.Name(), err)
			}
			if err := s.migrateData(ctx, tx, version); err != nil {
				return fmt.Errorf("apply %s: %w", e.Name(), err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, s.ts())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// tx runs fn in a transaction, committing if it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) ts() string { return s.now().Format(time.RFC3339Nano) }

func parseTS(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

func parseNullTS(v sql.NullString) *time.Time {
	if !v.Valid {
		return nil
	}
	t := parseTS(v.String)
	return &t
}

// NextProxyVersion returns a routing table version greater than any
// returned before, and at least min.
func (s *Store) NextProxyVersion(ctx context.Context, min uint64) (uint64, error) {
	var v uint64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM proxy_state WHERE id = 1`).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		v = max(uint64(cur)+1, min)
		_, err = tx.ExecContext(ctx, `INSERT INTO proxy_state (id, version) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version`, int64(v))
		return err
	})
	return v, err
}
