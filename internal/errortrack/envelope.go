package errortrack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ParseEnvelope parses a decompressed envelope body.
//
// The format is newline separated: the envelope header (a JSON object,
// possibly `{}`), then for each item an item header (a JSON object with a
// "type" and optionally a "length" and a "content_type") and its payload.
// With a length the payload is exactly that many bytes, followed by a
// newline or the end of the body; without one it runs to the next newline
// or the end. Only "\n" separates lines: a "\r" before it is part of the
// line. Blank lines between items and a trailing newline are tolerated.
//
// Items of every type are returned in order; the caller skips the types it
// does not read. Payloads are sub-slices of b.
//
// Malformed input is a *ParseError naming the item (counted from 1) and
// what is wrong with it. A body over MaxEnvelopeSize, an event item over
// MaxEventSize or more than MaxItems items is an error wrapping
// ErrTooLarge. More than one event item is a *ParseError.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("envelope is %d bytes, over the limit of %d: %w", len(b), MaxEnvelopeSize, ErrTooLarge)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &ParseError{Reason: "envelope is empty: it must start with a header line, a JSON object such as {}"}
	}
	line, rest, _ := cutLine(b)
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, &ParseError{Reason: "envelope header is missing: the first line must be a JSON object such as {}"}
	}
	header, err := parseEnvelopeHeader(line)
	if err != nil {
		return nil, err
	}
	env := &Envelope{Header: header}
	eventItem := 0
	for n := 1; ; n++ {
		rest = skipBlankLines(rest)
		if len(rest) == 0 {
			return env, nil
		}
		if n > MaxItems {
			return nil, fmt.Errorf("envelope has more than %d items: %w", MaxItems, ErrTooLarge)
		}
		var item Item
		item, rest, err = parseItem(n, rest)
		if err != nil {
			return nil, err
		}
		if item.Type == ItemEvent {
			if eventItem != 0 {
				return nil, &ParseError{Reason: fmt.Sprintf("envelope has more than one event item (items %d and %d); send one event per envelope", eventItem, n)}
			}
			eventItem = n
			if len(item.Payload) > MaxEventSize {
				return nil, fmt.Errorf("item %d: event is %d bytes, over the limit of %d: %w", n, len(item.Payload), MaxEventSize, ErrTooLarge)
			}
		}
		env.Items = append(env.Items, item)
	}
}

// Event returns the envelope's event item, or nil when it has none.
func (e *Envelope) Event() *Item {
	for i := range e.Items {
		if e.Items[i].Type == ItemEvent {
			return &e.Items[i]
		}
	}
	return nil
}

// parseEnvelopeHeader reads the envelope header line. Fields of another
// type than expected are ignored rather than rejected: nothing in the
// header is needed to accept the envelope.
func parseEnvelopeHeader(line []byte) (EnvelopeHeader, error) {
	var v [3][]byte
	if !readObject(line, envelopeHeaderKeys[:], v[:]) {
		return EnvelopeHeader{}, &ParseError{Reason: "envelope header is not JSON: " + jsonSyntaxError(line).Error()}
	}
	return EnvelopeHeader{
		EventID: stringValue(v[0]),
		DSN:     stringValue(v[1]),
		SentAt:  stringValue(v[2]),
	}, nil
}

var (
	envelopeHeaderKeys = [...]string{"event_id", "dsn", "sent_at"}
	itemHeaderKeys     = [...]string{"type", "length", "content_type"}
)

// readObject reads b, which must be a JSON object, and sets values[i] to
// the raw value of its key names[i] (of the last one, when the key is
// repeated; nil when absent). It is false when b is not a JSON object.
func readObject(b []byte, names []string, values [][]byte) bool {
	r := &jsonReader{b: b}
	if r.peek() != '{' {
		return false
	}
	r.enter()
	for first := true; r.more(&first, '}'); {
		k := r.key()
		v := r.value()
		for i, name := range names {
			if k.is(name) {
				values[i] = v
				break
			}
		}
	}
	r.end()
	return !r.failed
}

// parseItem reads item number n (its header line and its payload) from
// the start of b and returns it with what follows it.
func parseItem(n int, b []byte) (Item, []byte, error) {
	line, rest, _ := cutLine(b)
	var v [3][]byte
	if !readObject(line, itemHeaderKeys[:], v[:]) {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: header is not JSON: %v", n, jsonSyntaxError(line))}
	}
	typ, raw := v[0], v[1]
	item := Item{ContentType: stringValue(v[2])}
	if isNull(typ) {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d has no type", n)}
	}
	var ok bool
	if item.Type, ok = unmarshalString(typ); !ok || item.Type == "" {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: type must be a non-empty string, got %s", n, clip(typ, 40))}
	}

	if isNull(raw) {
		item.Payload, rest, _ = cutLine(rest)
		return item, rest, nil
	}
	length, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || length < 0 {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: length must be a non-negative integer, got %s", n, clip(raw, 40))}
	}
	if length > int64(len(rest)) {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: length %d exceeds the %d bytes left", n, length, len(rest))}
	}
	item.Payload, rest = rest[:length], rest[length:]
	if len(rest) > 0 {
		if rest[0] != '\n' {
			return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: the %d-byte payload is not followed by a newline", n, length)}
		}
		rest = rest[1:]
	}
	return item, rest, nil
}

// cutLine splits b at its first newline. found is false when b has none,
// in which case line is all of b.
func cutLine(b []byte) (line, rest []byte, found bool) {
	return bytes.Cut(b, []byte{'\n'})
}

// skipBlankLines drops lines holding nothing but white space.
func skipBlankLines(b []byte) []byte {
	for len(b) > 0 {
		line, rest, found := cutLine(b)
		if len(bytes.TrimSpace(line)) != 0 {
			return b
		}
		if !found {
			return nil
		}
		b = rest
	}
	return b
}

// unmarshalObject decodes b, which must be a JSON object, into v.
func unmarshalObject(b []byte, v any) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return fmt.Errorf("empty line where a JSON object was expected")
	}
	if t[0] != '{' {
		return fmt.Errorf("expected a JSON object, got %s", clip(t, 40))
	}
	return json.Unmarshal(b, v)
}

// clip quotes the start of b for an error message.
func clip(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
