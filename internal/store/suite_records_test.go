package store_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

func testInstances(t *testing.T, s *store.Store) {
	ctx := t.Context()
	add := func(in store.Instance) {
		t.Helper()
		if err := s.AddInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	list := func(app, env string) []string {
		t.Helper()
		ins, err := s.Instances(ctx, app, env)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range ins {
			if in.CreatedAt.IsZero() {
				t.Errorf("instance %s has no creation time", in.ID)
			}
			out = append(out, fmt.Sprintf("%s %s/%s#%d %s", in.ID, in.App, in.Env, in.Release, in.Addr))
		}
		return out
	}
	add(store.Instance{ID: "hello-staging-2-0", App: "hello", Env: "staging", Release: 2, Addr: "127.0.0.1:4002"})
	add(store.Instance{ID: "hello-staging-1-0", App: "hello", Env: "staging", Release: 1, Addr: "127.0.0.1:4001"})
	add(store.Instance{ID: "hello-production-1-0", App: "hello", Env: "production", Release: 1})
	add(store.Instance{ID: "api-staging-1-0", App: "api", Env: "staging", Release: 1, Addr: "127.0.0.1:5001"})

	want := []string{
		"api-staging-1-0 api/staging#1 127.0.0.1:5001",
		"hello-production-1-0 hello/production#1 ",
		"hello-staging-1-0 hello/staging#1 127.0.0.1:4001",
		"hello-staging-2-0 hello/staging#2 127.0.0.1:4002",
	}
	if got := list("", ""); !slices.Equal(got, want) {
		t.Errorf("all instances = %q\nwant %q", got, want)
	}
	if got := list("hello", ""); !slices.Equal(got, want[1:]) {
		t.Errorf("instances of hello = %q", got)
	}
	if got := list("", "staging"); !slices.Equal(got, []string{want[0], want[2], want[3]}) {
		t.Errorf("instances in staging = %q", got)
	}
	if got := list("hello", "staging"); !slices.Equal(got, want[2:]) {
		t.Errorf("instances of hello/staging = %q", got)
	}

	// Adding again records the address the instance got.
	add(store.Instance{ID: "hello-production-1-0", App: "hello", Env: "production", Release: 1, Addr: "127.0.0.1:4100"})
	if got := list("hello", "production"); !slices.Equal(got, []string{"hello-production-1-0 hello/production#1 127.0.0.1:4100"}) {
		t.Errorf("after re-adding = %q", got)
	}

	if err := s.RemoveInstance(ctx, "hello-staging-1-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveInstance(ctx, "never-existed"); err != nil {
		t.Errorf("removing an unknown instance: %v", err)
	}
	if got := list("hello", "staging"); !slices.Equal(got, want[3:]) {
		t.Errorf("after remove = %q", got)
	}
}

func testArtifacts(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if ok, err := s.HasArtifact(ctx, digestA); err != nil || ok {
		t.Fatalf("HasArtifact before upload = %v, %v", ok, err)
	}
	for range 2 {
		if err := s.AddArtifact(ctx, digestA, 100); err != nil {
			t.Fatalf("AddArtifact: %v", err)
		}
	}
	if ok, err := s.HasArtifact(ctx, digestA); err != nil || !ok {
		t.Errorf("HasArtifact after upload = %v, %v", ok, err)
	}
	if ok, _ := s.HasArtifact(ctx, digestB); ok {
		t.Error("HasArtifact of another digest = true")
	}
}

func testNextProxyVersion(t *testing.T, s *store.Store) {
	ctx := t.Context()
	next := func(min uint64) uint64 {
		t.Helper()
		v, err := s.NextProxyVersion(ctx, min)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v1 := next(0)
	if v1 == 0 {
		t.Fatal("first version is 0")
	}
	v2 := next(0)
	if v2 <= v1 {
		t.Fatalf("versions %d then %d, want strictly increasing", v1, v2)
	}
	// A proxy that already saw version 1000 (say, from before a restart
	// with a fresh database) must get a higher one.
	v3 := next(1000)
	if v3 < 1000 {
		t.Fatalf("NextProxyVersion(1000) = %d", v3)
	}
	if v4 := next(10); v4 <= v3 {
		t.Fatalf("a lower min took the version back: %d after %d", v4, v3)
	}

	// Concurrent callers never get the same version.
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				v, err := s.NextProxyVersion(ctx, 0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[v] {
					t.Errorf("version %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func testEvents(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if evs, err := s.Events(ctx, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Events of an empty store = %v, %v", evs, err)
	}
	mustApply(t, s, newApp("hello", "staging"))
	_, ro1 := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Actor: "bob", Source: "deploy"})
	succeed(t, s, ro1)
	_, ro2 := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB, Actor: "carol", Source: "config set LEVEL",
		ConfigSet: map[string]string{"LEVEL": "debug"}})
	if err := s.FinishRollout(ctx, ro2.ID, store.RolloutFailed, "unhealthy"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddUser(ctx, "system", "ci", "deployer", "default", "hash"); err != nil {
		t.Fatal(err)
	}

	evs, err := s.Events(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range evs {
		got = append(got, fmt.Sprintf("%s %s %s/%s", e.Actor, e.Action, e.App, e.Env))
		if e.At.IsZero() || time.Since(e.At) > time.Minute {
			t.Errorf("event %d at %v", e.ID, e.At)
		}
		if i > 0 && e.ID >= evs[i-1].ID {
			t.Errorf("events not newest first: %d after %d", e.ID, evs[i-1].ID)
		}
	}
	want := []string{
		"system user.add /",
		"carol rollout.failed hello/staging",
		"carol deploy hello/staging",
		"bob rollout.succeeded hello/staging",
		"bob release.live hello/staging",
		"bob deploy hello/staging",
		"alice apply hello/",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Events =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	details := []struct {
		i    int
		want []string
	}{
		{0, []string{"role deployer", `token "default"`}},
		{1, []string{fmt.Sprintf("rollout %d", ro2.ID), "release 2", "unhealthy"}},
		{2, []string{"release 2", "config set LEVEL", digestB[:19]}},
		{4, []string{"release 1 is live"}},
		{5, []string{"release 1", "deploy", digestA[:19]}},
	}
	for _, d := range details {
		for _, w := range d.want {
			if !strings.Contains(evs[d.i].Detail, w) {
				t.Errorf("%s detail %q does not mention %q", evs[d.i].Action, evs[d.i].Detail, w)
			}
		}
	}
	// Config values may be secrets; the audit log names keys only.
	for _, e := range evs {
		if strings.Contains(e.Detail, "debug") {
			t.Errorf("event %s leaks a config value: %q", e.Action, e.Detail)
		}
	}

	if evs[0].Target != "user ci" || evs[1].Target != "hello/staging" || evs[6].Target != "hello" {
		t.Errorf("targets %q, %q, %q; want user ci, hello/staging, hello", evs[0].Target, evs[1].Target, evs[6].Target)
	}
	for _, e := range evs {
		if e.Outcome != store.OutcomeOK || len(e.Hash) != 64 {
			t.Errorf("event %d %s: outcome %q, hash %q", e.ID, e.Action, e.Outcome, e.Hash)
		}
	}
	if evs, _ := s.Events(ctx, 2); len(evs) != 2 || evs[0].Action != "user.add" {
		t.Errorf("Events(2) = %+v, want the two newest", evs)
	}
}
