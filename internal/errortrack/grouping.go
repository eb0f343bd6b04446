package errortrack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// GroupingVersion is the grouping new projects use. A project keeps the
// version it started with, so an upgrade never re-splits its issues.
const GroupingVersion = "slipway:1"

// unlabeled is the title, and the message, of an event with neither.
const unlabeled = "<unlabeled event>"

const (
	// maxTitle is how many characters of a message or value a title keeps.
	maxTitle = 200
	// maxGroupedText is how much of a message or exception value is
	// normalised and hashed; the rest never splits a group.
	maxGroupedText = 8 << 10
)

// grouper computes one version's Group for an event, all but Hash and
// Version, which Grouping fills in.
type grouper func(ev *Event) Group

// groupers lists every grouping version. A version, once released, must
// never change what it computes: a change is a new version.
func groupers() map[string]grouper {
	return map[string]grouper{
		"slipway:1": groupV1,
	}
}

// Grouping decides which issue ev belongs to under the given grouping
// version, and how that issue is titled. It is a pure function of ev.
// An unknown version is an error naming the known ones.
//
// Version slipway:1 (Sentry's default grouping, simplified):
//
//   - A custom fingerprint replaces the default components, except where
//     an element is "{{ default }}": the default components go there.
//     "{{ transaction }}", "{{ type }}" (or "{{ error.type }}"),
//     "{{ message }}" and "{{ value }}" (or "{{ error.value }}") stand for
//     those fields; any other element is used literally.
//   - By default each exception contributes its type and its frames:
//     only the in-app ones when any frame of that exception is explicitly
//     in-app, else all of them. A frame is its module (or the base name of
//     its filename, or of its abs_path) and its function; line numbers
//     never count, and a frame repeating the one before it (recursion)
//     counts once. For Go events, closure numbers (main.func3, the "2" of
//     Handle.func1.2) are dropped, so that adding a closure does not
//     re-split the issues of the ones after it.
//   - When no exception has frames, each contributes its type and its
//     normalised value (NormalizeMessage); without exceptions the event's
//     normalised message counts, or "<unlabeled event>" without one.
//   - Exceptions the SDK made up (mechanism.synthetic, as @sentry/node's
//     captureMessage sends) are left out when the event has a message,
//     which then counts instead.
//
// The hash is the hex SHA-256 of the version and the components, joined
// with NUL bytes. The title is "Type: value" of the raised (last)
// exception, the value's first line cut to 200 bytes (at a character
// boundary), else the message's first line. The culprit is the raised exception's last in-app
// frame (the last frame when none is in-app) as "module in function", else
// the transaction.
func Grouping(ev *Event, version string) (Group, error) {
	if ev == nil {
		return Group{}, errors.New("grouping: no event")
	}
	all := groupers()
	group, ok := all[version]
	if !ok {
		known := slices.Sorted(maps.Keys(all))
		return Group{}, fmt.Errorf("unknown grouping version %q (known: %s)", version, strings.Join(known, ", "))
	}
	g := group(ev)
	for i, c := range g.Components {
		g.Components[i] = strings.ReplaceAll(c, "\x00", "\uFFFD")
	}
	h := sha256.New()
	h.Write([]byte(version))
	for _, c := range g.Components {
		h.Write([]byte{0})
		h.Write([]byte(c))
	}
	g.Hash = hex.EncodeToString(h.Sum(nil))
	g.Version = version
	return g, nil
}

// groupV1 is grouping version slipway:1, described at Grouping.
func groupV1(ev *Event) Group {
	excs := groupedExceptions(ev)
	comps := defaultComponentsV1(ev, excs)
	if len(ev.Fingerprint) > 0 {
		comps = fingerprintComponentsV1(ev, excs, comps)
	}
	g := Group{
		Title:      titleV1(ev, excs),
		Culprit:    culpritV1(ev),
		Components: comps,
	}
	if len(excs) > 0 {
		g.Type = excs[len(excs)-1].Type
	}
	return g
}

// groupedExceptions are the exceptions grouping looks at: all of them,
// less the synthetic ones when the event has a message to go by.
func groupedExceptions(ev *Event) []Exception {
	if ev.Message == "" {
		return ev.Exceptions
	}
	var out []Exception
	for _, ex := range ev.Exceptions {
		if !ex.Synthetic {
			out = append(out, ex)
		}
	}
	return out
}

// defaultComponentsV1 are the components without a custom fingerprint.
func defaultComponentsV1(ev *Event, excs []Exception) []string {
	var comps []string
	withFrames := false
	for _, ex := range excs {
		comps = append(comps, "type:"+ex.Type)
		fcomps := frameComponentsV1(ev.Platform, ex.Frames)
		withFrames = withFrames || len(fcomps) > 0
		comps = append(comps, fcomps...)
	}
	if withFrames {
		return comps
	}
	comps = comps[:0]
	for _, ex := range excs {
		if ex.Type != "" || ex.Value != "" {
			comps = append(comps, "type:"+ex.Type, "value:"+NormalizeMessage(clipText(ex.Value, maxGroupedText)))
		}
	}
	if len(comps) > 0 {
		return comps
	}
	msg := NormalizeMessage(clipText(ev.Message, maxGroupedText))
	if msg == "" {
		msg = unlabeled
	}
	return []string{"message:" + msg}
}

// frameComponentsV1 turns one exception's frames into components: the
// in-app ones when there are any, recursion collapsed, line numbers left
// out.
func frameComponentsV1(platform string, frames []Frame) []string {
	inAppOnly := slices.ContainsFunc(frames, isInApp)
	var out []string
	for _, f := range frames {
		if inAppOnly && !isInApp(f) {
			continue
		}
		where := f.Module
		if where == "" {
			where = baseName(f.Filename)
		}
		if where == "" {
			where = baseName(f.AbsPath)
		}
		fn := f.Function
		if platform == "go" {
			fn = goFunctionName(fn)
		}
		if where == "" && fn == "" {
			continue
		}
		c := "frame:" + where + " " + fn
		if len(out) > 0 && out[len(out)-1] == c {
			continue
		}
		out = append(out, c)
	}
	return out
}

func isInApp(f Frame) bool { return f.InApp != nil && *f.InApp }

// baseName is the last element of a path or URL, without its query or
// fragment, for / and \ separated paths alike.
func baseName(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// goFunctionName drops the numbers the Go compiler gives closures:
// "main.func3" is "main.func", "Handle.func1.2" is "Handle.func.func".
func goFunctionName(fn string) string {
	if !strings.Contains(fn, "func") && strings.IndexFunc(fn, isDigit) < 0 {
		return fn
	}
	parts := strings.Split(fn, ".")
	for i, p := range parts {
		if isDigits(p) || (len(p) > 4 && strings.HasPrefix(p, "func") && isDigits(p[4:])) {
			parts[i] = "func"
		}
	}
	return strings.Join(parts, ".")
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// fingerprintComponentsV1 expands a custom fingerprint, def being the
// default components that "{{ default }}" stands for.
func fingerprintComponentsV1(ev *Event, excs []Exception, def []string) []string {
	var raised Exception
	if len(excs) > 0 {
		raised = excs[len(excs)-1]
	}
	var out []string
	for _, fp := range ev.Fingerprint {
		switch fingerprintVariable(fp) {
		case "default":
			out = append(out, def...)
		case "transaction":
			out = append(out, "fingerprint:"+ev.Transaction)
		case "type", "error.type":
			out = append(out, "fingerprint:"+raised.Type)
		case "message":
			msg := ev.Message
			if msg == "" {
				msg = raised.Value
			}
			out = append(out, "fingerprint:"+msg)
		case "value", "error.value":
			out = append(out, "fingerprint:"+raised.Value)
		default:
			out = append(out, "fingerprint:"+fp)
		}
	}
	return out
}

// fingerprintVariable returns the name in a "{{ name }}" element,
// lowercased, or "" for a literal element.
func fingerprintVariable(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 4 || !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(s[2 : len(s)-2]))
}

// titleV1 is "Type: value" of the raised exception, else the message.
func titleV1(ev *Event, excs []Exception) string {
	if len(excs) > 0 {
		ex := excs[len(excs)-1]
		v := firstLine(ex.Value)
		switch {
		case ex.Type != "" && v != "":
			return clipText(ex.Type+": "+v, maxTitle)
		case ex.Type != "":
			return clipText(ex.Type, maxTitle)
		case v != "":
			return clipText(v, maxTitle)
		}
	}
	if m := firstLine(ev.Message); m != "" {
		return clipText(m, maxTitle)
	}
	return unlabeled
}

// culpritV1 is where the raised exception happened, from the last
// exception with a usable frame (synthetic ones too: their stack is
// real), else the transaction.
func culpritV1(ev *Event) string {
	for i := len(ev.Exceptions) - 1; i >= 0; i-- {
		fs := ev.Exceptions[i].Frames
		inAppOnly := slices.ContainsFunc(fs, isInApp)
		for j := len(fs) - 1; j >= 0; j-- {
			f := fs[j]
			if inAppOnly && !isInApp(f) {
				continue
			}
			if loc := frameLocation(f); loc != "" {
				return loc
			}
		}
	}
	return ev.Transaction
}

// frameLocation shows a frame as "module in function".
func frameLocation(f Frame) string {
	where := f.Module
	if where == "" {
		where = f.Filename
	}
	if where == "" {
		where = f.AbsPath
	}
	switch {
	case where != "" && f.Function != "":
		return where + " in " + f.Function
	case where != "":
		return where
	default:
		return f.Function
	}
}

// firstLine is s's first non-blank line, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

// clipText cuts s to at most n bytes at a character boundary, marking the
// cut with "…".
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
