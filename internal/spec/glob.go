package spec

import (
	"path"
	"regexp"
	"strings"
)

// GlobMatch reports whether a branch or tag name matches glob, the branch
// or tag of a SourceRule: the syntax of path.Match, in which * and ? do not
// match a slash, plus ** for any run of characters, slashes included. In a
// glob with **, characters other than * and ? stand for themselves.
func GlobMatch(glob, name string) bool {
	if !strings.Contains(glob, "**") {
		ok, _ := path.Match(glob, name)
		return ok
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), name)
	return ok
}
