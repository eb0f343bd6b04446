package trigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/slipway-dev/slipway/internal/spec"
)

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := sign(body, "s3cret")
	tests := []struct {
		name    string
		headers map[string]string
		secret  string
		ok      bool
	}{
		{"github", map[string]string{"X-Hub-Signature-256": "sha256=" + good}, "s3cret", true},
		{"gitea", map[string]string{"X-Gitea-Signature": good}, "s3cret", true},
		{"both agree", map[string]string{"X-Hub-Signature-256": "sha256=" + good, "X-Gitea-Signature": good}, "s3cret", true},
		{"missing", nil, "s3cret", false},
		{"wrong secret", map[string]string{"X-Hub-Signature-256": "sha256=" + sign(body, "other")}, "s3cret", false},
		{"github without prefix", map[string]string{"X-Hub-Signature-256": good}, "s3cret", false},
		{"not hex", map[string]string{"X-Gitea-Signature": "zz"}, "s3cret", false},
		{"one of two wrong", map[string]string{"X-Hub-Signature-256": "sha256=" + good, "X-Gitea-Signature": sign(body, "x")}, "s3cret", false},
		{"no secret configured", map[string]string{"X-Gitea-Signature": sign(body, "")}, "", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.headers {
			h.Set(k, v)
		}
		err := Verify(h, body, tt.secret)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Errorf("%s: error %v does not wrap ErrSignature", tt.name, err)
		}
	}
	// A tampered body fails.
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+good)
	if Verify(h, []byte(`{"ref":"refs/heads/evil"}`), "s3cret") == nil {
		t.Error("a tampered body passed")
	}
}

func TestParsePush(t *testing.T) {
	c := "0123456789abcdef0123456789abcdef01234567"
	d := "89abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		event, body string
		want        Push
		err         bool
		notPush     bool
	}{
		{"push", `{"ref":"refs/heads/main","after":"` + c + `"}`, Push{Ref: "refs/heads/main", Commit: c}, false, false},
		{"", `{"ref":"refs/tags/v1.0","after":"` + c + `","before":"0000000000000000000000000000000000000000"}`, Push{Ref: "refs/tags/v1.0", Commit: c}, false, false},
		{"push", `{"ref":"refs/heads/feature","after":"0000000000000000000000000000000000000000","deleted":true}`, Push{Ref: "refs/heads/feature", Deleted: true}, false, false},
		{"push", `{"ref":"refs/heads/x","after":"0000000000000000000000000000000000000000"}`, Push{Ref: "refs/heads/x", Deleted: true}, false, false},
		{"ping", `{"zen":"hi"}`, Push{}, true, true},
		{"push", `{"zen":"no ref"}`, Push{}, true, true},
		{"push", `not json`, Push{}, true, false},
		{"push", `{"ref":"refs/pull/1/head","after":"` + c + `"}`, Push{}, true, false},
		{"push", `{"ref":"refs/heads/main","after":"abc"}`, Push{}, true, false},
		{"push", `{"ref":"refs/heads/main","after":"` + "G123456789abcdef0123456789abcdef01234567" + `"}`, Push{}, true, false},
		{"push", `{"ref":"refs/heads/main","before":"` + d + `","after":"` + c + `"}`, Push{Ref: "refs/heads/main", Commit: c, Before: d}, false, false},
		{"push", `{"ref":"refs/heads/main","before":"` + c + `","after":"0000000000000000000000000000000000000000","deleted":true}`, Push{Ref: "refs/heads/main", Deleted: true, Before: c}, false, false},
		{"push", `{"ref":"refs/heads/main","before":"HEAD~1","after":"` + c + `"}`, Push{}, true, false},
	}
	for _, tt := range tests {
		got, err := ParsePush(tt.event, []byte(tt.body))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePush(%q, %s) = %+v, %v; want %+v, err %v", tt.event, tt.body, got, err, tt.want, tt.err)
		}
		if err != nil && errors.Is(err, ErrNotPush) != tt.notPush {
			t.Errorf("ParsePush(%s): ErrNotPush = %v, want %v", tt.body, errors.Is(err, ErrNotPush), tt.notPush)
		}
	}
}

func FuzzParsePush(f *testing.F) {
	f.Add("push", []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}`))
	f.Add("push", []byte(`{"ref":"refs/tags/v1","after":"0000000000000000000000000000000000000000","deleted":true}`))
	f.Add("ping", []byte(`{}`))
	f.Add("push", []byte(`{"ref":"refs/heads/main","before":"89abcdef0123456789abcdef0123456789abcdef","after":"0123456789abcdef0123456789abcdef01234567"}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		p, err := ParsePush(event, body)
		if err != nil {
			return
		}
		if p.Deleted == (p.Commit != "") {
			t.Fatalf("push %+v: a deletion has no commit, an update has one", p)
		}
		if p.Commit != "" && !isCommit(p.Commit) || p.Before != "" && !isCommit(p.Before) {
			t.Fatalf("push %+v: commit or before is not a hash", p)
		}
		Verify(http.Header{"X-Gitea-Signature": {string(body)}}, body, "k") // must not panic
	})
}

func TestDecide(t *testing.T) {
	src := spec.Source{Rules: []spec.SourceRule{
		{Branch: "main", Deploy: "staging"},
		{Tag: "v*", Candidate: "production"},
		{Branch: "**", Preview: true},
	}}
	c := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		ref     string
		deleted bool
		want    Action
		ok      bool
	}{
		{"refs/heads/main", false, Action{Ref: "refs/heads/main", Name: "main", Commit: c, Run: true, Deploy: "staging"}, true},
		{"refs/tags/v1.2.0", false, Action{Ref: "refs/tags/v1.2.0", Name: "v1.2.0", Tag: true, Commit: c, Run: true, Candidate: "production"}, true},
		{"refs/heads/Feature/Login_Page", false, Action{Ref: "refs/heads/Feature/Login_Page", Name: "Feature/Login_Page", Commit: c, Run: true, Preview: "preview-feature-login-page"}, true},
		{"refs/heads/Feature/Login_Page", true, Action{Ref: "refs/heads/Feature/Login_Page", Name: "Feature/Login_Page", Teardown: "preview-feature-login-page"}, true},
		{"refs/heads/main", true, Action{}, false},
		{"refs/tags/nightly", false, Action{}, false},
	}
	for _, tt := range tests {
		commit := c
		if tt.deleted {
			commit = ""
		}
		got, ok := Decide(src, tt.ref, commit, tt.deleted)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decide(%s, deleted %v) = %+v, %v; want %+v, %v", tt.ref, tt.deleted, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPreviewNames(t *testing.T) {
	tests := []struct{ branch, env, host string }{
		{"feature/login", "preview-feature-login", "feature-login.hello.preview.localhost"},
		{"--Weird__Name--", "preview-weird-name", "weird-name.hello.preview.localhost"},
		{"ü", "preview-branch", "branch.hello.preview.localhost"},
		{"a-very-long-branch-name-that-goes-on-and-on-and-on-forever-and-ever", "preview-a-very-long-branch-name-that-goes-on-and-on-and-on-fore", "a-very-long-branch-name-that-goes-on-and.hello.preview.localhost"},
	}
	for _, tt := range tests {
		if got := PreviewEnv(tt.branch); got != tt.env || len(got) > 63 {
			t.Errorf("PreviewEnv(%q) = %q, want %q", tt.branch, got, tt.env)
		}
		if got := PreviewHost("{branch}.hello.preview.localhost", tt.branch); got != tt.host {
			t.Errorf("PreviewHost(%q) = %q, want %q", tt.branch, got, tt.host)
		}
	}
}

func TestDiff(t *testing.T) {
	before := map[string]string{"refs/heads/main": "a", "refs/heads/old": "b", "refs/tags/v1": "c"}
	now := map[string]string{"refs/heads/main": "d", "refs/tags/v1": "c", "refs/heads/new": "e"}
	want := []Update{{Ref: "refs/heads/main", Commit: "d"}, {Ref: "refs/heads/new", Commit: "e"}, {Ref: "refs/heads/old", Deleted: true}}
	if got := Diff(before, now); !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %+v, want %+v", got, want)
	}
	if got := Diff(now, now); len(got) != 0 {
		t.Errorf("Diff of equal refs = %+v", got)
	}
}

func TestOrdering(t *testing.T) {
	a, b, c := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccccccccccccccccccc"
	tests := []struct {
		name  string
		p     Push
		seen  string
		known bool
		want  Order
	}{
		{"next push", Push{Commit: b, Before: a}, a, true, InOrder},
		{"new branch", Push{Commit: a}, "", false, InOrder},
		{"deletion of the commit seen", Push{Deleted: true, Before: b}, b, true, InOrder},
		{"same push again", Push{Commit: b, Before: a}, b, true, AlreadySeen},
		{"deletion of a ref not seen", Push{Deleted: true, Before: a}, "", false, AlreadySeen},
		{"stale redelivery of an older push", Push{Commit: b, Before: a}, c, true, OutOfOrder},
		{"newer push, one between missed", Push{Commit: c, Before: b}, a, true, OutOfOrder},
		{"old deletion of a ref since made again", Push{Deleted: true, Before: a}, c, true, OutOfOrder},
		{"no before for a ref seen", Push{Commit: b}, a, true, OutOfOrder},
		{"a ref not seen pushed from a commit", Push{Commit: b, Before: a}, "", false, OutOfOrder},
	}
	for _, tt := range tests {
		if got := Ordering(tt.p, tt.seen, tt.known); got != tt.want {
			t.Errorf("%s: Ordering = %d, want %d", tt.name, got, tt.want)
		}
	}
}
