package spec

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// The rules for file paths written in the spec: a step's dir, a cache's
// path and key files, and secret files. Each is relative to a base
// directory (the workspace, the instance's directory) and stays inside it.

// relPathProblem describes why s is not a path inside base, or returns "".
// base names the directory ("the workspace"); example is a path to suggest.
func relPathProblem(s, base, example string) string {
	if msg := textProblem(s); msg != "" {
		return msg
	}
	clean := path.Clean(s)
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Sprintf("%q is blank; write a path relative to %s, e.g. %s", s, base, example)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Sprintf("%q contains a control character such as a newline or tab; write a plain path relative to %s, e.g. %s", s, base, example)
	case strings.HasPrefix(s, "/"):
		return fmt.Sprintf("%q is an absolute path; write it relative to %s, e.g. %s", s, base, example)
	case s == "~" || strings.HasPrefix(s, "~/"):
		return fmt.Sprintf("%q starts with ~, which is not expanded here; write it relative to %s, e.g. %s", s, base, example)
	case escapes(clean):
		return fmt.Sprintf("%q leads outside %s; write a path inside it, e.g. %s", s, base, example)
	}
	return ""
}

// escapes reports whether a cleaned relative path leads out of its base.
func escapes(clean string) bool { return clean == ".." || strings.HasPrefix(clean, "../") }

// within reports whether the cleaned relative path p is dir or lies under
// it.
func within(p, dir string) bool {
	return p == dir || dir == "." || strings.HasPrefix(p, dir+"/")
}
