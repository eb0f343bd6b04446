package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/slipway-dev/slipway/internal/store"
)

func TestSQLite(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) *store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "slipway.db"))
	})
}

func openSQLite(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Opening an existing database applies no migration twice and keeps its
// data.
func TestSQLiteReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "slipway.db")

	s := openSQLite(t, path)
	mustApply(t, s, newApp("hello", "staging"))
	rel := deploy(t, s, "hello", "staging", digestA)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		s := openSQLite(t, path)
		app, err := s.App(ctx, "hello")
		if err != nil {
			t.Fatalf("reopen %d: App: %v", i, err)
		}
		if app.Name != "hello" {
			t.Fatalf("reopen %d: app %+v", i, app)
		}
		if live, err := s.LiveRelease(ctx, "hello", "staging"); err != nil || live != rel.Number {
			t.Fatalf("reopen %d: LiveRelease = %d, %v; want %d", i, live, err, rel.Number)
		}
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, versions int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != versions {
		t.Errorf("schema_migrations has %d rows for %d versions after three opens; want each version once", rows, versions)
	}
}

func TestSQLiteOpenFails(t *testing.T) {
	// A directory is not a database.
	if s, err := store.OpenSQLite(context.Background(), t.TempDir()); err == nil {
		s.Close()
		t.Fatal("OpenSQLite on a directory succeeded")
	}
}
