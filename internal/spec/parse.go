package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Parse reads slipway.yaml strictly: unknown fields, values of the wrong
// type, missing required fields and invalid values are all errors. filename
// is used only in messages.
//
// On success the App has its defaults applied (see WithDefaults) and passes
// Validate. Otherwise the error is an ErrorList holding every problem found,
// in file order, each with its line, column and field path; Parse never
// stops at the first problem unless the file is not YAML at all.
//
// Anchors, aliases and merge keys (<<: *defaults) are allowed, and keys
// starting with "x-" at the top level are ignored so anchors have a place to
// live. Alias expansion is capped, so a small file cannot make Parse do
// unbounded work.
func Parse(filename string, data []byte) (*App, error) {
	root, err := parseYAML(filename, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(filename, root)
	app := d.app(root)
	d.check(app)
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, d.errs
	}
	return app.WithDefaults(), nil
}

// parseYAML returns the root node of the single document in data.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	if e := checkCharacters(file, data); e != nil {
		return nil, ErrorList{e}
	}
	empty := ErrorList{{File: file, Line: 1, Column: 1,
		Message: "the file is empty; start with the app's name, e.g. name: hello, and see docs/spec.md for the other fields"}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decodeNode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, empty
		}
		return nil, ErrorList{syntaxError(file, data, err)}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, empty
	}
	var next yaml.Node
	switch err := decodeNode(dec, &next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, ErrorList{syntaxError(file, data, err)}
	default:
		return nil, ErrorList{{File: file, Line: next.Line, Column: next.Column,
			Message: `found a second YAML document; slipway.yaml describes one app, so remove this "---" and what follows, or move it to its own file`}}
	}
	return doc.Content[0], nil
}

// decodeNode reads the next document. yaml.v3 reports problems as errors,
// but a panic inside a third-party parser must not take the caller down.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed (%v)", r)
		}
	}()
	return dec.Decode(n)
}

// checkCharacters finds what the YAML reader would reject with no position:
// bytes that are not UTF-8 and control characters.
func checkCharacters(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return &Error{File: file, Line: line, Column: col,
				Message: fmt.Sprintf("byte 0x%02x is not UTF-8; save the file as UTF-8", data[i])}
		case !yamlRune(r):
			return &Error{File: file, Line: line, Column: col,
				Message: fmt.Sprintf("control character %U is not allowed in YAML; delete it (write \\t, \\n or \\x07 escapes inside a double-quoted string instead)", r)}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// yamlRune reports whether YAML 1.2 allows r in a document.
func yamlRune(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
	case 0x20 <= r && r <= 0x7E:
	case 0xA0 <= r && r <= 0xD7FF, 0xE000 <= r && r <= 0xFFFD, 0x10000 <= r && r <= 0x10FFFF:
	default:
		return false
	}
	return true
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: did not find expected
// key") into an Error with a position and a hint.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	lines := strings.Split(string(data), "\n")
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name, _, _ = strings.Cut(name, "'")
		line, col := locate(data, "*"+name)
		return &Error{File: file, Line: line, Column: col, Message: fmt.Sprintf(
			"alias *%s refers to no anchor; define the anchor before it by writing &%s in front of the value to reuse", name, name)}
	}
	// yaml.v3 numbers lines from 0 for parser errors and leaves out line 0,
	// but numbers from 1 for scanner errors.
	if parserError(msg) || line == 0 {
		line++
	}
	line = min(max(line, 1), len(lines))
	text := lines[line-1]
	col := 1 + utf8.RuneCountInString(text) - utf8.RuneCountInString(strings.TrimLeft(text, " \t"))
	return &Error{File: file, Line: line, Column: col,
		Message: fmt.Sprintf("invalid YAML: %s; %s", msg, syntaxHint(msg, text))}
}

func parserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// syntaxHint says how to fix the usual causes of a YAML syntax error.
func syntaxHint(msg, line string) string {
	switch {
	case strings.Contains(msg, "tab") || strings.Contains(line[:len(line)-len(strings.TrimLeft(line, " \t"))], "\t"):
		return "indent with spaces; YAML does not allow tabs for indentation"
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		return `quote the value if it contains ": ", or fix the indentation`
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		return "quote the value; it starts with a character YAML reserves, such as @ or `"
	case strings.HasPrefix(msg, "found unexpected end of stream"):
		return "close the quoted string or bracket that starts here"
	case strings.HasPrefix(msg, "did not find expected ',' or ']'"):
		return "close the list with ] and separate its items with commas"
	case strings.HasPrefix(msg, "did not find expected ',' or '}'"):
		return "close the mapping with } and separate its entries with commas"
	case strings.HasPrefix(msg, "did not find expected key"), strings.HasPrefix(msg, "did not find expected '-' indicator"):
		return "check the indentation: entries of one mapping or list must start in the same column"
	}
	return "check the indentation and quoting on this line and the ones around it"
}

// locate returns the 1-based line and column of the first occurrence of s
// in data, or 1:1 when it does not occur.
func locate(data []byte, s string) (line, col int) {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 1, 1
	}
	before := data[:i]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return line, col
}
