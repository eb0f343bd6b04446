package process

import (
	"bytes"
	"cmp"
	"io"
	"slices"
	"strings"
)

// MinRedactBytes is the shortest secret value the logs redact: shorter
// values ("1", "yes", "on") would blank out ordinary output.
const MinRedactBytes = 4

// secretValue is a secret to redact: its name and value.
type secretValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// redactor writes a stream to w with every occurrence of a secret value
// replaced by [redacted:NAME]. A value may arrive split across writes (and
// so across lines, for multi-line values): the redactor holds back the end
// of its input for as long as it could be the start of a value, and writes
// it once more input shows it is not, or on Flush. Ordinary output, whose
// lines end in a newline no value starts with, passes through at once.
// Where values overlap, the one starting first wins, and the longest of
// those starting at the same byte. It is not safe for concurrent use.
type redactor struct {
	w        io.Writer
	patterns []pattern // longest first
	first    [256]bool // bytes some pattern starts with
	pending  []byte
}

type pattern struct {
	value, repl []byte
}

// newRedactor redacts each value, its trimmed form and, for a multi-line
// value, each of its trimmed lines, when at least MinRedactBytes long.
func newRedactor(w io.Writer, secrets []secretValue) *redactor {
	r := &redactor{w: w}
	seen := map[string]bool{}
	add := func(name, v string) {
		if len(v) < MinRedactBytes || seen[v] {
			return
		}
		seen[v] = true
		r.patterns = append(r.patterns, pattern{value: []byte(v), repl: []byte("[redacted:" + name + "]")})
		r.first[v[0]] = true
	}
	sorted := slices.SortedFunc(slices.Values(secrets), func(a, b secretValue) int { return cmp.Compare(a.Name, b.Name) })
	for _, s := range sorted {
		add(s.Name, s.Value)
		add(s.Name, strings.TrimSpace(s.Value))
	}
	for _, s := range sorted {
		if strings.Contains(strings.TrimSpace(s.Value), "\n") {
			for line := range strings.SplitSeq(s.Value, "\n") {
				add(s.Name, strings.TrimSpace(line))
			}
		}
	}
	slices.SortStableFunc(r.patterns, func(a, b pattern) int { return cmp.Compare(len(b.value), len(a.value)) })
	return r
}

// Write redacts p and writes what is settled. It reports len(p) unless the
// underlying write fails.
func (r *redactor) Write(p []byte) (int, error) {
	if len(r.patterns) == 0 {
		return r.w.Write(p)
	}
	buf := append(r.pending, p...)
	out, rest := r.redact(buf, false)
	r.pending = append(r.pending[:0:0], rest...)
	clear(buf)
	if len(out) == 0 {
		return len(p), nil
	}
	_, err := r.w.Write(out)
	clear(out)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back, as it is: the stream ended, so it is not
// the start of a value.
func (r *redactor) Flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	out, _ := r.redact(r.pending, true)
	clear(r.pending)
	r.pending = nil
	_, err := r.w.Write(out)
	return err
}

// redact returns buf with the values in it replaced, and the tail to hold
// back because a value may start there (none when final).
func (r *redactor) redact(buf []byte, final bool) (out, rest []byte) {
	out = make([]byte, 0, len(buf))
	emitted, i := 0, 0
scan:
	for i < len(buf) {
		if !r.first[buf[i]] {
			i++
			continue
		}
		tail := buf[i:]
		for _, p := range r.patterns { // longest first
			if len(tail) >= len(p.value) {
				if bytes.Equal(tail[:len(p.value)], p.value) {
					out = append(append(out, buf[emitted:i]...), p.repl...)
					i += len(p.value)
					emitted = i
					continue scan
				}
			} else if !final && bytes.HasPrefix(p.value, tail) {
				// A longer value may yet match here: wait for more.
				break scan
			}
		}
		i++
	}
	return append(out, buf[emitted:i]...), buf[i:]
}
