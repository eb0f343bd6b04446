package store

// The audit log.
//
// Every change to the control plane's state appends one event, in the same
// transaction as the change, so a change and its record commit or fail
// together. Inside a Store transaction call
//
//	s.addEvent(ctx, tx, actor, action, app, env, detail)
//
// (target becomes "app/env", outcome "ok"), or s.appendEvent(ctx, tx,
// Entry{...}) to set the target or the outcome. Outside one, for something
// that changes nothing else (a refusal), call RecordEvent. Actions are
// "noun.verb" or the verb the user typed ("apply", "deploy",
// "user.add", "secret.set", "promotion.approve"). Never put a secret value,
// a config value or a token (or its hash) in any field: name keys and IDs
// instead.
//
// The log is append-only (database triggers refuse UPDATE and DELETE) and
// hash-chained: each event stores the hash of the one before it and its
// own hash over its canonical encoding (see eventHash), so VerifyEvents
// finds an edited row, a deleted row and a broken link. Anyone who can
// write the database file can drop the triggers and rewrite the whole
// chain; compare the head VerifyEvents reports with one recorded elsewhere
// to catch that (docs/security.md).

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Outcomes of audited actions.
const (
	OutcomeOK     = "ok"     // it was done
	OutcomeDenied = "denied" // refused (a 403); nothing changed
)

// Event is one audit log entry.
type Event struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	App      string    `json:"app,omitempty"`
	Env      string    `json:"env,omitempty"`
	Target   string    `json:"target,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

// Entry is an event to append; ID, time and hashes are filled in.
type Entry struct {
	Actor, Action string
	App, Env      string
	// Target names what the action is about: "hello/staging", "user
	// alice", "token 3 (alice/laptop)". Default: app/env.
	Target string
	// Outcome is OutcomeOK (the default) or OutcomeDenied.
	Outcome string
	Detail  string
}

// addEvent appends an event with outcome ok and target app/env inside tx.
func (s *Store) addEvent(ctx context.Context, tx *sql.Tx, actor, action, app, env, detail string) error {
	return s.appendEvent(ctx, tx, Entry{Actor: actor, Action: action, App: app, Env: env, Detail: detail})
}

// RecordEvent appends e in a transaction of its own, for events that go
// with no other change, such as a refused request.
func (s *Store) RecordEvent(ctx context.Context, e Entry) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.appendEvent(ctx, tx, e) })
}

// chainRow is an event as stored: the exact strings its hash covers.
type chainRow struct {
	id                                           int64
	at, actor, action, app, env, target, outcome string
	detail, prevHash, hash                       string
}

// appendEvent links e to the last event and inserts it inside tx. Store
// transactions are serialised (SQLite has one writer; BEGIN IMMEDIATE), so
// reading the last event and inserting the next cannot interleave. A
// PostgreSQL store must lock the table's head first.
func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, e Entry) error {
	if e.Target == "" {
		e.Target = target(e.App, e.Env)
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	var last int64
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: %w", err)
	}
	r := chainRow{id: last + 1, at: s.ts(), actor: e.Actor, action: e.Action, app: e.App, env: e.Env, target: e.Target,
		outcome: e.Outcome, detail: e.Detail, prevHash: prev}
	r.hash = eventHash(r)
	_, err = tx.ExecContext(ctx, `INSERT INTO events (id, at, actor, action, app, env, target, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.id, r.at, r.actor, r.action, r.app, r.env, r.target, r.outcome, r.detail, r.prevHash, r.hash)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func target(app, env string) string {
	if env == "" {
		return app
	}
	return app + "/" + env
}

// eventHash is the hex sha256 of an event's canonical encoding: the tag
// "slipway-audit-v1", then each of id (decimal), at (as stored, RFC 3339
// with nanoseconds), actor, action, app, env, target, outcome, detail and
// prev_hash as a netstring, "<length in bytes>:<bytes>,".
func eventHash(r chainRow) string {
	h := sha256.New()
	h.Write([]byte("slipway-audit-v1"))
	for _, f := range []string{strconv.FormatInt(r.id, 10), r.at, r.actor, r.action, r.app, r.env, r.target, r.outcome, r.detail, r.prevHash} {
		h.Write([]byte(strconv.Itoa(len(f)) + ":" + f + ","))
	}
	return hex.EncodeToString(h.Sum(nil))
}

const eventCols = `id, at, actor, action, app, env, target, outcome, detail, prev_hash, hash`

func scanChainRow(row scanner) (chainRow, error) {
	var r chainRow
	err := row.Scan(&r.id, &r.at, &r.actor, &r.action, &r.app, &r.env, &r.target, &r.outcome, &r.detail, &r.prevHash, &r.hash)
	return r, err
}

func (r chainRow) event() Event {
	return Event{ID: r.id, At: parseTS(r.at), Actor: r.actor, Action: r.action, App: r.app, Env: r.env, Target: r.target,
		Outcome: r.outcome, Detail: r.detail, PrevHash: r.prevHash, Hash: r.hash}
}

// migrateData runs the part of a migration SQL cannot, in its transaction.
func (s *Store) migrateData(ctx context.Context, tx *sql.Tx, version int) error {
	if version == 3 {
		return sealEvents(ctx, tx)
	}
	return nil
}

// sealEvents chains the events written before the chain existed. It runs
// once, inside migration 3; afterwards every event is sealed as it is
// written and nothing reseals.
func sealEvents(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+eventCols+` FROM events ORDER BY id`)
	if err != nil {
		return err
	}
	var all []chainRow
	for rows.Next() {
		r, err := scanChainRow(rows)
		if err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	prev := ""
	for _, r := range all {
		r.prevHash = prev
		r.hash = eventHash(r)
		if _, err := tx.ExecContext(ctx, `UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?`, r.prevHash, r.hash, r.id); err != nil {
			return fmt.Errorf("seal event %d: %w", r.id, err)
		}
		prev = r.hash
	}
	return nil
}

// EventFilter selects audit log entries.
type EventFilter struct {
	App   string // "" for every app
	Limit int    // the newest Limit entries; <= 0 means 100
}

// Events returns the newest audit log entries first, at most limit.
func (s *Store) Events(ctx context.Context, limit int) ([]Event, error) {
	return s.QueryEvents(ctx, EventFilter{Limit: limit})
}

// QueryEvents returns the newest audit log entries that match f, newest
// first.
func (s *Store) QueryEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE ? = '' OR app = ? ORDER BY id DESC LIMIT ?`, f.App, f.App, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		r, err := scanChainRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.event())
	}
	return out, rows.Err()
}

// AuditReport is the result of VerifyEvents.
type AuditReport struct {
	OK bool `json:"ok"`
	// Events is how many events were checked (up to the first problem).
	Events int64 `json:"events"`
	// HeadID and HeadHash identify the last event checked: record them
	// elsewhere and pass them back as an Anchor to detect a log cut short
	// or rewritten since.
	HeadID   int64         `json:"head_id"`
	HeadHash string        `json:"head_hash"`
	Problem  *AuditProblem `json:"problem,omitempty"`
}

// AuditProblem is the first event where the chain does not hold.
type AuditProblem struct {
	ID     int64  `json:"id"`
	Field  string `json:"field"` // hash, prev_hash, id or anchor
	Reason string `json:"reason"`
}

// Anchor is an event's ID and hash recorded earlier (from an AuditReport's
// head), which must still be in the log, unchanged.
type Anchor struct {
	ID   int64
	Hash string
}

// VerifyEvents walks the whole audit log in order and reports the first
// event whose hash does not match its contents or whose link to the event
// before it is broken; with an anchor, also whether that event is still
// there with the same hash.
func (s *Store) VerifyEvents(ctx context.Context, anchor *Anchor) (AuditReport, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventCols+` FROM events ORDER BY id`)
	if err != nil {
		return AuditReport{}, err
	}
	defer rows.Close()
	var v chainVerifier
	v.anchor = anchor
	for rows.Next() {
		r, err := scanChainRow(rows)
		if err != nil {
			return AuditReport{}, err
		}
		if !v.check(r) {
			return v.report, nil
		}
	}
	if err := rows.Err(); err != nil {
		return AuditReport{}, err
	}
	v.finish()
	return v.report, nil
}

// chainVerifier checks events one at a time, in ID order.
type chainVerifier struct {
	report AuditReport
	prev   *chainRow
	anchor *Anchor
}

func abbrev(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return `""`
	}
	return h
}

// check verifies r against the event before it; false means a problem was
// found and recorded.
func (v *chainVerifier) check(r chainRow) bool {
	fail := func(field, format string, a ...any) bool {
		v.report.Problem = &AuditProblem{ID: r.id, Field: field, Reason: fmt.Sprintf(format, a...)}
		return false
	}
	switch {
	case v.prev == nil && r.prevHash != "":
		return fail("prev_hash", "event %d is the oldest in the log but links to an event before it (prev_hash %s): the events before it were deleted", r.id, abbrev(r.prevHash))
	case v.prev != nil && r.id != v.prev.id+1:
		missing := fmt.Sprintf("event %d is", v.prev.id+1)
		if r.id > v.prev.id+2 {
			missing = fmt.Sprintf("events %d to %d are", v.prev.id+1, r.id-1)
		}
		return fail("id", "event %d follows event %d: %s missing (deleted)", r.id, v.prev.id, missing)
	case v.prev != nil && r.prevHash != v.prev.hash:
		return fail("prev_hash", "event %d links to an event %d with hash %s, but event %d now hashes to %s: event %d was rewritten after event %d was written",
			r.id, v.prev.id, abbrev(r.prevHash), v.prev.id, abbrev(v.prev.hash), v.prev.id, r.id)
	}
	if got := eventHash(r); got != r.hash {
		return fail("hash", "event %d (%s by %s at %s) does not match its hash: stored %s, its contents hash to %s; the row was edited",
			r.id, r.action, r.actor, r.at, abbrev(r.hash), abbrev(got))
	}
	if a := v.anchor; a != nil && a.ID == r.id && a.Hash != r.hash {
		return fail("anchor", "event %d hashes to %s now, but you recorded %s: the log was rewritten from there on", r.id, abbrev(r.hash), abbrev(a.Hash))
	}
	v.report.Events++
	v.report.HeadID, v.report.HeadHash = r.id, r.hash
	v.prev = &r
	return true
}

// finish checks the anchor was reached and marks the report OK.
func (v *chainVerifier) finish() {
	if a := v.anchor; a != nil && a.ID > v.report.HeadID {
		v.report.Problem = &AuditProblem{ID: a.ID, Field: "anchor",
			Reason: fmt.Sprintf("the log ends at event %d, but you recorded event %d: events were deleted from the end", v.report.HeadID, a.ID)}
		return
	}
	v.report.OK = true
}
