package errortrack

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseEnvelope(t *testing.T) {
	type item struct{ typ, ctype, payload string }
	tests := []struct {
		name   string
		in     string
		header EnvelopeHeader
		items  []item
	}{
		{
			name: "header only",
			in:   "{}",
		},
		{
			name: "header only with newline",
			in:   "{}\n",
		},
		{
			name:   "header fields",
			in:     `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://k@o.example/1","sent_at":"2020-02-07T14:16:00Z","sdk":{"name":"x"}}` + "\n",
			header: EnvelopeHeader{EventID: "9ec79c33ec9942ab8353589fcb2e04dc", DSN: "https://k@o.example/1", SentAt: "2020-02-07T14:16:00Z"},
		},
		{
			name: "header fields of odd types are ignored",
			in:   `{"event_id":42,"dsn":{"a":1}}`,
		},
		{
			name:  "item with length",
			in:    "{}\n{\"type\":\"event\",\"length\":7}\n{\"a\":1}\n",
			items: []item{{"event", "", `{"a":1}`}},
		},
		{
			name:  "length covering a newline",
			in:    "{}\n{\"type\":\"attachment\",\"length\":5}\na\nb\nc\n",
			items: []item{{"attachment", "", "a\nb\nc"}},
		},
		{
			name:  "length at end of body without newline",
			in:    "{}\n{\"type\":\"event\",\"length\":2}\n{}",
			items: []item{{"event", "", "{}"}},
		},
		{
			name:  "item without length up to newline",
			in:    "{}\n{\"type\":\"session\"}\n{\"sid\":1}\n{\"type\":\"client_report\"}\n{}",
			items: []item{{"session", "", `{"sid":1}`}, {"client_report", "", "{}"}},
		},
		{
			name:  "empty payloads",
			in:    "{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"x\"}\n",
			items: []item{{"attachment", "", ""}, {"x", "", ""}},
		},
		{
			name:  "empty payload without length at end",
			in:    "{}\n{\"type\":\"x\",\"content_type\":\"application/json\"}",
			items: []item{{"x", "application/json", ""}},
		},
		{
			name:  "CR is part of the line",
			in:    "{}\r\n{\"type\":\"session\"}\r\n{\"a\":1}\r\n",
			items: []item{{"session", "", "{\"a\":1}\r"}},
		},
		{
			name:  "blank lines between items",
			in:    "{}\n{\"type\":\"a\",\"length\":1}\nx\n\n\n{\"type\":\"b\"}\ny\n\n",
			items: []item{{"a", "", "x"}, {"b", "", "y"}},
		},
		{
			name:  "length null is no length",
			in:    "{}\n{\"type\":\"a\",\"length\":null}\nxyz\n",
			items: []item{{"a", "", "xyz"}},
		},
		{
			name:  "unknown types kept",
			in:    "{}\n{\"type\":\"profile\"}\n{}\n{\"type\":\"event\"}\n{}\n",
			items: []item{{"profile", "", "{}"}, {"event", "", "{}"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if env.Header != tt.header {
				t.Errorf("header = %+v, want %+v", env.Header, tt.header)
			}
			var got []item
			for _, it := range env.Items {
				got = append(got, item{it.Type, it.ContentType, string(it.Payload)})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.items) {
				t.Errorf("items = %q, want %q", got, tt.items)
			}
		})
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string // a substring of the ParseError's reason
	}{
		{"empty", "", "envelope is empty"},
		{"blank", " \n\n", "envelope is empty"},
		{"blank header", "\n{\"type\":\"event\"}\n{}", "envelope header is missing"},
		{"header not JSON", "hello\n", "envelope header is not JSON"},
		{"header an array", "[]\n", "envelope header is not JSON"},
		{"header truncated", "{\"event_id\":\n", "envelope header is not JSON"},
		{"item header not JSON", "{}\n{type:event}\n{}", "item 1: header is not JSON"},
		{"no type", "{}\n{\"length\":2}\n{}", "item 1 has no type"},
		{"null type", "{}\n{\"type\":null}\n{}", "item 1 has no type"},
		{"type a number", "{}\n{\"type\":5}\n{}", "item 1: type must be a non-empty string"},
		{"empty type", "{}\n{\"type\":\"\"}\n{}", "item 1: type must be a non-empty string"},
		{"second item no type", "{}\n{\"type\":\"a\"}\n\n{}\n", "item 2 has no type"},
		{"length too long", "{}\n{\"type\":\"a\"}\n\n{\"type\":\"event\",\"length\":500}\n" + strings.Repeat("x", 120), "item 2: length 500 exceeds the 120 bytes left"},
		{"length at EOF", "{}\n{\"type\":\"a\",\"length\":1}", "item 1: length 1 exceeds the 0 bytes left"},
		{"negative length", "{}\n{\"type\":\"a\",\"length\":-1}\n", "item 1: length must be a non-negative integer"},
		{"fractional length", "{}\n{\"type\":\"a\",\"length\":1.5}\nab\n", "item 1: length must be a non-negative integer"},
		{"string length", "{}\n{\"type\":\"a\",\"length\":\"2\"}\nab\n", "item 1: length must be a non-negative integer"},
		{"length short of payload", "{}\n{\"type\":\"a\",\"length\":2}\nabc\n", "item 1: the 2-byte payload is not followed by a newline"},
		{"two events", "{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"session\"}\n{}\n{\"type\":\"event\"}\n{}", "more than one event item (items 1 and 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}
}

func TestParseEnvelopeTooLarge(t *testing.T) {
	event := bytes.Repeat([]byte("x"), MaxEventSize+1)
	many := bytes.NewBufferString("{}\n")
	for range MaxItems + 1 {
		many.WriteString("{\"type\":\"session\"}\n{}\n")
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"body", bytes.Repeat([]byte("\n"), MaxEnvelopeSize+1)},
		{"event with length", append(fmt.Appendf(nil, "{}\n{\"type\":\"event\",\"length\":%d}\n", len(event)), event...)},
		{"event without length", append([]byte("{}\n{\"type\":\"event\"}\n"), event...)},
		{"items", many.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnvelope(tt.in)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
		})
	}

	// The limits themselves are allowed.
	ok := append(fmt.Appendf(nil, "{}\n{\"type\":\"event\",\"length\":%d}\n", MaxEventSize), event[:MaxEventSize]...)
	if _, err := ParseEnvelope(ok); err != nil {
		t.Errorf("event of MaxEventSize: %v", err)
	}
	// A big item of another type is not limited by MaxEventSize.
	att := append([]byte("{}\n{\"type\":\"attachment\"}\n"), event...)
	if _, err := ParseEnvelope(att); err != nil {
		t.Errorf("attachment over MaxEventSize: %v", err)
	}
}

// TestParseEnvelopeReal parses what the real SDKs sent (testdata/envelopes).
func TestParseEnvelopeReal(t *testing.T) {
	tests := []struct {
		file    string
		eventID string
		types   []string
	}{
		{"go/validation_line_a.envelope", "b1dc4c6f258a4032830cc81dc1893607", []string{"event"}},
		{"go/message_1.envelope", "", []string{"event"}},
		{"node/typeerror.envelope", "710ddbc757e244c9a2024d0f96dde234", []string{"event"}},
		{"node/session_init.envelope", "", []string{"session"}},
		{"node/sessions.envelope", "", []string{"sessions"}},
		{"node/client_report.envelope", "", []string{"client_report"}},
		{"node/crash_event.envelope.gz", "21084d0523104a158147a248ab630c6d", []string{"event"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := readEnvelope(t, tt.file)
			if tt.eventID != "" && env.Header.EventID != tt.eventID {
				t.Errorf("event_id = %q, want %q", env.Header.EventID, tt.eventID)
			}
			var types []string
			for _, it := range env.Items {
				types = append(types, it.Type)
			}
			if fmt.Sprint(types) != fmt.Sprint(tt.types) {
				t.Errorf("item types = %v, want %v", types, tt.types)
			}
			if ev := env.Event(); ev != nil && !bytes.HasPrefix(ev.Payload, []byte("{")) {
				t.Errorf("event payload starts %q", ev.Payload[:min(10, len(ev.Payload))])
			}
		})
	}
}
