package errortrack

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/grouping.golden")

// TestGroupingReal groups what the real SDKs sent: which events share an
// issue and which do not, and how each issue is shown.
func TestGroupingReal(t *testing.T) {
	tests := []struct {
		file    string
		group   string // events with the same label must share a hash, others must not
		title   string
		culprit string
		typ     string
	}{
		{"go/validation_line_a.envelope", "go-validation",
			"*shop.ValidationError: invalid field quantity", "capture/shop in HandleOrder", "*shop.ValidationError"},
		// Captured from another line of the same function: same issue.
		{"go/validation_line_b.envelope", "go-validation",
			"*shop.ValidationError: invalid field price", "capture/shop in HandleOrder", "*shop.ValidationError"},
		// Same line as validation_line_a, another error type: another issue.
		{"go/notfound.envelope", "go-notfound",
			"*shop.NotFoundError: order 4711 not found", "capture/shop in HandleOrder", "*shop.NotFoundError"},
		// The wrapper is the raised exception; its cause is listed first.
		{"go/wrapped.envelope", "go-wrapped",
			"*fmt.wrapError: process order: order 99 not found", "capture/shop in HandleOrder", "*fmt.wrapError"},
		{"go/panic.envelope", "go-panic",
			"runtime.plainError: assignment to entry in nil map", "capture/shop in Checkout", "runtime.plainError"},
		// The same panic reached through another function is another stack.
		{"go/panic_sentry_recover.envelope", "go-panic-sentry-recover",
			"runtime.plainError: assignment to entry in nil map", "capture/shop in Checkout", "runtime.plainError"},
		// Messages differing in numbers, UUIDs and durations: same issue.
		{"go/message_1.envelope", "go-message",
			"payment 1234 for user 7f3c9a1e-2b4d-4c8e-9f10-aabbccddeeff failed after 3.5s", "", ""},
		{"go/message_2.envelope", "go-message",
			"payment 98 for user 0b1c2d3e-4f50-4617-8899-aabbccddee00 failed after 12.25s", "", ""},
		// A custom fingerprint splits it from the same error without one.
		{"go/fingerprint.envelope", "go-fingerprint",
			"*shop.ValidationError: invalid field quantity", "capture/shop in HandleOrder", "*shop.ValidationError"},
		{"go/fingerprint_default.envelope", "go-fingerprint-default",
			"*shop.NotFoundError: order 4711 not found", "capture/shop in HandleOrder", "*shop.NotFoundError"},

		// Thrown from the same code, reached from two lines of the caller.
		{"node/typeerror.envelope", "node-typeerror",
			"TypeError: Cannot read properties of undefined (reading 'items')", "app in parseOrder", "TypeError"},
		{"node/typeerror_again.envelope", "node-typeerror",
			"TypeError: Cannot read properties of null (reading 'items')", "app in parseOrder", "TypeError"},
		// captureMessage: a synthetic exception, grouped by the message.
		{"node/message.envelope", "node-message",
			"cache miss for key user:1234 after 250ms", "app in Server.?", ""},
		{"node/message_warning.envelope", "node-message",
			"cache miss for key user:987 after 31ms", "app in Server.?", ""},
		{"node/crash_event.envelope.gz", "node-crash",
			"PaymentError: amount 500 over limit", "crash in charge", "PaymentError"},
	}
	hashes := map[string]string{} // hash -> label
	labels := map[string]string{} // label -> hash
	var golden strings.Builder
	for _, tt := range tests {
		ev := readEvent(t, tt.file)
		g, err := Grouping(ev, GroupingVersion)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		fmt.Fprintf(&golden, "%s %s\n", g.Hash, tt.file)
		if g.Title != tt.title || g.Culprit != tt.culprit || g.Type != tt.typ || g.Version != GroupingVersion {
			t.Errorf("%s: title %q culprit %q type %q version %q\n want title %q culprit %q type %q",
				tt.file, g.Title, g.Culprit, g.Type, g.Version, tt.title, tt.culprit, tt.typ)
		}
		if h, ok := labels[tt.group]; ok && h != g.Hash {
			t.Errorf("%s is not grouped with the other %s events; components %q", tt.file, tt.group, g.Components)
		}
		if l, ok := hashes[g.Hash]; ok && l != tt.group {
			t.Errorf("%s (%s) is grouped with %s; components %q", tt.file, tt.group, l, g.Components)
		}
		labels[tt.group], hashes[g.Hash] = g.Hash, tt.group
	}

	// Hashes of a released version must never change: they are issues'
	// identities. Run with -update only when adding payloads.
	path := filepath.Join("testdata", "grouping.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		t.Errorf("grouping hashes changed from %s:\n%s\nwant:\n%s", path, golden.String(), want)
	}
}

// TestGroupingComponentsReal pins what is hashed for a few real events.
func TestGroupingComponentsReal(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"go/validation_line_a.envelope", []string{
			"type:*shop.ValidationError", "frame:main main", "frame:main scenario", "frame:capture/shop HandleOrder"}},
		{"go/wrapped.envelope", []string{
			"type:*shop.NotFoundError", "type:*fmt.wrapError", "frame:main main", "frame:main scenario", "frame:capture/shop HandleOrder"}},
		{"go/fingerprint.envelope", []string{"fingerprint:payment-gateway", "fingerprint:timeout"}},
		{"go/fingerprint_default.envelope", []string{
			"type:*shop.NotFoundError", "frame:main main", "frame:main scenario", "frame:main func", "frame:capture/shop HandleOrder", "fingerprint:eu-west"}},
		{"go/message_1.envelope", []string{"message:payment <int> for user <uuid> failed after <float>s"}},
		// Only in-app frames: node's own (node:internal/...) are left out.
		{"node/typeerror.envelope", []string{"type:TypeError", "frame:app Server.?", "frame:app handle", "frame:app parseOrder"}},
		{"node/message.envelope", []string{"message:cache miss for key user:<int> after <int>ms"}},
	}
	for _, tt := range tests {
		g, err := Grouping(readEvent(t, tt.file), GroupingVersion)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g.Components, tt.want) {
			t.Errorf("%s: components\n %q\nwant\n %q", tt.file, g.Components, tt.want)
		}
	}
}

func TestGrouping(t *testing.T) {
	tr, fa := true, false
	frame := func(module, fn string, line int, inApp *bool) Frame {
		return Frame{Module: module, Function: fn, Lineno: line, InApp: inApp}
	}
	exc := func(typ, value string, frames ...Frame) Exception {
		return Exception{Type: typ, Value: value, Frames: frames}
	}
	tests := []struct {
		name  string
		ev    Event
		comps []string
	}{
		{
			name:  "only in-app frames when there are any",
			ev:    Event{Exceptions: []Exception{exc("E", "v", frame("lib", "a", 1, &fa), frame("app", "b", 2, &tr), frame("lib", "c", 3, nil), frame("app", "d", 4, &tr))}},
			comps: []string{"type:E", "frame:app b", "frame:app d"},
		},
		{
			name:  "all frames when none is in-app",
			ev:    Event{Exceptions: []Exception{exc("E", "v", frame("lib", "a", 1, &fa), frame("lib", "c", 3, nil))}},
			comps: []string{"type:E", "frame:lib a", "frame:lib c"},
		},
		{
			name: "in-app decided per exception",
			ev: Event{Exceptions: []Exception{
				exc("Cause", "v", frame("lib", "a", 1, nil)),
				exc("E", "v", frame("lib", "x", 1, nil), frame("app", "y", 1, &tr)),
			}},
			comps: []string{"type:Cause", "frame:lib a", "type:E", "frame:app y"},
		},
		{
			name:  "recursion collapsed, line numbers ignored",
			ev:    Event{Exceptions: []Exception{exc("E", "v", frame("app", "walk", 1, nil), frame("app", "walk", 2, nil), frame("app", "walk", 3, nil), frame("app", "leaf", 9, nil), frame("app", "walk", 4, nil))}},
			comps: []string{"type:E", "frame:app walk", "frame:app leaf", "frame:app walk"},
		},
		{
			name: "file base names when there is no module",
			ev: Event{Exceptions: []Exception{exc("E", "v",
				Frame{Filename: "src/app/views.py", Function: "index"},
				Frame{AbsPath: `C:\app\main.js?v=3`, Function: "run"},
				Frame{Filename: "https://cdn.example.com/js/app.js#x"},
				Frame{Lineno: 5},
			)}},
			comps: []string{"type:E", "frame:views.py index", "frame:main.js run", "frame:app.js "},
		},
		{
			name:  "Go closure numbers dropped",
			ev:    Event{Platform: "go", Exceptions: []Exception{exc("E", "v", frame("main", "main.func3", 1, nil), frame("main", "1", 1, nil), frame("app", "Serve.func12.2", 1, nil), frame("app", "(*S).run2", 1, nil), frame("app", "glob..func1", 1, nil))}},
			comps: []string{"type:E", "frame:main main.func", "frame:main func", "frame:app Serve.func.func", "frame:app (*S).run2", "frame:app glob..func"},
		},
		{
			name:  "closure numbers kept on other platforms",
			ev:    Event{Platform: "python", Exceptions: []Exception{exc("E", "v", frame("m", "func3", 1, nil))}},
			comps: []string{"type:E", "frame:m func3"},
		},
		{
			name:  "no frames: types and normalised values",
			ev:    Event{Exceptions: []Exception{exc("Cause", "id 42"), exc("E", "failed at 10.0.0.1"), exc("", "")}},
			comps: []string{"type:Cause", "value:id <int>", "type:E", "value:failed at <ip>"},
		},
		{
			name:  "message",
			ev:    Event{Message: "user 42 not found"},
			comps: []string{"message:user <int> not found"},
		},
		{
			name:  "unlabeled",
			ev:    Event{Exceptions: []Exception{{}}},
			comps: []string{"message:<unlabeled event>"},
		},
		{
			name:  "synthetic exception left out with a message",
			ev:    Event{Message: "m 1", Exceptions: []Exception{{Value: "m 1", Synthetic: true, Frames: []Frame{frame("app", "f", 1, &tr)}}}},
			comps: []string{"message:m <int>"},
		},
		{
			name:  "synthetic exception kept without a message",
			ev:    Event{Exceptions: []Exception{{Type: "SIGSEGV", Synthetic: true, Frames: []Frame{frame("app", "f", 1, &tr)}}}},
			comps: []string{"type:SIGSEGV", "frame:app f"},
		},
		{
			name:  "custom fingerprint replaces the default",
			ev:    Event{Message: "m", Fingerprint: []string{"db", "timeout"}},
			comps: []string{"fingerprint:db", "fingerprint:timeout"},
		},
		{
			name:  "default inserted in place",
			ev:    Event{Message: "m 5", Fingerprint: []string{"a", "{{default}}", "b", "{{ DEFAULT }}"}},
			comps: []string{"fingerprint:a", "message:m <int>", "fingerprint:b", "message:m <int>"},
		},
		{
			name: "fingerprint variables",
			ev: Event{Transaction: "/orders", Message: "boom 5", Exceptions: []Exception{exc("E", "val")},
				Fingerprint: []string{"{{ transaction }}", "{{ type }}", "{{ error.type }}", "{{ message }}", "{{ value }}", "{{ error.value }}", "{{ unknown }}", "{{", "{{}}"}},
			comps: []string{"fingerprint:/orders", "fingerprint:E", "fingerprint:E", "fingerprint:boom 5", "fingerprint:val", "fingerprint:val", "fingerprint:{{ unknown }}", "fingerprint:{{", "fingerprint:{{}}"},
		},
		{
			name:  "message variable falls back to the value",
			ev:    Event{Exceptions: []Exception{exc("E", "val")}, Fingerprint: []string{"{{ message }}"}},
			comps: []string{"fingerprint:val"},
		},
		{
			name:  "NUL bytes cannot forge component boundaries",
			ev:    Event{Fingerprint: []string{"a\x00b"}},
			comps: []string{"fingerprint:a\uFFFDb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Grouping(&tt.ev, GroupingVersion)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.Components, tt.comps) {
				t.Errorf("components\n %q\nwant\n %q", g.Components, tt.comps)
			}
			if len(g.Hash) != 64 {
				t.Errorf("hash %q", g.Hash)
			}
		})
	}
}

func TestGroupingHashes(t *testing.T) {
	group := func(ev Event) string {
		g, err := Grouping(&ev, GroupingVersion)
		if err != nil {
			t.Fatal(err)
		}
		return g.Hash
	}
	a := group(Event{Fingerprint: []string{"a", "b"}})
	if a != group(Event{Fingerprint: []string{"a", "b"}}) {
		t.Error("the same event hashes differently")
	}
	if a == group(Event{Fingerprint: []string{"ab"}}) || a == group(Event{Fingerprint: []string{"b", "a"}}) {
		t.Error("different components hash the same")
	}
	// {{ default }} alone is the default grouping.
	if group(Event{Message: "x 1", Fingerprint: []string{"{{ default }}"}}) != group(Event{Message: "x 2"}) {
		t.Error(`["{{ default }}"] groups differently from no fingerprint`)
	}
	// The hash is sha256 of the version and the components, NUL-joined.
	sum := sha256.Sum256([]byte("slipway:1\x00fingerprint:a\x00fingerprint:b"))
	if want := hex.EncodeToString(sum[:]); a != want {
		t.Errorf("hash %s, want %s", a, want)
	}
}

func TestGroupingTitleCulprit(t *testing.T) {
	tr := true
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name           string
		ev             Event
		title, culprit string
	}{
		{"type and value", Event{Exceptions: []Exception{{Type: "A", Value: "first"}, {Type: "E", Value: "\n  line one \nline two"}}}, "E: line one", ""},
		{"type only", Event{Exceptions: []Exception{{Type: "E"}}}, "E", ""},
		{"value only", Event{Exceptions: []Exception{{Value: "v"}}}, "v", ""},
		{"empty exception falls back to the message", Event{Message: "m\nmore", Exceptions: []Exception{{}}}, "m", ""},
		{"message", Event{Message: "hello world", Transaction: "/t"}, "hello world", "/t"},
		{"nothing", Event{}, "<unlabeled event>", ""},
		{"long value cut at a character", Event{Exceptions: []Exception{{Type: "E", Value: long}}}, "E: " + strings.Repeat("é", 98) + "…", ""},
		{"culprit last in-app frame", Event{Exceptions: []Exception{{Type: "E", Frames: []Frame{
			{Module: "app", Function: "a", InApp: &tr}, {Module: "app", Function: "b", InApp: &tr}, {Module: "lib", Function: "c"}}}}}, "E", "app in b"},
		{"culprit last frame without in-app", Event{Exceptions: []Exception{{Type: "E", Frames: []Frame{
			{Module: "app", Function: "a"}, {Filename: "lib/x.py", Function: "c"}}}}}, "E", "lib/x.py in c"},
		{"culprit from an earlier exception", Event{Transaction: "/t", Exceptions: []Exception{{Type: "C", Frames: []Frame{{AbsPath: "/x.go"}}}, {Type: "E"}}}, "E", "/x.go"},
		{"culprit function only", Event{Exceptions: []Exception{{Type: "E", Frames: []Frame{{Function: "f"}}}}}, "E", "f"},
		{"culprit transaction", Event{Transaction: "GET /orders", Exceptions: []Exception{{Type: "E"}}}, "E", "GET /orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Grouping(&tt.ev, GroupingVersion)
			if err != nil {
				t.Fatal(err)
			}
			if g.Title != tt.title || g.Culprit != tt.culprit {
				t.Errorf("title %q culprit %q, want %q %q", g.Title, g.Culprit, tt.title, tt.culprit)
			}
		})
	}
}

func TestGroupingVersions(t *testing.T) {
	if _, err := Grouping(&Event{}, "sentry:2019"); err == nil || !strings.Contains(err.Error(), `unknown grouping version "sentry:2019" (known: slipway:1)`) {
		t.Errorf("err = %v", err)
	}
	if _, err := Grouping(nil, GroupingVersion); err == nil {
		t.Error("no error for a nil event")
	}
	for version := range groupers() {
		if _, err := Grouping(&Event{}, version); err != nil {
			t.Errorf("%s: %v", version, err)
		}
	}
}
