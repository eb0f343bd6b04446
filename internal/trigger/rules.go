package trigger

import (
	"sort"
	"strings"

	"github.com/slipway-dev/slipway/internal/spec"
)

// Action is what a ref update should cause.
type Action struct {
	Ref    string // full ref name
	Name   string // branch or tag name
	Tag    bool
	Commit string
	// Run a pipeline for Commit (false only for deletions).
	Run bool
	// Deploy, Candidate: the environment a passing run deploys to, or
	// becomes a candidate for. Preview: the preview environment to create
	// (or update) and deploy to.
	Deploy, Candidate, Preview string
	// Teardown names a preview environment to remove (branch deleted).
	Teardown string
}

// Match finds the first rule matching ref (refs/heads/X or refs/tags/X).
func Match(rules []spec.SourceRule, ref string) (spec.SourceRule, bool) {
	name, tag := refName(ref)
	for _, r := range rules {
		pattern := r.Branch
		if tag {
			pattern = r.Tag
		}
		if pattern == "" {
			continue
		}
		if spec.GlobMatch(pattern, name) {
			return r, true
		}
	}
	return spec.SourceRule{}, false
}

func refName(ref string) (string, bool) {
	if n, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return n, true
	}
	return strings.TrimPrefix(ref, "refs/heads/"), false
}

// Decide turns one ref update into an action under the source's rules.
// ok is false when no rule matches (nothing to do).
func Decide(src spec.Source, ref, commit string, deleted bool) (Action, bool) {
	rule, ok := Match(src.Rules, ref)
	if !ok {
		return Action{}, false
	}
	name, tag := refName(ref)
	a := Action{Ref: ref, Name: name, Tag: tag, Commit: commit}
	if deleted {
		if rule.Preview && !tag {
			a.Teardown = PreviewEnv(name)
			return a, true
		}
		return Action{}, false
	}
	a.Run, a.Deploy, a.Candidate = true, rule.Deploy, rule.Candidate
	if rule.Preview && !tag {
		a.Preview = PreviewEnv(name)
	}
	return a, true
}

// PreviewEnv is the environment name of a branch's preview: "preview-"
// and the branch made DNS-safe, at most 63 characters.
func PreviewEnv(branch string) string {
	return "preview-" + dnsSafe(branch, 63-len("preview-"))
}

// PreviewHost fills the {branch} of a preview host pattern.
func PreviewHost(pattern, branch string) string {
	return strings.ReplaceAll(pattern, "{branch}", dnsSafe(branch, 40))
}

// dnsSafe lowercases s and turns every run of characters other than
// letters and digits into one dash, trimmed, at most n long.
func dnsSafe(s string, n int) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > n {
		out = strings.TrimRight(out[:n], "-")
	}
	if out == "" {
		out = "branch"
	}
	return out
}

// Diff compares the refs seen last time with the refs now (ref -> commit)
// and returns the updates: new or moved refs with their commit, and
// deleted refs with an empty commit, sorted by ref.
func Diff(before, now map[string]string) []Update {
	var out []Update
	for ref, c := range now {
		if before[ref] != c {
			out = append(out, Update{Ref: ref, Commit: c})
		}
	}
	for ref := range before {
		if _, ok := now[ref]; !ok {
			out = append(out, Update{Ref: ref, Deleted: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// Update is one ref change found by polling.
type Update struct {
	Ref     string
	Commit  string
	Deleted bool
}
