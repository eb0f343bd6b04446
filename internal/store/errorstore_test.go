package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openErrors(t *testing.T) *ErrorStore {
	t.Helper()
	s, err := OpenErrorsSQLite(context.Background(), filepath.Join(t.TempDir(), "errors.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func errEvent(p ErrorProject, hash, release string, at time.Time) ErrorEvent {
	return ErrorEvent{ProjectID: p.ID, Hash: hash, GroupingVersion: p.GroupingVersion, Title: "E: " + hash, Culprit: "main in f",
		Type: "E", Level: "error", EventID: fmt.Sprintf("%032x", at.UnixNano()), Release: release, Environment: p.Env,
		Timestamp: at, Received: at, Payload: []byte(`{}`)}
}

func TestErrorProjectKeepsKeyAndGroupingVersion(t *testing.T) {
	ctx := context.Background()
	s := openErrors(t)
	p, err := s.EnsureErrorProject(ctx, "shop", "production", "v1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EnsureErrorProject(ctx, "shop", "production", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != p.ID || again.PublicKey != p.PublicKey || again.GroupingVersion != "v1" {
		t.Fatalf("second ensure changed the project: %+v then %+v", p, again)
	}
	other, _ := s.EnsureErrorProject(ctx, "shop", "staging", "v2")
	if other.ID == p.ID || other.PublicKey == p.PublicKey || len(p.PublicKey) != 32 {
		t.Fatalf("staging shares production's project or key: %+v %+v", p, other)
	}
	if _, err := s.ErrorProjectOf(ctx, "shop", "preview"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing project: %v", err)
	}
}

func TestWriteErrorsGroupsCountsAndRegresses(t *testing.T) {
	ctx := context.Background()
	s := openErrors(t)
	p, _ := s.EnsureErrorProject(ctx, "shop", "production", "v1")
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	batch := []ErrorEvent{errEvent(p, "a", "shop@1", t0), errEvent(p, "a", "shop@1", t0.Add(time.Second)), errEvent(p, "b", "shop@2", t0.Add(2*time.Second))}
	res, err := s.WriteErrors(ctx, batch, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.New) != 2 || res.New[0].Events != 2 || res.New[0].FirstRelease != "shop@1" || res.New[1].FirstRelease != "shop@2" {
		t.Fatalf("new issues: %+v", res.New)
	}
	a := res.New[0].ID

	// More of a, from a later release: counted, not new.
	res, err = s.WriteErrors(ctx, []ErrorEvent{errEvent(p, "a", "shop@2", t0.Add(3*time.Second))}, nil, 10)
	if err != nil || len(res.New) != 0 || len(res.Regressed) != 0 {
		t.Fatalf("second batch: %+v %v", res, err)
	}
	is, err := s.ErrorIssue(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if is.Events != 3 || is.LastRelease != "shop@2" || len(is.Releases) != 2 || !is.LastSeen.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("issue after two batches: %+v", is)
	}

	// Only b is new in shop@2, and only a has events in shop@1.
	fresh, err := s.NewIssuesIn(ctx, p.ID, "shop@2", 1)
	if err != nil || len(fresh) != 1 || fresh[0].Hash != "b" {
		t.Fatalf("new in shop@2: %+v %v", fresh, err)
	}
	in1, _ := s.ErrorIssues(ctx, IssueFilter{ProjectID: p.ID, Release: "shop@1"})
	if len(in1) != 1 || in1[0].ID != a || in1[0].ReleaseEvents != 2 {
		t.Fatalf("issues in shop@1: %+v", in1)
	}

	// Resolved in the next release: shop@2 events keep it resolved, shop@3 reopens it.
	if _, err := s.SetIssueStatus(ctx, a, IssueResolved, true); err != nil {
		t.Fatal(err)
	}
	res, _ = s.WriteErrors(ctx, []ErrorEvent{errEvent(p, "a", "shop@2", t0.Add(4*time.Second))}, nil, 10)
	if len(res.Regressed) != 0 {
		t.Fatalf("an event of the release it was resolved after reopened it: %+v", res.Regressed)
	}
	res, _ = s.WriteErrors(ctx, []ErrorEvent{errEvent(p, "a", "shop@3", t0.Add(5*time.Second))}, nil, 10)
	if len(res.Regressed) != 1 || res.Regressed[0].Status != IssueUnresolved || !res.Regressed[0].Regressed {
		t.Fatalf("shop@3 did not regress it: %+v", res)
	}

	// Ignored issues are not new for the judge.
	if _, err := s.SetIssueStatus(ctx, fresh[0].ID, IssueIgnored, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NewIssuesIn(ctx, p.ID, "shop@2", 1); len(got) != 0 {
		t.Fatalf("ignored issue still counted as new: %+v", got)
	}
	if _, err := s.SetIssueStatus(ctx, 999, IssueResolved, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown issue: %v", err)
	}
	if _, err := s.SetIssueStatus(ctx, a, "done", false); err == nil {
		t.Fatal("unknown status accepted")
	}
}

func TestWriteErrorsKeepsNewestSamplesAndPrunes(t *testing.T) {
	ctx := context.Background()
	s := openErrors(t)
	p, _ := s.EnsureErrorProject(ctx, "shop", "production", "v1")
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for b := range 3 {
		var batch []ErrorEvent
		for i := range 4 {
			batch = append(batch, errEvent(p, "a", "shop@1", t0.Add(time.Duration(b*4+i)*time.Second)))
		}
		if _, err := s.WriteErrors(ctx, batch, nil, 5); err != nil {
			t.Fatal(err)
		}
	}
	issues, _ := s.ErrorIssues(ctx, IssueFilter{ProjectID: p.ID})
	evs, err := s.ErrorEvents(ctx, issues[0].ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if issues[0].Events != 12 || len(evs) != 5 || !evs[0].Received.Equal(t0.Add(11*time.Second)) || !evs[4].Received.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("want the 5 newest of 12 samples, got %d events (count %d), newest %v", len(evs), issues[0].Events, evs[0].Received)
	}
	events, dropped, err := s.PruneErrors(ctx, t0.Add(9*time.Second))
	if err != nil || events != 2 || dropped != 0 {
		t.Fatalf("prune by age: %d events, %d issues, %v", events, dropped, err)
	}
	events, dropped, _ = s.PruneErrors(ctx, t0.Add(time.Hour))
	if events != 3 || dropped != 1 {
		t.Fatalf("prune all: %d events, %d issues", events, dropped)
	}
	if _, err := s.ErrorIssue(ctx, issues[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned issue still there: %v", err)
	}
}

func TestReleaseHealthAddsUp(t *testing.T) {
	ctx := context.Background()
	s := openErrors(t)
	p, _ := s.EnsureErrorProject(ctx, "shop", "production", "v1")
	up := []SessionUpdate{{ProjectID: p.ID, Release: "shop@1", Started: 10, Crashed: 1}, {ProjectID: p.ID, Release: "shop@1", Started: 10, Errored: 3, Crashed: 1}}
	if _, err := s.WriteErrors(ctx, nil, up, 10); err != nil {
		t.Fatal(err)
	}
	h, err := s.ReleaseHealth(ctx, p.ID)
	if err != nil || len(h) != 1 || h[0].Started != 20 || h[0].Crashed != 2 || h[0].Errored != 3 || h[0].CrashFree != 0.9 {
		t.Fatalf("health: %+v %v", h, err)
	}
}

func TestRegresses(t *testing.T) {
	for _, c := range []struct {
		resolvedIn, release string
		want                bool
	}{
		{"", "shop@1", true},
		{"shop@7", "shop@7", false},
		{"shop@7", "shop@3", false},
		{"shop@7", "shop@12", true},
		{"shop@7", "other@12", true},
		{"1.2", "1.10", true}, // "1." prefix, 10 > 2
		{"abc", "def", true},
		{"abc", "abc", false},
		{"shop@7", "", true},
	} {
		if got := Regresses(c.resolvedIn, c.release); got != c.want {
			t.Errorf("Regresses(%q, %q) = %v, want %v", c.resolvedIn, c.release, got, c.want)
		}
	}
}
