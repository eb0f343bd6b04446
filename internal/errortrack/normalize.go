package errortrack

import (
	"regexp"
	"strings"
)

// placeholders are the kinds of variable text NormalizeMessage replaces,
// in the order they are tried at one position; each is one capture group
// of placeholderPattern.
var placeholders = []struct {
	name    string
	pattern string
}{
	// Quotes that open and close at a word's edge, so that the
	// apostrophes of "can't find user's file" are not a quoted string.
	{"<quoted>", `\B'[^'\n]*'\B|\B"[^"\n]*"\B`},
	{"<url>", `\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'"<>]+`},
	{"<email>", `\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b`},
	{"<uuid>", `\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`},
	{"<date>", `\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b` +
		`|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b`},
	// IPv4; IPv6 in full (eight groups) or with "::" next to a group, so
	// that C++'s "std::vector" stays as it is.
	{"<ip>", `\b(?:\d{1,3}\.){3}\d{1,3}\b` +
		`|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b` +
		`|\B::[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*\b` +
		`|\b(?:[0-9a-fA-F]{1,4}:)+:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*\b|\B)`},
	// Numbers need a word's start but no end, so that units stay:
	// "3.5s" is "<float>s", "250ms" is "<int>ms".
	{"<float>", `\b\d+\.\d+(?:[eE][+-]?\d+)?`},
	// Plain hex counts only with a digit in it (see hexPlaceholder).
	{"<hex>", `\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b`},
	{"<int>", `\b\d+`},
}

var placeholderPattern = func() *regexp.Regexp {
	groups := make([]string, len(placeholders))
	for i, p := range placeholders {
		groups[i] = "(" + p.pattern + ")"
	}
	return regexp.MustCompile(strings.Join(groups, "|"))
}()

// NormalizeMessage replaces the variable parts of a message with
// placeholders, so that messages differing only in them group together:
// quoted strings ('...' and "...") <quoted>, URLs <url>, emails <email>,
// UUIDs <uuid>, ISO dates and times <date>, IPv4 and IPv6 addresses <ip>,
// hex (0x... or 8 and more hex digits with a digit among them) <hex>, and
// numbers <float> and <int>, then collapses white space.
//
//	payment 1234 for user 7f3c9a1e-2b4d-4c8e-9f10-aabbccddeeff failed after 3.5s
//	payment <int> for user <uuid> failed after <float>s
func NormalizeMessage(s string) string {
	matches := placeholderPattern.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return strings.Join(strings.Fields(s), " ")
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		start, end := m[0], m[1]
		b.WriteString(s[last:start])
		last = end
		kind := 0
		for k := range placeholders {
			if m[2+2*k] >= 0 {
				kind = k
				break
			}
		}
		text := s[start:end]
		switch name := placeholders[kind].name; name {
		case "<url>":
			// Punctuation after a URL is the sentence's, not the URL's.
			trimmed := strings.TrimRight(text, ".,;:!?)]}")
			b.WriteString(name)
			b.WriteString(text[len(trimmed):])
		case "<hex>":
			b.WriteString(hexPlaceholder(text))
		default:
			b.WriteString(name)
		}
	}
	b.WriteString(s[last:])
	return strings.Join(strings.Fields(b.String()), " ")
}

// hexPlaceholder classifies a run of hex digits: 0x-prefixed or mixed
// digits and letters is <hex>, digits only is <int>, letters only (a word
// like "deadbeef" or "acceded") stays as it is.
func hexPlaceholder(s string) string {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return "<hex>"
	}
	digits, letters := false, false
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits = true
		} else {
			letters = true
		}
	}
	switch {
	case digits && letters:
		return "<hex>"
	case digits:
		return "<int>"
	default:
		return s
	}
}
