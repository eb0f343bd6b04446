package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

//go:embed migrations/errors-sqlite/*.sql
var errorsMigrations embed.FS

// ErrorStore keeps the error tracker's projects, issues, sampled events
// and release health, in a database of its own (errors.db) so that
// bursts of error events never wait behind, or slow, the control plane's
// writes. One connection writes; reads use others (SQLite's WAL lets them
// run while a write is in progress).
type ErrorStore struct {
	w   *Store // the writer: one connection, migrations
	r   *sql.DB
	now func() time.Time
}

// OpenErrorsSQLite opens (creating if needed) the error tracker's SQLite
// database at path.
func OpenErrorsSQLite(ctx context.Context, path string) (*ErrorStore, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open error store %s: the path must not contain ? or #; choose another --data dir", path)
	}
	base := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	wdb, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open error store %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	w := &Store{db: wdb, now: func() time.Time { return time.Now().UTC() }}
	if err := w.migrate(ctx, errorsMigrations, "migrations/errors-sqlite"); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open error store %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open error store %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	return &ErrorStore{w: w, r: rdb, now: w.now}, nil
}

// Close closes the database.
func (s *ErrorStore) Close() error { return errors.Join(s.r.Close(), s.w.Close()) }

// ErrorProject is the error tracker's project of one (app, environment):
// its DSN's project id and public key.
type ErrorProject struct {
	ID              int64     `json:"id"`
	App             string    `json:"app"`
	Env             string    `json:"env"`
	PublicKey       string    `json:"public_key"`
	GroupingVersion string    `json:"grouping_version"`
	CreatedAt       time.Time `json:"created_at"`
}

const projectCols = `id, app, env, public_key, grouping_version, created_at`

func scanProject(row interface{ Scan(...any) error }) (ErrorProject, error) {
	var p ErrorProject
	var created int64
	err := row.Scan(&p.ID, &p.App, &p.Env, &p.PublicKey, &p.GroupingVersion, &created)
	p.CreatedAt = time.UnixMilli(created).UTC()
	return p, err
}

// EnsureErrorProject returns the project of (app, env), creating it with
// a new random key and grouping version when there is none. An existing
// project keeps its grouping version.
func (s *ErrorStore) EnsureErrorProject(ctx context.Context, app, env, groupingVersion string) (ErrorProject, error) {
	var p ErrorProject
	err := s.w.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanProject(tx.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE app = ? AND env = ?`, app, env))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		key := make([]byte, 16)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		p = ErrorProject{App: app, Env: env, PublicKey: hex.EncodeToString(key), GroupingVersion: groupingVersion, CreatedAt: s.now().Truncate(time.Millisecond)}
		res, err := tx.ExecContext(ctx, `INSERT INTO projects (app, env, public_key, grouping_version, created_at) VALUES (?, ?, ?, ?, ?)`,
			app, env, p.PublicKey, groupingVersion, p.CreatedAt.UnixMilli())
		if err != nil {
			return err
		}
		p.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return ErrorProject{}, fmt.Errorf("error project of %s/%s: %w", app, env, err)
	}
	return p, nil
}

// ErrorProjects lists every project.
func (s *ErrorStore) ErrorProjects(ctx context.Context) ([]ErrorProject, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+projectCols+` FROM projects ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ErrorProject
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ErrorProjectOf returns the project of (app, env), or ErrNotFound.
func (s *ErrorStore) ErrorProjectOf(ctx context.Context, app, env string) (ErrorProject, error) {
	p, err := scanProject(s.r.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE app = ? AND env = ?`, app, env))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("no error tracking for %s/%s yet (it starts with the first deploy): %w", app, env, ErrNotFound)
	}
	return p, err
}

// ErrorEvent is one grouped event to write.
type ErrorEvent struct {
	ProjectID       int64
	Hash            string
	GroupingVersion string
	Title           string
	Culprit         string
	Type            string
	Level           string
	EventID         string
	Release         string
	Environment     string
	Timestamp       time.Time
	Received        time.Time
	Payload         []byte // stored as given (the caller compresses)
}

// SessionUpdate adds to one release's health.
type SessionUpdate struct {
	ProjectID                           int64
	Release                             string
	Started, Errored, Crashed, Abnormal int64
}

// ErrorWriteResult says what a batch changed that people should hear of.
type ErrorWriteResult struct {
	New       []ErrorIssue // issues the batch created
	Regressed []ErrorIssue // resolved issues an event reopened
	// Events counts the batch's events per issue id.
	Events map[int64]int64
}
