package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/store"
)

// rawDB opens the store's file directly, as someone with access to the
// disk would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// auditFixture is a store with a dozen events, and the file behind it.
func auditFixture(t *testing.T) (*store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slipway.db")
	s := openSQLite(t, path)
	mustAddUser(t, s, "root", "admin")
	mustAddUser(t, s, "alice", "viewer")
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	deploy(t, s, "hello", "staging", digestB)
	if r, err := s.VerifyEvents(t.Context(), nil); err != nil || !r.OK || r.Events != 9 {
		t.Fatalf("VerifyEvents of the fixture = %+v, %v", r, err)
	}
	return s, rawDB(t, path)
}

// The database itself refuses to change or delete an event.
func TestSQLiteAuditAppendOnly(t *testing.T) {
	s, db := auditFixture(t)
	for _, q := range []string{`UPDATE events SET detail = 'nothing happened' WHERE id = 3`, `DELETE FROM events WHERE id = 3`, `DELETE FROM events`} {
		if _, err := db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", q, err)
		}
	}
	if r, _ := s.VerifyEvents(t.Context(), nil); !r.OK {
		t.Errorf("after refused tampering: %+v", r)
	}
}

// Someone who drops the triggers and edits or deletes rows is caught.
func TestSQLiteAuditTamper(t *testing.T) {
	tests := []struct {
		name   string
		tamper []string
		id     int64
		field  string
		reason string
	}{
		{"edited detail", []string{`UPDATE events SET detail = 'nothing happened' WHERE id = 5`}, 5, "hash", "the row was edited"},
		{"edited actor", []string{`UPDATE events SET actor = 'mallory' WHERE id = 4`}, 4, "hash", "does not match its hash"},
		{"edited outcome", []string{`UPDATE events SET outcome = 'denied' WHERE id = 6`}, 6, "hash", "the row was edited"},
		{"edited time", []string{`UPDATE events SET at = '2020-01-01T00:00:00Z' WHERE id = 2`}, 2, "hash", "the row was edited"},
		{"deleted in the middle", []string{`DELETE FROM events WHERE id = 5`}, 6, "id", "event 5 is missing"},
		{"deleted two", []string{`DELETE FROM events WHERE id IN (5, 6)`}, 7, "id", "events 5 to 6 are missing"},
		{"deleted the oldest", []string{`DELETE FROM events WHERE id = 1`}, 2, "prev_hash", "the events before it were deleted"},
		{"renumbered after a delete", []string{`DELETE FROM events WHERE id = 5`, `UPDATE events SET id = id - 1 WHERE id > 5`}, 5, "prev_hash", "was rewritten"},
		{"copied hash", []string{`UPDATE events SET hash = (SELECT hash FROM events WHERE id = 3) WHERE id = 4`}, 4, "hash", "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, db := auditFixture(t)
			exec(t, db, `DROP TRIGGER events_no_update`)
			exec(t, db, `DROP TRIGGER events_no_delete`)
			for _, q := range tt.tamper {
				exec(t, db, q)
			}
			r, err := s.VerifyEvents(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK || r.Problem == nil || r.Problem.ID != tt.id || r.Problem.Field != tt.field || !strings.Contains(r.Problem.Reason, tt.reason) {
				t.Fatalf("VerifyEvents = %+v %+v; want event %d, %s, %q", r, r.Problem, tt.id, tt.field, tt.reason)
			}
			if r.HeadID != tt.id-1 && tt.field != "id" && tt.field != "prev_hash" {
				t.Errorf("checked up to %d, want %d", r.HeadID, tt.id-1)
			}
		})
	}
}

// A database from before users existed: its admin token becomes user
// admin's token "bootstrap", and its events are chained.
func TestSQLiteMigrateAuth(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "slipway.db")
	db := rawDB(t, path)
	exec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
	for i, f := range []string{"0001_init.sql", "0002_progressive.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", "sqlite", f))
		if err != nil {
			t.Fatal(err)
		}
		exec(t, db, string(body))
		exec(t, db, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, '2026-11-01T00:00:00Z')`, i+1)
	}
	exec(t, db, `INSERT INTO tokens (name, hash, role, created_at) VALUES ('admin', 'hash-of-admin', 'admin', '2026-11-01T00:00:00Z')`)
	exec(t, db, `INSERT INTO events (at, actor, action, app, env, detail) VALUES
		('2026-11-01T00:00:00Z', 'system', 'token.create', '', '', 'admin'),
		('2026-11-01T00:01:00Z', 'admin', 'apply', 'hello', '', ''),
		('2026-11-01T00:02:00Z', 'admin', 'rollout.begin', 'hello', 'staging', 'rollout 1')`)
	db.Close()

	s := openSQLite(t, path)
	cred, err := s.TokenByHash(ctx, "hash-of-admin")
	if err != nil || cred.Token.User != "admin" || cred.Token.Name != "bootstrap" || cred.Role != "admin" {
		t.Fatalf("the old admin token after migrating: %+v, %v", cred, err)
	}
	if u, err := s.User(ctx, "admin"); err != nil || u.Role != "admin" || u.Tokens != 1 {
		t.Fatalf("user admin = %+v, %v", u, err)
	}
	evs, err := s.Events(ctx, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events after migrating: %+v, %v", evs, err)
	}
	if evs[0].Target != "hello/staging" || evs[1].Target != "hello" || evs[0].Outcome != "ok" || evs[0].PrevHash != evs[1].Hash {
		t.Errorf("migrated events: %+v", evs)
	}
	if r, err := s.VerifyEvents(ctx, nil); err != nil || !r.OK || r.Events != 3 {
		t.Fatalf("VerifyEvents after migrating = %+v, %v", r, err)
	}
	// New events continue the chain.
	mustAddUser(t, s, "alice", "viewer")
	if r, err := s.VerifyEvents(ctx, nil); err != nil || !r.OK || r.Events != 4 || r.HeadID != 4 {
		t.Fatalf("VerifyEvents after a new event = %+v, %v", r, err)
	}
	// Reopening seals nothing again.
	s.Close()
	s = openSQLite(t, path)
	if r, err := s.VerifyEvents(ctx, nil); err != nil || !r.OK || r.Events != 4 {
		t.Fatalf("VerifyEvents after reopening = %+v, %v", r, err)
	}
}
