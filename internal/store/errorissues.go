package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Issue states.
const (
	IssueUnresolved = "unresolved"
	IssueResolved   = "resolved"
	IssueIgnored    = "ignored"
)

// ErrorIssue is a group of events with one fingerprint.
type ErrorIssue struct {
	ID              int64     `json:"id"`
	ProjectID       int64     `json:"project_id"`
	App             string    `json:"app"`
	Env             string    `json:"env"`
	Hash            string    `json:"hash"`
	GroupingVersion string    `json:"grouping_version"`
	Title           string    `json:"title"`
	Culprit         string    `json:"culprit"`
	Type            string    `json:"type"`
	Level           string    `json:"level"`
	Status          string    `json:"status"`
	ResolvedIn      string    `json:"resolved_in,omitempty"` // resolved "in the next release" after this one
	Regressed       bool      `json:"regressed"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	Events          int64     `json:"events"`
	FirstRelease    string    `json:"first_release"`
	LastRelease     string    `json:"last_release"`
	// ReleaseEvents is the number of events in the release a listing was
	// filtered by (0 otherwise).
	ReleaseEvents int64 `json:"release_events,omitempty"`
	// Releases the issue was seen in, newest first (ErrorIssue only).
	Releases []IssueRelease `json:"releases,omitempty"`
}

// IssueRelease is an issue's events in one release.
type IssueRelease struct {
	Release   string    `json:"release"`
	Events    int64     `json:"events"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// StoredEvent is one sampled event of an issue.
type StoredEvent struct {
	ID          int64     `json:"id"`
	IssueID     int64     `json:"issue_id"`
	EventID     string    `json:"event_id"`
	Release     string    `json:"release"`
	Environment string    `json:"environment"`
	Timestamp   time.Time `json:"timestamp"`
	Received    time.Time `json:"received"`
	Payload     []byte    `json:"-"`
}

const issueCols = `i.id, i.project_id, p.app, p.env, i.hash, i.grouping_version, i.title, i.culprit, i.type, i.level,
	i.status, COALESCE(i.resolved_in, ''), i.regressed, i.first_seen, i.last_seen, i.events, i.first_release, i.last_release`

func scanIssue(row interface{ Scan(...any) error }, extra ...any) (ErrorIssue, error) {
	var is ErrorIssue
	var first, last int64
	dest := []any{&is.ID, &is.ProjectID, &is.App, &is.Env, &is.Hash, &is.GroupingVersion, &is.Title, &is.Culprit, &is.Type, &is.Level,
		&is.Status, &is.ResolvedIn, &is.Regressed, &first, &last, &is.Events, &is.FirstRelease, &is.LastRelease}
	err := row.Scan(append(dest, extra...)...)
	is.FirstSeen, is.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	return is, err
}

// WriteErrors records a batch of grouped events and session updates in
// one transaction: it creates issues for new hashes, counts events per
// issue and release, reopens resolved issues an event regresses, and
// keeps only the newest samples events of each issue.
func (s *ErrorStore) WriteErrors(ctx context.Context, events []ErrorEvent, sessions []SessionUpdate, samples int) (ErrorWriteResult, error) {
	res := ErrorWriteResult{Events: map[int64]int64{}}
	type key struct {
		project int64
		hash    string
	}
	byIssue := map[key][]int{}
	var order []key
	for i, ev := range events {
		k := key{ev.ProjectID, ev.Hash}
		if _, ok := byIssue[k]; !ok {
			order = append(order, k)
		}
		byIssue[k] = append(byIssue[k], i)
	}
	err := s.w.tx(ctx, func(tx *sql.Tx) error {
		res.New, res.Regressed = nil, nil
		clear(res.Events)
		for _, k := range order {
			idx := byIssue[k]
			id, created, regressed, err := s.writeIssue(ctx, tx, events, idx)
			if err != nil {
				return err
			}
			res.Events[id] = int64(len(idx))
			if err := s.writeSamples(ctx, tx, id, events, idx, samples); err != nil {
				return err
			}
			if created || regressed {
				is, err := scanIssue(tx.QueryRowContext(ctx, `SELECT `+issueCols+` FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = ?`, id))
				if err != nil {
					return err
				}
				if created {
					res.New = append(res.New, is)
				} else {
					res.Regressed = append(res.Regressed, is)
				}
			}
		}
		for _, su := range sessions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO release_health (project_id, release, started, errored, crashed, abnormal, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (project_id, release) DO UPDATE SET started = started + excluded.started, errored = errored + excluded.errored,
					crashed = crashed + excluded.crashed, abnormal = abnormal + excluded.abnormal, updated_at = excluded.updated_at`,
				su.ProjectID, su.Release, su.Started, su.Errored, su.Crashed, su.Abnormal, s.now().UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ErrorWriteResult{}, fmt.Errorf("write error events: %w", err)
	}
	return res, nil
}

// writeIssue creates or updates the issue of events[idx] (all of one
// project and hash) and its per-release counts.
func (s *ErrorStore) writeIssue(ctx context.Context, tx *sql.Tx, events []ErrorEvent, idx []int) (id int64, created, regressed bool, err error) {
	first, last := events[idx[0]], events[idx[len(idx)-1]]
	var status, resolvedIn string
	err = tx.QueryRowContext(ctx, `SELECT id, status, COALESCE(resolved_in, '') FROM issues WHERE project_id = ? AND hash = ?`,
		first.ProjectID, first.Hash).Scan(&id, &status, &resolvedIn)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r, err := tx.ExecContext(ctx, `INSERT INTO issues (project_id, hash, grouping_version, title, culprit, type, level,
			first_seen, last_seen, events, first_release, last_release) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			first.ProjectID, first.Hash, first.GroupingVersion, first.Title, first.Culprit, first.Type, first.Level,
			first.Received.UnixMilli(), last.Received.UnixMilli(), len(idx), first.Release, last.Release)
		if err != nil {
			return 0, false, false, err
		}
		id, err = r.LastInsertId()
		if err != nil {
			return 0, false, false, err
		}
		created = true
	case err != nil:
		return 0, false, false, err
	default:
		if status == IssueResolved {
			for _, i := range idx {
				if Regresses(resolvedIn, events[i].Release) {
					regressed = true
					break
				}
			}
		}
		q := `UPDATE issues SET last_seen = ?, events = events + ?, last_release = ?`
		if regressed {
			q += `, status = 'unresolved', resolved_in = NULL, regressed = 1`
		}
		if _, err := tx.ExecContext(ctx, q+` WHERE id = ?`, last.Received.UnixMilli(), len(idx), last.Release, id); err != nil {
			return 0, false, false, err
		}
	}
	perRelease := map[string][2]int64{} // release -> events, last seen
	var releases []string
	firstSeen := map[string]int64{}
	for _, i := range idx {
		ev := events[i]
		c, ok := perRelease[ev.Release]
		if !ok {
			releases = append(releases, ev.Release)
			firstSeen[ev.Release] = ev.Received.UnixMilli()
		}
		perRelease[ev.Release] = [2]int64{c[0] + 1, ev.Received.UnixMilli()}
	}
	for _, rel := range releases {
		c := perRelease[rel]
		if _, err := tx.ExecContext(ctx, `INSERT INTO issue_releases (issue_id, release, events, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (issue_id, release) DO UPDATE SET events = events + excluded.events, last_seen = excluded.last_seen`,
			id, rel, c[0], firstSeen[rel], c[1]); err != nil {
			return 0, false, false, err
		}
	}
	return id, created, regressed, nil
}

// writeSamples stores the newest of events[idx] and drops the issue's
// samples beyond the newest keep.
func (s *ErrorStore) writeSamples(ctx context.Context, tx *sql.Tx, issue int64, events []ErrorEvent, idx []int, keep int) error {
	if keep <= 0 {
		return nil
	}
	if len(idx) > keep {
		idx = idx[len(idx)-keep:]
	}
	for _, i := range idx {
		ev := events[i]
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (issue_id, event_id, release, environment, timestamp, received_at, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, issue, ev.EventID, ev.Release, ev.Environment, ev.Timestamp.UnixMilli(), ev.Received.UnixMilli(), ev.Payload); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE issue_id = ? AND id <= (
		SELECT id FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, issue, issue, keep)
	return err
}

// Regresses reports whether an event of release reopens an issue
// resolved with resolvedIn ("" : resolved outright, any event reopens
// it). An issue resolved "in the next release" after resolvedIn is
// reopened only by a later release: by number when both end in a
// number with the same prefix ("shop@7" < "shop@12"), else by any other
// release.
func Regresses(resolvedIn, release string) bool {
	if resolvedIn == "" {
		return true
	}
	if release == resolvedIn {
		return false
	}
	rp, rn, rok := splitReleaseNumber(resolvedIn)
	ep, en, eok := splitReleaseNumber(release)
	if rok && eok && rp == ep {
		return en > rn
	}
	return true
}

func splitReleaseNumber(r string) (prefix string, n int64, ok bool) {
	i := strings.LastIndexFunc(r, func(c rune) bool { return c < '0' || c > '9' })
	n, err := strconv.ParseInt(r[i+1:], 10, 64)
	return r[:i+1], n, err == nil
}

// IssueFilter selects issues of one project.
type IssueFilter struct {
	ProjectID int64
	Release   string // only issues with events in this release
	Status    string // "" for any
	Limit     int    // default 100
}

// ErrorIssues lists a project's issues, most recently seen first.
func (s *ErrorStore) ErrorIssues(ctx context.Context, f IssueFilter) ([]ErrorIssue, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT ` + issueCols + `, 0 FROM issues i JOIN projects p ON p.id = i.project_id`
	args := []any{}
	if f.Release != "" {
		q = `SELECT ` + issueCols + `, ir.events FROM issues i JOIN projects p ON p.id = i.project_id
			JOIN issue_releases ir ON ir.issue_id = i.id AND ir.release = ?`
		args = append(args, f.Release)
	}
	q += ` WHERE i.project_id = ?`
	args = append(args, f.ProjectID)
	if f.Status != "" {
		q += ` AND i.status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY i.last_seen DESC, i.id DESC LIMIT ?`
	args = append(args, f.Limit)
	out, err := s.queryIssues(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	return out, nil
}

// ErrorIssue returns one issue with its releases, or ErrNotFound.
func (s *ErrorStore) ErrorIssue(ctx context.Context, id int64) (ErrorIssue, error) {
	is, err := scanIssue(s.r.QueryRowContext(ctx, `SELECT `+issueCols+` FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return is, fmt.Errorf("issue %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return is, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT release, events, first_seen, last_seen FROM issue_releases WHERE issue_id = ?`, id)
	if err != nil {
		return is, err
	}
	defer rows.Close()
	for rows.Next() {
		var r IssueRelease
		var first, last int64
		if err := rows.Scan(&r.Release, &r.Events, &first, &last); err != nil {
			return is, err
		}
		r.FirstSeen, r.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		is.Releases = append(is.Releases, r)
	}
	sort.Slice(is.Releases, func(i, j int) bool { return is.Releases[i].FirstSeen.After(is.Releases[j].FirstSeen) })
	return is, rows.Err()
}

// ErrorEvents returns an issue's sampled events, newest first.
func (s *ErrorStore) ErrorEvents(ctx context.Context, issue int64, limit int) ([]StoredEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, issue_id, event_id, release, environment, timestamp, received_at, payload
		FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT ?`, issue, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		var ts, rcv int64
		if err := rows.Scan(&e.ID, &e.IssueID, &e.EventID, &e.Release, &e.Environment, &ts, &rcv, &e.Payload); err != nil {
			return nil, err
		}
		e.Timestamp, e.Received = time.UnixMilli(ts).UTC(), time.UnixMilli(rcv).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetIssueStatus moves an issue to status. inNextRelease (with
// IssueResolved) resolves it in the release after the newest one it was
// seen in: events of that release or older keep it resolved.
func (s *ErrorStore) SetIssueStatus(ctx context.Context, id int64, status string, inNextRelease bool) (ErrorIssue, error) {
	switch status {
	case IssueUnresolved, IssueResolved, IssueIgnored:
	default:
		return ErrorIssue{}, fmt.Errorf("unknown issue status %q (want unresolved, resolved or ignored)", status)
	}
	err := s.w.tx(ctx, func(tx *sql.Tx) error {
		var resolvedIn sql.NullString
		if status == IssueResolved && inNextRelease {
			var last string
			if err := tx.QueryRowContext(ctx, `SELECT last_release FROM issues WHERE id = ?`, id).Scan(&last); err != nil {
				return err
			}
			resolvedIn = sql.NullString{String: last, Valid: true}
		}
		r, err := tx.ExecContext(ctx, `UPDATE issues SET status = ?, resolved_in = ?, regressed = CASE WHEN ? = 'unresolved' THEN regressed ELSE 0 END WHERE id = ?`,
			status, resolvedIn, status, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return ErrorIssue{}, fmt.Errorf("issue %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return ErrorIssue{}, fmt.Errorf("set issue %d %s: %w", id, status, err)
	}
	return s.ErrorIssue(ctx, id)
}

// NewIssuesIn returns the issues first seen in release (not ignored) with
// at least minEvents events there, the most frequent first.
func (s *ErrorStore) NewIssuesIn(ctx context.Context, project int64, release string, minEvents int64) ([]ErrorIssue, error) {
	return s.queryIssues(ctx, `SELECT `+issueCols+`, ir.events FROM issues i JOIN projects p ON p.id = i.project_id
		JOIN issue_releases ir ON ir.issue_id = i.id AND ir.release = i.first_release
		WHERE i.project_id = ? AND i.first_release = ? AND i.status != 'ignored' AND ir.events >= ?
		ORDER BY ir.events DESC, i.id`, project, release, minEvents)
}

// queryIssues runs q, which selects issueCols and then a release's event
// count, and scans its rows.
func (s *ErrorStore) queryIssues(ctx context.Context, q string, args ...any) ([]ErrorIssue, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ErrorIssue
	for rows.Next() {
		var n int64
		is, err := scanIssue(rows, &n)
		if err != nil {
			return nil, err
		}
		is.ReleaseEvents = n
		out = append(out, is)
	}
	return out, rows.Err()
}

// ReleaseEvents counts a project's events in release (all issues, not
// ignored ones).
func (s *ErrorStore) ReleaseEvents(ctx context.Context, project int64, release string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(ir.events), 0) FROM issue_releases ir JOIN issues i ON i.id = ir.issue_id
		WHERE i.project_id = ? AND ir.release = ? AND i.status != 'ignored'`, project, release).Scan(&n)
	return n, err
}

// ReleaseHealth is one release's sessions.
type ReleaseHealth struct {
	Release  string    `json:"release"`
	Started  int64     `json:"started"`
	Errored  int64     `json:"errored"`
	Crashed  int64     `json:"crashed"`
	Abnormal int64     `json:"abnormal"`
	Updated  time.Time `json:"updated"`
	// CrashFree is 1 - crashed/started (the share of sessions that did
	// not crash), or -1 with no sessions.
	CrashFree float64 `json:"crash_free"`
}

// ReleaseHealth lists a project's release health, most recently updated
// first.
func (s *ErrorStore) ReleaseHealth(ctx context.Context, project int64) ([]ReleaseHealth, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT release, started, errored, crashed, abnormal, updated_at FROM release_health
		WHERE project_id = ? ORDER BY updated_at DESC`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReleaseHealth
	for rows.Next() {
		var h ReleaseHealth
		var up int64
		if err := rows.Scan(&h.Release, &h.Started, &h.Errored, &h.Crashed, &h.Abnormal, &up); err != nil {
			return nil, err
		}
		h.Updated = time.UnixMilli(up).UTC()
		h.CrashFree = -1
		if h.Started > 0 {
			h.CrashFree = 1 - float64(h.Crashed)/float64(h.Started)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// PruneErrors deletes sampled events received before cutoff, and issues
// not seen since (with their counts).
func (s *ErrorStore) PruneErrors(ctx context.Context, cutoff time.Time) (events, issues int64, err error) {
	err = s.w.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM events WHERE received_at < ?`, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		events, _ = r.RowsAffected()
		r, err = tx.ExecContext(ctx, `DELETE FROM issues WHERE last_seen < ?`, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		issues, _ = r.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("prune error events: %w", err)
	}
	return events, issues, nil
}
