package spec

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// This file checks the pipeline section; validate.go holds the rest of the
// rules.

func (v *validator) pipeline(p string, pl *Pipeline) {
	if pl == nil {
		return
	}
	if len(pl.Stages) == 0 {
		v.addMissing(p+".stages", []string{p + ".stages"}, "a pipeline needs at least one stage; add one, e.g. stages: [{name: test, steps: [{name: unit, run: go test ./...}]}], or remove the pipeline to build with build.command")
	}
	stages := map[string]string{} // stage name -> the stage that has it
	for i, st := range pl.Stages {
		sp, label := fmt.Sprintf("%s.stages[%d]", p, i), fmt.Sprintf("stages[%d]", i)
		switch {
		case st.Name == "":
			v.addMissing(sp+".name", []string{sp + ".name"}, "required; add the stage's name, e.g. name: test (lowercase letters, digits and dashes)")
		case nameProblem(st.Name, "stage name") != "":
			v.addf(sp+".name", "%s", nameProblem(st.Name, "stage name"))
		case stages[st.Name] != "":
			v.addf(sp+".name", "%q is already the name of %s; give each stage its own name", st.Name, stages[st.Name])
		default:
			stages[st.Name] = label
		}
		v.pipelineSteps(sp+".steps", st.Steps)
	}
	v.caches(p+".caches", pl.Caches)
}

func (v *validator) pipelineSteps(p string, steps []PipelineStep) {
	if len(steps) == 0 {
		v.addMissing(p, []string{p}, "a stage needs at least one step; add one, e.g. steps: [{name: unit, run: go test ./...}]")
		return
	}
	names := map[string]string{} // step name -> the step that has it
	for i, s := range steps {
		sp, label := fmt.Sprintf("%s[%d]", p, i), fmt.Sprintf("steps[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			v.addMissing(sp+".name", []string{sp + ".name"}, "required; add the step's name, e.g. name: unit")
		case lineProblem(s.Name) != "":
			v.addf(sp+".name", "%s", lineProblem(s.Name))
		case names[s.Name] != "":
			v.addf(sp+".name", "%q is already the name of %s of this stage; give each step of a stage its own name", s.Name, names[s.Name])
		default:
			names[s.Name] = label
		}
		v.required(sp+".run", s.Run, "add the shell command the step runs, e.g. run: go test ./...")
		v.varsOf(sp+".env", s.Env, false)
		if v.given(sp+".dir", s.Dir != "") {
			if msg := relPathProblem(s.Dir, "the workspace", "cmd/api"); msg != "" {
				v.addf(sp+".dir", "%s, or remove the line to run in the directory of slipway.yaml", msg)
			}
		}
		v.positive(sp+".timeout", s.Timeout, DefaultStepTimeout)
	}
}

func (v *validator) caches(p string, caches []Cache) {
	// dirs maps each valid cache directory, cleaned, to the cache that
	// has it.
	dirs := map[string]string{}
	var order []string
	for i, c := range caches {
		cp, label := fmt.Sprintf("%s[%d]", p, i), fmt.Sprintf("caches[%d]", i)
		if strings.TrimSpace(c.Path) == "" {
			v.addMissing(cp+".path", []string{cp + ".path"}, "required; add the directory to keep between runs, relative to the workspace or under ~/, e.g. path: ~/.cache/go-build")
		} else if dir, msg := cacheDir(c.Path); msg != "" {
			v.addf(cp+".path", "%s", msg)
		} else if msg := overlap(dir, c.Path, order, dirs); msg != "" {
			v.addf(cp+".path", "%s", msg)
		} else {
			dirs[dir] = label
			order = append(order, dir)
		}
		if len(c.Key) == 0 {
			v.addMissing(cp+".key", []string{cp + ".key"}, "required; list the files whose content keys the cache, relative to the workspace, e.g. key: [go.sum]")
		}
		for j, k := range c.Key {
			if msg := relPathProblem(k, "the workspace", "go.sum"); msg != "" {
				v.addf(fmt.Sprintf("%s.key[%d]", cp, j), "%s", msg)
			}
		}
	}
}

// overlap describes how the cache directory dir (written as written)
// clashes with one of those before it, or returns "".
func overlap(dir, written string, before []string, owner map[string]string) string {
	for _, other := range before {
		switch {
		case dir == other:
			return fmt.Sprintf("%q is already cached by %s; list each directory once", written, owner[other])
		case within(dir, other) || within(other, dir):
			return fmt.Sprintf("%q overlaps the directory of %s; caches nested in each other would overwrite each other when restored, so keep one", written, owner[other])
		}
	}
	return ""
}

// cacheDir returns the directory a cache path names, cleaned ("~/" kept
// for the home directory), or a problem with it.
func cacheDir(s string) (string, string) {
	const example = "~/.cache/go-build"
	if msg := textProblem(s); msg != "" {
		return "", msg
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fmt.Sprintf("%q contains a control character such as a newline or tab; write a plain path, e.g. %s", s, example)
	}
	if s == "~" {
		return "", fmt.Sprintf("%q is the whole home directory; cache a directory inside it, e.g. %s", s, example)
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		clean := path.Clean(rest)
		switch {
		case strings.HasPrefix(rest, "/"):
			return "", fmt.Sprintf("%q has more than one slash after ~; write it like %s", s, example)
		case clean == ".":
			return "", fmt.Sprintf("%q is the whole home directory; cache a directory inside it, e.g. %s", s, example)
		case escapes(clean):
			return "", fmt.Sprintf("%q leads outside the home directory; write a path inside it, e.g. %s", s, example)
		}
		return "~/" + clean, ""
	}
	clean := path.Clean(s)
	switch {
	case strings.HasPrefix(s, "~"):
		return "", fmt.Sprintf("%q names another user's home directory; write a path under ~/ (the home directory of the user running the pipeline) or relative to the workspace", s)
	case strings.HasPrefix(s, "/"):
		return "", fmt.Sprintf("%q is an absolute path; write it relative to the workspace (node_modules) or under the home directory as ~/..., e.g. %s", s, example)
	case clean == ".":
		return "", fmt.Sprintf("%q is the whole workspace, which each run checks out afresh; cache a directory inside it, e.g. node_modules", s)
	case escapes(clean):
		return "", fmt.Sprintf("%q leads outside the workspace; write a path inside it, or under the home directory as ~/..., e.g. %s", s, example)
	}
	return clean, ""
}

// lineProblem describes why s cannot be a name shown on one line, or
// returns "".
func lineProblem(s string) string {
	if msg := textProblem(s); msg != "" {
		return msg
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Sprintf("%q must be one line, without control characters such as a newline or tab", s)
	}
	return ""
}
