package controlplane

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/trigger"
)

func TestPlanRefUpdates(t *testing.T) {
	src := spec.Source{Repo: "/src/hello", Rules: []spec.SourceRule{
		{Branch: "main", Deploy: "staging"},
		{Tag: "v*", Candidate: "production"},
		{Branch: "feature/**", Preview: true},
		{Branch: "ci/*"},
	}}
	c := fakeCommit
	tests := []struct {
		name    string
		updates []trigger.Update
		runs    []string // ref:branch:tag:target of each run
		did     []string
		down    []teardown
	}{
		{"main deploys", []trigger.Update{{Ref: "refs/heads/main", Commit: c}}, []string{"refs/heads/main:main::staging"}, []string{"deploys to staging if it passes"}, nil},
		{"tag candidate", []trigger.Update{{Ref: "refs/tags/v1.0.0", Commit: c}}, []string{"refs/tags/v1.0.0::v1.0.0:"}, []string{"becomes a candidate for production if it passes"}, nil},
		{"preview", []trigger.Update{{Ref: "refs/heads/feature/x", Commit: c}}, []string{"refs/heads/feature/x:feature/x::preview-feature-x"}, []string{"deploys to preview preview-feature-x if it passes"}, nil},
		{"build only", []trigger.Update{{Ref: "refs/heads/ci/a", Commit: c}}, []string{"refs/heads/ci/a:ci/a::"}, []string{"builds and tests only"}, nil},
		{"no rule", []trigger.Update{{Ref: "refs/heads/docs", Commit: c}}, nil, []string{"no rule matches"}, nil},
		{"preview branch deleted", []trigger.Update{{Ref: "refs/heads/feature/x", Deleted: true}}, nil, []string{"tears down preview preview-feature-x"},
			[]teardown{{env: "preview-feature-x", branch: "feature/x"}}},
		{"main deleted", []trigger.Update{{Ref: "refs/heads/main", Deleted: true}}, nil, []string{"deleted; nothing to do"}, nil},
		{"several", []trigger.Update{{Ref: "refs/heads/docs", Commit: c}, {Ref: "refs/heads/main", Commit: c}, {Ref: "refs/tags/v2", Commit: c}},
			[]string{"refs/heads/main:main::staging", "refs/tags/v2::v2:"},
			[]string{"no rule matches", "deploys to staging if it passes", "becomes a candidate for production if it passes"}, nil},
	}
	for _, tt := range tests {
		p := plan("hello", src, tt.updates, store.TriggerPoll)
		if len(p.changes) != len(tt.updates) {
			t.Errorf("%s: %d changes for %d updates", tt.name, len(p.changes), len(tt.updates))
		}
		var runs, did []string
		for i, r := range p.runs {
			runs = append(runs, r.Ref+":"+r.Run.Branch+":"+r.Run.Tag+":"+r.Target)
			if r.Run.Trigger != store.TriggerPoll || r.Run.Actor != triggerActor || r.Run.Revision != c || r.Run.SpecFile != "slipway.yaml" {
				t.Errorf("%s: run %+v", tt.name, r.Run)
			}
			var a trigger.Action
			if err := json.Unmarshal(r.Action, &a); err != nil || !a.Run || a.Ref != r.Ref {
				t.Errorf("%s: action %s (%v)", tt.name, r.Action, err)
			}
			if p.events[p.runEvent[i]].Ref != r.Ref {
				t.Errorf("%s: run %d points at event %+v", tt.name, i, p.events[p.runEvent[i]])
			}
		}
		for _, ev := range p.events {
			did = append(did, ev.Did)
		}
		if !reflect.DeepEqual(runs, tt.runs) || !reflect.DeepEqual(did, tt.did) || !reflect.DeepEqual(p.teardowns, tt.down) {
			t.Errorf("%s: runs %q, did %q, teardowns %v; want %q, %q, %v", tt.name, runs, did, p.teardowns, tt.runs, tt.did, tt.down)
		}
	}
	// A source whose repo no run could use starts nothing, and says why.
	p := plan("hello", spec.Source{Repo: "relative/path", Rules: src.Rules}, []trigger.Update{{Ref: "refs/heads/main", Commit: c}}, store.TriggerPoll)
	if len(p.runs) != 0 || !strings.HasPrefix(p.events[0].Did, "no run: ") {
		t.Errorf("plan with a relative repo: %+v", p)
	}
}

func TestPreviewEnv(t *testing.T) {
	staging := spec.Environment{Host: "hello.staging.localhost", Replicas: 3, Config: map[string]string{"A": "1"}, RequiresFrom: "dev",
		Approvals: 2, Rollout: spec.Rollout{Strategy: spec.StrategyBlueGreen, PreviewHost: "next.hello.staging.localhost"}}
	qa := spec.Environment{Host: "qa.hello.localhost", Replicas: 1}
	withPreview := func(from string, envs map[string]spec.Environment) spec.App {
		return spec.App{Name: "hello", Environments: envs,
			Source: &spec.Source{Preview: &spec.Preview{Host: "{branch}.hello.preview.localhost", From: from}}}
	}
	env, err := previewEnv(withPreview("", map[string]spec.Environment{"staging": staging}), spec.App{}, "Feature/Login")
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Environment{Host: "feature-login.hello.preview.localhost", Replicas: 3, Config: map[string]string{"A": "1"},
		Rollout: spec.Rollout{Strategy: spec.StrategyBlueGreen}}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("previewEnv = %+v, want %+v", env, want)
	}
	// The spec at the commit has no source: the stored one says the host
	// and where to copy from.
	env, err = previewEnv(spec.App{Environments: map[string]spec.Environment{"qa": qa}}, withPreview("qa", nil), "x")
	if err != nil || env.Host != "x.hello.preview.localhost" || env.Replicas != 1 {
		t.Errorf("previewEnv from the stored preview = %+v, %v", env, err)
	}
	if _, err := previewEnv(spec.App{}, spec.App{}, "x"); err == nil {
		t.Error("previewEnv without a preview section succeeded")
	}
	if _, err := previewEnv(withPreview("nosuch", nil), spec.App{}, "x"); err == nil {
		t.Error("previewEnv from a missing environment succeeded")
	}
}

func TestPollInterval(t *testing.T) {
	for _, tt := range []struct {
		poll spec.Duration
		want time.Duration
	}{{0, 30 * time.Second}, {spec.Duration(time.Millisecond), minPoll}, {spec.Duration(300 * time.Millisecond), 300 * time.Millisecond}} {
		if got := pollInterval(spec.Source{Poll: tt.poll}); got != tt.want {
			t.Errorf("pollInterval(%v) = %v, want %v", tt.poll, got, tt.want)
		}
	}
}

func TestDeliveryOf(t *testing.T) {
	h := http.Header{}
	h.Set("X-Gitea-Delivery", "abc\n\x1b[31m"+strings.Repeat("x", 100))
	if got := deliveryOf(h); len(got) != 64 || strings.ContainsAny(got, "\n\x1b") || !strings.HasPrefix(got, "abc[31m") {
		t.Errorf("deliveryOf = %q", got)
	}
	h.Set("X-GitHub-Delivery", "gh-1")
	if got := deliveryOf(h); got != "gh-1" {
		t.Errorf("deliveryOf with GitHub's header = %q", got)
	}
}

// A delivery's result while its rollout runs names the rollout, so that
// the next start can watch it to its end.
func TestDeployingRollout(t *testing.T) {
	ro := store.Rollout{ID: 9, ToRelease: 7}
	for _, tt := range []struct {
		result string
		want   int64
	}{
		{deploying("staging", ro), 9},
		{deploying("preview-feature-x", ro) + " (stopped watching it: control plane shutting down)", 9},
		{"deployed to staging as release 7 (rollout 9)", 0},
		{"deploy to staging failed: rollout 9 failed: boom", 0},
		{"deploying to staging: rollout x", 0},
		{"", 0},
	} {
		if got, ok := deployingRollout(tt.result); got != tt.want || ok != (tt.want > 0) {
			t.Errorf("deployingRollout(%q) = %d, %v; want %d", tt.result, got, ok, tt.want)
		}
	}
}
