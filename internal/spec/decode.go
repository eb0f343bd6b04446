package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// aliasAllowance is how many nodes beyond those written in the file the
// decoder visits through aliases and merge keys before it gives up. A real
// slipway.yaml needs a few hundred; an alias bomb needs billions.
const aliasAllowance = 100_000

// maxMergeDepth bounds chains of merge keys (a mapping merging one that
// merges another ...), which would otherwise recurse once per link.
const maxMergeDepth = 32

// position is a 1-based line and column.
type position struct{ line, column int }

func positionOf(n *yaml.Node) position { return position{n.Line, n.Column} }

// decoder turns the YAML tree into an App. It records every problem it meets
// and the position of every field, so that the validation that follows can
// point at the right line.
type decoder struct {
	file string
	errs ErrorList
	root position

	keyPos map[string]position // where each field's key is written
	valPos map[string]position // where each field's value is written
	set    map[string]bool     // fields written with a non-null value
	bad    map[string]bool     // fields whose value could not be decoded
	typos  map[string]bool     // fields written under a misspelled key

	envOrder []string // environment names in the order written

	budget  int                 // node visits left before alias expansion is cut off
	merging map[*yaml.Node]bool // mappings whose entries are being collected
}

func newDecoder(file string, root *yaml.Node) *decoder {
	return &decoder{
		file:    file,
		root:    positionOf(root),
		keyPos:  map[string]position{},
		valPos:  map[string]position{},
		set:     map[string]bool{},
		bad:     map[string]bool{},
		typos:   map[string]bool{},
		budget:  countNodes(root, 0) + aliasAllowance,
		merging: map[*yaml.Node]bool{},
	}
}

// countNodes counts the nodes written in the tree, without following aliases.
func countNodes(n *yaml.Node, depth int) int {
	count := 1
	if depth < 1000 {
		for _, c := range n.Content {
			count += countNodes(c, depth+1)
		}
	}
	return count
}

// check validates the decoded app and attaches positions to the problems.
// Problems at or under a field that failed to decode are dropped: the
// decode error already covers them. So are complaints that a field is
// missing when it was written under a misspelled key: the unknown-field
// error already suggests the right name.
func (d *decoder) check(app *App) {
	if d.budget <= 0 {
		return
	}
	for _, p := range validate(app, d.set, d.envOrder) {
		if d.underBad(p.path) || slices.ContainsFunc(p.missing, func(f string) bool { return d.typos[f] }) {
			continue
		}
		pos := d.position(p.path, p.atKey)
		d.errs = append(d.errs, &Error{File: d.file, Line: pos.line, Column: pos.column, Path: p.path, Message: p.msg})
	}
}

func (d *decoder) underBad(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// position is where a problem with path is best shown: its value, else its
// key, else the key of the nearest field around it (for a missing field).
func (d *decoder) position(path string, atKey bool) position {
	if p, ok := d.valPos[path]; ok && !atKey {
		return p
	}
	for {
		if p, ok := d.keyPos[path]; ok {
			return p
		}
		if path == "" {
			return d.root
		}
		path = parentPath(path)
	}
}

// parentPath strips the last element of path: a field (.name) or a list
// index ([2]).
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i > 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (d *decoder) errorAt(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf(format, args...)})
}

// fail reports that the value at path could not be decoded.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errorAt(n, path, format, args...)
	d.bad[path] = true
}

// resolve follows an alias to the node it names and charges the visit to
// the budget. It returns nil once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if d.budget <= 0 {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.errorAt(n, "", "anchors and aliases expand to more than %d values, far more than an app spec needs; write the values out instead of nesting aliases", aliasAllowance)
		return nil
	}
	for range 10 {
		if n.Kind != yaml.AliasNode {
			return n
		}
		if n.Alias == nil {
			break
		}
		n = n.Alias
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names the kind of n for "expected X, found Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", clip(n.Value))
}

// literal shows a scalar as written: strings quoted, numbers bare.
func literal(n *yaml.Node) string {
	if n.Tag == "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return fmt.Sprintf("%q", clip(n.Value))
	}
	return clip(n.Value)
}

// clip shortens a value quoted in a message to its first 40 characters.
func clip(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}

// formatNumber writes f the shortest way that reads back as f, without an
// exponent for everyday magnitudes: 0.05, 1.5, 1000000.
func formatNumber(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// entry is one key/value pair of a mapping.
type entry struct {
	key     string
	keyNode *yaml.Node // where the key is written
	value   *yaml.Node // not yet resolved
}

// entries lists the pairs of mapping n in the order written, followed by
// those merged in with << that n does not set itself. It reports keys that
// are not plain values and keys written twice.
func (d *decoder) entries(path string, n *yaml.Node) []entry {
	if d.merging[n] {
		d.errorAt(n, path, "this mapping merges itself in with <<; remove the circular merge")
		return nil
	}
	if len(d.merging) >= maxMergeDepth {
		d.errorAt(n, path, "merges (<<) nest more than %d deep; merge fewer levels of anchors", maxMergeDepth)
		return nil
	}
	d.merging[n] = true
	defer delete(d.merging, n)

	var out []entry
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		written := n.Content[i]
		k := d.resolve(written)
		if k == nil {
			return out
		}
		switch {
		case k.Kind == yaml.ScalarNode && k.Tag == "!!merge":
			merges = append(merges, n.Content[i+1])
		case k.Kind != yaml.ScalarNode:
			d.errorAt(written, path, "a key must be a plain name, found %s; write name: value", describe(k))
		case seen[k.Value] != nil:
			d.errorAt(written, joinPath(path, k.Value), "duplicate key, already set on line %d; remove one of the two", seen[k.Value].Line)
		default:
			seen[k.Value] = written
			out = append(out, entry{key: k.Value, keyNode: written, value: n.Content[i+1]})
		}
	}
	for _, m := range merges {
		for _, e := range d.merged(path, m) {
			if seen[e.key] == nil {
				seen[e.key] = e.keyNode
				out = append(out, e)
			}
		}
	}
	return out
}

// merged returns the entries a merge key (<<) brings in: those of one
// mapping or of a list of mappings, earlier ones first.
func (d *decoder) merged(path string, m *yaml.Node) []entry {
	r := d.resolve(m)
	if r == nil {
		return nil
	}
	sources := []*yaml.Node{r}
	if r.Kind == yaml.SequenceNode {
		sources = nil
		for _, item := range r.Content {
			if s := d.resolve(item); s != nil {
				sources = append(sources, s)
			}
		}
	}
	var out []entry
	for _, s := range sources {
		if s.Kind != yaml.MappingNode {
			d.errorAt(m, path, "<< merges mappings, found %s; write <<: *name where &name marks a mapping", describe(s))
			continue
		}
		out = append(out, d.entries(path, s)...)
	}
	return out
}

// field is one known key of a mapping and how to decode its value.
type field struct {
	name   string
	decode func(path string, value *yaml.Node)
}

// object decodes mapping n field by field and reports unknown keys. A null
// n (a key written with no value) leaves every field unset.
func (d *decoder) object(path string, n *yaml.Node, fields []field) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if n.Kind != yaml.MappingNode {
		d.set[path] = true
		if path == "" {
			d.fail(n, path, "expected a mapping of fields (%s), found %s; see docs/spec.md for the format", strings.Join(names, ", "), describe(n))
		} else {
			d.fail(n, path, "expected a mapping, found %s; write its fields (%s) on indented lines below %q",
				describe(n), strings.Join(names, ", "), path[strings.LastIndexByte(path, '.')+1:]+":")
		}
		return
	}
	d.valPos[path] = positionOf(n)
	d.set[path] = true
fields:
	for _, e := range d.entries(path, n) {
		p := joinPath(path, e.key)
		for _, f := range fields {
			if f.name == e.key {
				d.keyPos[p] = positionOf(e.keyNode)
				f.decode(p, e.value)
				continue fields
			}
		}
		if path == "" && strings.HasPrefix(e.key, "x-") {
			continue
		}
		msg := "unknown field"
		switch s := closest(e.key, names); {
		case s != "":
			msg += fmt.Sprintf("; did you mean %q?", s)
			d.typos[joinPath(path, s)] = true
		case path == "":
			msg += "; valid fields here are " + strings.Join(names, ", ") + ", and x-anything for your own anchors"
		default:
			msg += "; valid fields here are " + strings.Join(names, ", ")
		}
		d.errorAt(e.keyNode, p, "%s", msg)
	}
}

// list decodes the list n one item at a time, calling item with the path of
// each (path[0], path[1], ...). A null n leaves the field unset; anything
// else that is not a list is reported, followed by hint.
func (d *decoder) list(path string, n *yaml.Node, hint string, item func(path string, n *yaml.Node)) {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return
	}
	if r.Kind != yaml.SequenceNode {
		d.set[path] = true
		d.fail(r, path, "expected a list, found %s; %s", describe(r), hint)
		return
	}
	d.valPos[path] = positionOf(r)
	d.set[path] = true
	for i, c := range r.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.keyPos[p] = positionOf(c)
		item(p, c)
	}
}

// item decodes one list entry that is a mapping of fields, reporting any
// other kind of value with an example of the entry's form.
func (d *decoder) item(path string, n *yaml.Node, example string, fields []field) {
	r := d.resolve(n)
	if r == nil {
		return
	}
	if r.Kind != yaml.MappingNode && !isNull(r) {
		d.fail(r, path, "expected a mapping, found %s; write each entry as fields below its dash, e.g. %s", describe(r), example)
		return
	}
	d.object(path, r, fields)
}

// scalar resolves n and checks that it is a single value. It returns nil
// for a null value (the field stays unset) and after reporting a mapping or
// list.
func (d *decoder) scalar(path string, n *yaml.Node, want, hint string) *yaml.Node {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	if r.Kind != yaml.ScalarNode {
		d.set[path] = true
		d.fail(r, path, "expected %s, found %s; %s", want, describe(r), hint)
		return nil
	}
	d.valPos[path] = positionOf(r)
	d.set[path] = true
	return r
}

// str decodes a string field. Any single value is taken as written, so
// name: 2048 is the string "2048".
func (d *decoder) str(path string, n *yaml.Node) string {
	r := d.scalar(path, n, "a string", `write a single value, quoted if it starts with "[", "{" or "- "`)
	if r == nil {
		return ""
	}
	return r.Value
}

// integer decodes a whole number, written in decimal: YAML's other forms
// (0x10, 0o17, 1_000, and 010 as octal) are more surprise than help here.
func (d *decoder) integer(path string, n *yaml.Node) int {
	r := d.scalar(path, n, "a whole number", "write it like 2")
	if r == nil {
		return 0
	}
	v, err := strconv.Atoi(r.Value)
	switch {
	case err == nil && r.Tag == "!!int":
		return v
	case err == nil && r.Tag == "!!str":
		d.fail(r, path, "%s is a string; write %s without quotes", literal(r), r.Value)
	case errors.Is(err, strconv.ErrRange):
		d.fail(r, path, "%s is too large; write a small whole number like 2", r.Value)
	case r.Tag == "!!int":
		msg := "write it in decimal digits, like 2"
		var yamlValue int64
		if r.Decode(&yamlValue) == nil {
			msg = fmt.Sprintf("write %d", yamlValue)
		}
		d.fail(r, path, "%s is not a plain decimal number; %s", r.Value, msg)
	default:
		d.fail(r, path, "%s is not a whole number; write it like 2", literal(r))
	}
	return 0
}

// number decodes a decimal number such as 2, 0.05 or 99.9 and reports
// whether the field holds one. fix, when not nil, turns a value that is not
// a number into advice ("write 0.05"), or returns "" when it has none.
func (d *decoder) number(path string, n *yaml.Node, fix func(string) string) (float64, bool) {
	r := d.scalar(path, n, "a number", "write it like 0.5")
	if r == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(r.Value, 64)
	finite := err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
	switch {
	case finite && (r.Tag == "!!int" || r.Tag == "!!float"):
		return v, true
	case finite && r.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		d.fail(r, path, "%s is a string; write %s without quotes", literal(r), r.Value)
	case errors.Is(err, strconv.ErrRange):
		d.fail(r, path, "%s is too large; write a number like 0.5", clip(r.Value))
	case r.Tag == "!!float":
		d.fail(r, path, "%s is not a finite number; write a number like 0.5", r.Value)
	case r.Tag == "!!int":
		msg := "write it in decimal digits, like 2"
		var yamlValue int64
		if r.Decode(&yamlValue) == nil {
			msg = fmt.Sprintf("write %d", yamlValue)
		}
		d.fail(r, path, "%s is not a plain decimal number; %s", r.Value, msg)
	default:
		advice := "write it like 0.5"
		if fix != nil {
			if a := fix(r.Value); a != "" {
				advice = a
			}
		}
		d.fail(r, path, "%s is not a number; %s", literal(r), advice)
	}
	return 0, false
}

// boolean decodes true or false. YAML 1.1's other spellings (yes, on) are
// strings to yaml.v3, so they are reported rather than guessed at.
func (d *decoder) boolean(path string, n *yaml.Node) bool {
	r := d.scalar(path, n, "true or false", "write true or false")
	if r == nil {
		return false
	}
	quoted := r.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	v, err := strconv.ParseBool(r.Value)
	switch lower := strings.ToLower(r.Value); {
	case r.Tag == "!!bool" && err == nil:
		return v
	case r.Tag == "!!bool":
		// yaml.v3 reads True and TRUE as booleans too.
		return lower == "true"
	case quoted && (lower == "true" || lower == "false"):
		d.fail(r, path, "%s is a string; write %s without quotes", literal(r), lower)
	case lower == "yes" || lower == "on" || lower == "y":
		d.fail(r, path, "%s is not true or false; write true", literal(r))
	case lower == "no" || lower == "off" || lower == "n":
		d.fail(r, path, "%s is not true or false; write false", literal(r))
	default:
		d.fail(r, path, "%s is not true or false; write true or false", literal(r))
	}
	return false
}

// duration decodes a Go duration string such as "500ms".
func (d *decoder) duration(path string, n *yaml.Node) Duration {
	r := d.scalar(path, n, "a duration", `write it like "500ms" or "2s"`)
	if r == nil {
		return 0
	}
	v, err := time.ParseDuration(r.Value)
	if err == nil {
		return Duration(v)
	}
	if r.Tag == "!!int" || r.Tag == "!!float" {
		d.fail(r, path, "%s has no unit; write it like \"%ss\" or \"%sms\"", r.Value, r.Value, r.Value)
	} else {
		d.fail(r, path, `%s is not a duration; write it like "500ms" or "2s"`, literal(r))
	}
	return 0
}

// vars decodes run.env, an environment's config or a step's env: NAME:
// value pairs whose values are taken as written (DEBUG: true is the string
// "true").
func (d *decoder) vars(path string, n *yaml.Node) map[string]string {
	return d.pairs(path, n, pairForm{
		key: "NAME", value: "value", what: "variable",
		noValue: func(key string) string { return fmt.Sprintf("write %s: \"\" for an empty value", key) },
	})
}

// pairForm describes the entries of a mapping of names to values for
// messages: each is key: value, and is called a what. noValue advises on
// an entry written without a value.
type pairForm struct {
	key, value, what string
	noValue          func(key string) string
}

// pairs decodes a mapping of names to single values, taken as written.
func (d *decoder) pairs(path string, n *yaml.Node, form pairForm) map[string]string {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	switch r.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		d.fail(r, path, "expected %s: %s lines, found a list; write each %s as %s: %s, not - %s=%s",
			form.key, form.value, form.what, form.key, form.value, form.key, form.value)
		return nil
	default:
		d.fail(r, path, "expected %s: %s lines, found %s; write each %s as %s: %s on an indented line",
			form.key, form.value, describe(r), form.what, form.key, form.value)
		return nil
	}
	d.valPos[path] = positionOf(r)
	var vars map[string]string
	for _, e := range d.entries(path, r) {
		p := joinPath(path, e.key)
		d.keyPos[p] = positionOf(e.keyNode)
		v := d.resolve(e.value)
		switch {
		case v == nil:
			return vars
		case isNull(v):
			d.fail(e.keyNode, p, "has no value; %s", form.noValue(e.key))
		case v.Kind != yaml.ScalarNode:
			d.fail(v, p, `expected a value, found %s; quote it if it starts with "[", "{" or "- "`, describe(v))
		default:
			if vars == nil {
				vars = map[string]string{}
			}
			vars[e.key] = v.Value
			d.valPos[p] = positionOf(v)
		}
	}
	return vars
}
