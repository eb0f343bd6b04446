package spec

import (
	"fmt"
	"strings"
)

// Error is one problem found in a spec.
//
// Line and Column are 1-based. Both are zero when the position is unknown,
// as for an App checked with Validate rather than parsed from YAML.
type Error struct {
	// File is the file name given to Parse; empty from Validate.
	File string
	// Line and Column locate the problem in File.
	Line, Column int
	// Path is the dotted path of the field at fault, such as
	// environments.staging.replicas; empty when the problem concerns the
	// whole file.
	Path string
	// Message says what is wrong and how to fix it.
	Message string
}

// Error renders the problem as "file:line:column: path: message", leaving
// out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in a spec, in file order (Parse) or path
// order (Validate). Parse and Validate return it as their error when there
// is at least one problem; use errors.As to reach the entries.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the entries to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, or nil when l is empty, so that an empty list
// never becomes a non-nil error.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
