package store

import (
	"strings"
	"testing"
)

func chain(n int) []chainRow {
	var rows []chainRow
	prev := ""
	for i := 1; i <= n; i++ {
		r := chainRow{id: int64(i), at: "2026-11-21T21:00:0" + string(rune('0'+i)) + "Z", actor: "alice", action: "deploy",
			app: "hello", env: "staging", target: "hello/staging", outcome: OutcomeOK, detail: "release " + string(rune('0'+i)), prevHash: prev}
		r.hash = eventHash(r)
		prev = r.hash
		rows = append(rows, r)
	}
	return rows
}

func verifyRows(rows []chainRow, anchor *Anchor) AuditReport {
	v := chainVerifier{anchor: anchor}
	for _, r := range rows {
		if !v.check(r) {
			return v.report
		}
	}
	v.finish()
	return v.report
}

func TestChainVerifier(t *testing.T) {
	tests := []struct {
		name   string
		edit   func([]chainRow) []chainRow
		anchor *Anchor
		id     int64
		field  string
		reason string
	}{
		{"intact", func(r []chainRow) []chainRow { return r }, nil, 0, "", ""},
		{"empty", func(r []chainRow) []chainRow { return nil }, nil, 0, "", ""},
		{"edited", func(r []chainRow) []chainRow { r[2].detail = "release 9"; return r }, nil, 3, "hash", "the row was edited"},
		{"edited and rehashed", func(r []chainRow) []chainRow {
			r[2].detail = "release 9"
			r[2].hash = eventHash(r[2])
			return r
		}, nil, 4, "prev_hash", "event 3 was rewritten after event 4 was written"},
		{"field moved between columns", func(r []chainRow) []chainRow {
			// "hello"+"/staging" must not hash like "hello/"+"staging".
			r[1].app, r[1].env = "hello/", "taging"
			return r
		}, nil, 2, "hash", "edited"},
		{"deleted", func(r []chainRow) []chainRow { return append(r[:2], r[3:]...) }, nil, 4, "id", "event 3 is missing"},
		{"oldest deleted", func(r []chainRow) []chainRow { return r[1:] }, nil, 2, "prev_hash", "before it were deleted"},
		{"newest deleted, no anchor", func(r []chainRow) []chainRow { return r[:4] }, nil, 0, "", ""},
		{"newest deleted, anchor", func(r []chainRow) []chainRow { return r[:4] }, &Anchor{ID: 5}, 5, "anchor", "ends at event 4"},
		{"whole chain rewritten, anchor", func(r []chainRow) []chainRow {
			r[0].actor = "mallory"
			prev := ""
			for i := range r {
				r[i].prevHash = prev
				r[i].hash = eventHash(r[i])
				prev = r[i].hash
			}
			return r
		}, &Anchor{ID: 3, Hash: chain(5)[2].hash}, 3, "anchor", "rewritten"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verifyRows(tt.edit(chain(5)), tt.anchor)
			if tt.field == "" {
				if !r.OK || r.Problem != nil {
					t.Fatalf("report = %+v %+v, want OK", r, r.Problem)
				}
				return
			}
			if r.OK || r.Problem == nil || r.Problem.ID != tt.id || r.Problem.Field != tt.field || !strings.Contains(r.Problem.Reason, tt.reason) {
				t.Fatalf("report = %+v %+v; want event %d, %s, %q", r, r.Problem, tt.id, tt.field, tt.reason)
			}
		})
	}
}

// The hash is the documented encoding (docs/security.md): a change to it
// breaks every existing log, so it is pinned here.
func TestEventHashPinned(t *testing.T) {
	r := chainRow{id: 1, at: "2026-11-21T21:00:00Z", actor: "admin", action: "user.add", target: "user alice", outcome: "ok", detail: "role viewer"}
	if got, want := eventHash(r), "7c5e6e5e163904ba9244e82670ee93346ccf0523c3e7fb52e7f4bf36d2ead050"; got != want {
		t.Fatalf("eventHash = %s, want %s", got, want)
	}
}
