package spec

import (
	"strings"
	"unicode/utf8"
)

// The textual rules of the spec. Each pattern is what the JSON Schema
// publishes; the functions beside them implement it without regexps, and the
// tests check the two agree.
const (
	// namePattern is the rule for the app name and environment names.
	namePattern = `^[a-z][a-z0-9-]*$`
	// maxNameLen bounds app and environment names, like a DNS label.
	maxNameLen = 63
	// envVarPattern is the rule for run.env and config keys.
	envVarPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
	// hostPattern is the rule for environment hosts: dot-separated DNS labels.
	hostPattern = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`
	// maxHostLen bounds a whole host name.
	maxHostLen = 253
	// previewHostPattern is the rule for source.preview.host: a host name
	// in which one label holds {branch}. (It does not bound that label's
	// length, which Parse checks with {branch} replaced by one letter.)
	previewHostPattern = `^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*([a-z0-9][a-z0-9-]*)?\{branch\}([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`
	// maxPreviewHostLen bounds source.preview.host: a host name of
	// maxHostLen with a one-letter branch.
	maxPreviewHostLen = maxHostLen - 1 + len(BranchPlaceholder)
	// reservedVar is set by slipway itself and may not be configured.
	reservedVar = "PORT"
	// stickyPattern is the rule for rollout.sticky: cookie, or header:
	// followed by an HTTP header name (an RFC 9110 token).
	stickyPattern = "^(cookie|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$"
)

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// validName reports whether s is a valid app or environment name.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// suggestName turns s into a valid name if it can, for "try ..." hints:
// lowercase, other characters replaced by dashes, no leading non-letters.
// It returns "" when nothing sensible remains.
func suggestName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUpper(c):
			b.WriteByte(c - 'A' + 'a')
		case isLower(c) || isDigit(c):
			b.WriteByte(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "0123456789-")
	if len(out) > maxNameLen {
		out = out[:maxNameLen]
	}
	out = strings.TrimRight(out, "-")
	if !validName(out) || out == s {
		return ""
	}
	return out
}

// validEnvVar reports whether s can be an environment variable name.
func validEnvVar(s string) bool {
	if len(s) == 0 || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isUpper(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// suggestEnvVar replaces the characters an environment variable name cannot
// hold with underscores, or returns "" when that does not help.
func suggestEnvVar(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLower(c) || isUpper(c) || isDigit(c) || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 0 && isDigit(out[0]) {
		out = "_" + out
	}
	if !validEnvVar(out) || out == s || out == reservedVar {
		return ""
	}
	return out
}

// validHost reports whether s is a lowercase DNS host name.
func validHost(s string) bool {
	if len(s) == 0 || len(s) > maxHostLen {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLower(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// validLabel reports whether s is one label of a host name.
func validLabel(s string) bool { return s != "" && !strings.Contains(s, ".") && validHost(s) }

// validPreviewHost reports whether s is a valid source.preview.host: it
// holds {branch} once, and is a host name once a branch name replaces it.
func validPreviewHost(s string) bool {
	return strings.Count(s, BranchPlaceholder) == 1 && validHost(strings.Replace(s, BranchPlaceholder, "x", 1))
}

// validToken reports whether s is an HTTP token (RFC 9110), the form of a
// header name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isUpper(c) && !isDigit(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validSticky reports whether s is a valid rollout.sticky.
func validSticky(s string) bool {
	name, ok := strings.CutPrefix(s, StickyHeaderPrefix)
	return s == StickyCookie || ok && validToken(name)
}

// isDecimal reports whether s is a plain decimal number such as 5 or 1.5,
// which a duration needs a unit after.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			digits++
		case s[i] == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// cleanHost strips what people commonly put around a host name (scheme,
// path, port, trailing dot, capitals) for "write ..." hints.
func cleanHost(s string) string {
	s = strings.TrimSpace(s)
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// textProblem describes why s cannot be used as a command, path or
// environment variable value, or returns "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "the value is not valid UTF-8; save the file as UTF-8 and check escapes like \\x in double-quoted strings"
	case strings.IndexByte(s, 0) >= 0:
		return "the value contains a NUL character (\\0), which commands and environment variables cannot hold; remove it"
	}
	return ""
}
