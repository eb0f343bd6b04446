package spec

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// This file checks the source section: the repository, the rules that
// say what a push does, and branch previews; validate.go holds the rest of
// the rules.

func (v *validator) source(p string, s *Source, envs envSet) {
	if s == nil {
		return
	}
	if v.required(p+".repo", s.Repo, "add the git repository to watch, a path or a URL that git clone accepts, e.g. repo: https://github.com/acme/hello.git") {
		switch {
		case strings.IndexFunc(s.Repo, unicode.IsControl) >= 0:
			v.addf(p+".repo", "%q must be one line, without control characters such as a newline or tab", s.Repo)
		case strings.HasPrefix(s.Repo, "-"):
			v.addf(p+".repo", "%q starts with a dash, which git would read as an option; write a local path as ./%s", s.Repo, s.Repo)
		}
	}
	v.positive(p+".poll", s.Poll, DefaultPoll)
	if len(s.Rules) == 0 {
		v.addMissing(p+".rules", []string{p + ".rules"}, "a source needs at least one rule saying what a push does, e.g. rules: [{branch: main, deploy: staging}]")
	}
	previews := false
	for i, r := range s.Rules {
		v.sourceRule(fmt.Sprintf("%s.rules[%d]", p, i), r, s.Rules[:i], s.Preview != nil, envs)
		previews = previews || r.Preview
	}
	if s.Preview != nil {
		v.preview(p+".preview", *s.Preview, previews, envs)
	}
}

// ruleMatch is what a rule matches: a branch or tag glob.
type ruleMatch struct {
	kind    string // "branch" or "tag"; "" when the rule sets neither or both
	pattern string
}

func (r SourceRule) match() ruleMatch {
	switch {
	case r.Branch != "" && r.Tag == "":
		return ruleMatch{"branch", r.Branch}
	case r.Tag != "" && r.Branch == "":
		return ruleMatch{"tag", r.Tag}
	}
	return ruleMatch{}
}

func (v *validator) sourceRule(p string, r SourceRule, earlier []SourceRule, previewSection bool, envs envSet) {
	branch, tag := v.given(p+".branch", r.Branch != ""), v.given(p+".tag", r.Tag != "")
	switch {
	case branch && tag:
		v.addf(p, "a rule matches a branch or a tag, not both; split it into a branch rule and a tag rule")
	case !branch && !tag:
		v.addMissing(p, []string{p + ".branch", p + ".tag"}, "a rule needs branch or tag, a glob of the names it matches, e.g. branch: main or tag: v*")
	default:
		m := r.match()
		if msg := globProblem(m.kind, m.pattern); msg != "" {
			v.addf(p+"."+m.kind, "%s", msg)
		} else if msg := shadowed(m, earlier); msg != "" {
			v.addf(p+"."+m.kind, "%s", msg)
		}
	}

	var actions []string
	deploy, candidate := v.given(p+".deploy", r.Deploy != ""), v.given(p+".candidate", r.Candidate != "")
	if deploy {
		actions = append(actions, "deploy")
	}
	if candidate {
		actions = append(actions, "candidate")
	}
	if r.Preview {
		actions = append(actions, "preview")
	}
	if len(actions) > 1 {
		v.addf(p, "a rule sets at most one of deploy, candidate and preview, but this one sets %s; a push either deploys to an environment, waits as a candidate for one, or gets a preview environment of its own, so keep one (a rule with none only runs the pipeline)", andList(actions))
		return
	}
	switch {
	case deploy:
		v.deployTarget(p+".deploy", r.Deploy, envs)
	case candidate:
		if msg := envs.refProblem(r.Candidate); msg != "" {
			v.addf(p+".candidate", "%s", msg)
		}
	case r.Preview && tag && !branch:
		v.addf(p+".preview", "only a branch rule can have previews: a preview lives until its branch is deleted; remove preview, or match a branch")
	case r.Preview && !previewSection:
		v.addf(p+".preview", "previews need a preview section in source with their host, e.g. preview: {host: \"{branch}.hello.preview.example.com\"}; add it")
	}
}

// deployTarget checks the environment a rule deploys to. A deploy skips
// the gates a promotion goes through, so an environment with any is an
// error rather than a deploy the server would refuse, or let through.
func (v *validator) deployTarget(p, name string, envs envSet) {
	if msg := envs.refProblem(name); msg != "" {
		v.addf(p, "%s", msg)
		return
	}
	switch env := envs.envs[name]; {
	case env.RequiresFrom != "":
		v.addf(p, "environments.%s only takes artifacts that went live in %s first (requires_from), so the server would refuse every deploy of a fresh build; deploy to %s, or write candidate: %s and promote", name, env.RequiresFrom, env.RequiresFrom, name)
	case env.Approvals > 0:
		v.addf(p, "environments.%s needs approvals before a release goes live, which a deploy would skip; write candidate: %s so that releases wait for slipway promote and its approvals", name, name)
	}
}

// globProblem describes why pattern cannot match the names of branches or
// tags (kind), or returns "".
func globProblem(kind, pattern string) string {
	const syntax = "* matches any characters but a slash, ** any characters, ? one character, [abc] one of a set"
	if msg := textProblem(pattern); msg != "" {
		return msg
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Sprintf("%q is not a valid glob: a [ is left open or a \\ ends it; %s", pattern, syntax)
	}
	switch {
	case strings.TrimSpace(pattern) == "":
		return fmt.Sprintf("%q matches no %s; write a glob like %s", pattern, kind, exampleGlob(kind))
	case strings.IndexFunc(pattern, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Sprintf("%q contains a space or control character, which git does not allow in a %s name, so it matches nothing; remove it", pattern, kind)
	case strings.HasPrefix(pattern, "refs/"):
		fix := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(pattern, "refs/"), "heads/"), "tags/")
		return fmt.Sprintf("%q is a full ref; write the %s name alone, %q", pattern, kind, fix)
	}
	return ""
}

func exampleGlob(kind string) string {
	if kind == "tag" {
		return "v*"
	}
	return "main or release/*"
}

// shadowed says that a rule can never apply because an earlier rule
// matches every name it does, or returns "". It catches the same pattern
// twice and a plain name after a glob that matches it.
func shadowed(m ruleMatch, earlier []SourceRule) string {
	literal := !strings.ContainsAny(m.pattern, `*?[\`)
	for i, e := range earlier {
		em := e.match()
		if em.kind != m.kind || globProblem(em.kind, em.pattern) != "" {
			continue
		}
		if em.pattern == m.pattern {
			return fmt.Sprintf("rules[%d] matches %s %q already, and the first matching rule applies, so this one never would; remove one of them", i, m.kind, m.pattern)
		}
		if literal && GlobMatch(em.pattern, m.pattern) {
			return fmt.Sprintf("%q is matched by %q of rules[%d] first, and the first matching rule applies, so this one never would; move it above rules[%d]", m.pattern, em.pattern, i, i)
		}
	}
	return ""
}

func (v *validator) preview(p string, pr Preview, used bool, envs envSet) {
	if !used {
		v.addf(p, "no rule has preview: true, so no preview would ever be made; add preview: true to a branch rule, or remove this section")
	}
	if strings.TrimSpace(pr.Host) == "" {
		v.addMissing(p+".host", []string{p + ".host"}, "required; add the previews' host name, where {branch} stands for the branch, e.g. host: \"{branch}.hello.preview.example.com\"")
	} else if msg := previewHostProblem(pr.Host); msg != "" {
		v.addf(p+".host", "%s", msg)
	} else if msg := previewHostClash(pr.Host, envs); msg != "" {
		v.addf(p+".host", "%s", msg)
	}
	if v.given(p+".from", pr.From != "") {
		if msg := envs.refProblem(pr.From); msg != "" {
			v.addf(p+".from", "%s", msg)
		}
		return
	}
	if _, ok := envs.envs[DefaultPreviewFrom]; !ok && len(envs.names) > 0 {
		v.addMissing(p+".from", []string{p + ".from"}, "previews copy environments.%s unless from says otherwise, and there is no such environment; add from: naming the environment to copy, e.g. from: %s", DefaultPreviewFrom, envs.names[0])
	}
}

// previewHostProblem describes why host is not a preview host template,
// or returns "".
func previewHostProblem(host string) string {
	const ph = BranchPlaceholder
	switch n := strings.Count(host, ph); {
	case n == 0:
		msg := fmt.Sprintf("%q does not contain %s, so every branch's preview would get the same host", host, ph)
		if fix := ph + "." + cleanHost(host); validPreviewHost(fix) {
			msg += fmt.Sprintf("; write it like %q", fix)
		} else {
			msg += `; write it like "{branch}.hello.preview.example.com"`
		}
		return msg
	case n > 1:
		return fmt.Sprintf("%q contains %s %d times; write it once, e.g. %q", host, ph, n, ph+"."+strings.TrimLeft(strings.ReplaceAll(host, ph, ""), ".-"))
	}
	if validPreviewHost(host) {
		return ""
	}
	msg := fmt.Sprintf("%q, with %s replaced by a branch name, %s", host, ph, hostReason(strings.Replace(host, ph, "x", 1)))
	if fix := cleanHost(host); fix != host && validPreviewHost(fix) {
		msg += fmt.Sprintf("; write %q", fix)
	}
	return msg
}

// previewHostClash says that some branch's preview would get the host or
// preview host of an environment, or returns "".
func previewHostClash(template string, envs envSet) string {
	c, ok := findClash(template, envs)
	if !ok {
		return ""
	}
	msg := fmt.Sprintf("%q would give a branch named %s the host %q, already the %s of environments.%s; put previews under a domain of their own", template, c.branch, c.host, c.field, c.env)
	fix := strings.Replace(template, BranchPlaceholder, BranchPlaceholder+".preview", 1)
	if _, clash := findClash(fix, envs); validPreviewHost(fix) && !clash {
		msg += fmt.Sprintf(", e.g. %q", fix)
	}
	return msg
}

// clash is a host of an environment that the preview of branch would get.
type clash struct{ branch, host, field, env string }

func findClash(template string, envs envSet) (clash, bool) {
	prefix, suffix, _ := strings.Cut(template, BranchPlaceholder)
	for _, name := range envs.names {
		env := envs.envs[name]
		for _, h := range []struct{ host, field string }{{env.Host, "host"}, {env.Rollout.PreviewHost, "rollout.preview_host"}} {
			rest, ok := strings.CutPrefix(h.host, prefix)
			if !ok {
				continue
			}
			if branch, ok := strings.CutSuffix(rest, suffix); ok && validLabel(branch) {
				return clash{branch: branch, host: h.host, field: h.field, env: name}, true
			}
		}
	}
	return clash{}, false
}
