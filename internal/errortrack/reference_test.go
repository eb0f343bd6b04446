package errortrack

// The parsers as they were before the single-pass event parser
// (jsonvalue.go, event.go and envelope.go at 80fbd09), kept as the
// reference the new ones must agree with: every function here is the old
// one renamed with a "ref" prefix, unchanged otherwise.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// refParseEvent parses an event's JSON (an envelope's event item or a store
// body) into an Event. now stands in for a missing or unreadable
// timestamp.
//
// Only the top level is strict: it must be a JSON object, and an event_id,
// when present, must be 32 hex digits (a UUID's dashes are dropped).
// Everything else is lenient, as SDKs differ: a field of an unexpected
// type is coerced when it can be (a number where a string belongs) and
// ignored when it cannot, never failing the event. In particular:
//
//   - exception is {"values": [...]} or a bare array (sentry-go);
//   - message is a string or an object {"message", "formatted", "params"};
//     logentry, when it has text, wins over message, its "formatted" over
//     its "message";
//   - the legacy interface names sentry.interfaces.Exception and
//     sentry.interfaces.Message stand in for exception and logentry;
//   - timestamp is an RFC 3339 string (without a zone it is UTC) or epoch
//     seconds (a number, fractions allowed);
//   - level is lowercased, "warn" is "warning", "critical" is "fatal", and
//     anything outside fatal, error, warning, info, debug is "error";
//   - environment defaults to "production";
//   - tags is an object or a list of [key, value] pairs, values stringified;
//   - fingerprint is a list; numbers and booleans are stringified, other
//     elements dropped.
//
// Raw is a copy of b, so that holding the event does not keep the whole
// request body alive.
func refParseEvent(b []byte, now time.Time) (*Event, error) {
	var f map[string]json.RawMessage
	if err := refUnmarshalObject(b, &f); err != nil {
		return nil, &ParseError{Reason: "event is not a JSON object: " + err.Error()}
	}
	id, err := refEventID(f["event_id"])
	if err != nil {
		return nil, err
	}
	ev := &Event{
		ID:          id,
		Timestamp:   refEventTime(f["timestamp"], now),
		Platform:    refScalarString(f["platform"]),
		Level:       refEventLevel(refScalarString(f["level"])),
		Release:     refScalarString(f["release"]),
		Environment: refScalarString(f["environment"]),
		ServerName:  refScalarString(f["server_name"]),
		Logger:      refScalarString(f["logger"]),
		Transaction: refScalarString(f["transaction"]),
		Message:     refEventMessage(refOrLegacy(f, "logentry", "sentry.interfaces.Message"), f["message"]),
		Exceptions:  refExceptions(refOrLegacy(f, "exception", "sentry.interfaces.Exception")),
		Fingerprint: refFingerprint(f["fingerprint"]),
		Tags:        refTags(f["tags"]),
		Raw:         bytes.Clone(b),
	}
	if ev.Environment == "" {
		ev.Environment = "production"
	}
	return ev, nil
}

// refOrLegacy returns field key, or when it is absent the same interface
// under its legacy name, as old raven clients send to the store endpoint.
func refOrLegacy(f map[string]json.RawMessage, key, legacy string) json.RawMessage {
	if v, ok := f[key]; ok {
		return v
	}
	return f[legacy]
}

// refEventID validates and normalises an event_id, generating one when the
// event has none.
func refEventID(raw json.RawMessage) (string, error) {
	if refIsNull(raw) {
		return refNewEventID(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &ParseError{Reason: fmt.Sprintf("event_id must be a string of 32 hex digits, got %s", refClip(raw, 40))}
	}
	if s == "" {
		return refNewEventID(), nil
	}
	id := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(id) != 32 || !refIsHex(id) {
		return "", &ParseError{Reason: fmt.Sprintf("event_id %s is not 32 hex digits (a UUID with or without dashes)", refClip([]byte(s), 40))}
	}
	return id, nil
}

// refNewEventID returns a random event ID, 32 lowercase hex digits.
func refNewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

func refIsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// refMaxEventUnix is the last second of year 9999: later timestamps, and
// ones before 1970, are treated as unreadable.
const refMaxEventUnix = 253402300799

// refEventTime reads a timestamp: RFC 3339 (a missing zone means UTC) or
// epoch seconds, as a number or a numeric string. Anything else is now.
func refEventTime(raw json.RawMessage, now time.Time) time.Time {
	t, ok := refParseTime(raw)
	if !ok || t.Unix() < 0 || t.Unix() > refMaxEventUnix {
		return now
	}
	return t.UTC()
}

func refParseTime(raw json.RawMessage) (time.Time, bool) {
	if secs, ok := refNumber(raw); ok {
		if secs < 0 || secs > refMaxEventUnix {
			return time.Time{}, false
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)), true
	}
	s := strings.TrimSpace(refScalarString(raw))
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// refEventLevel normalises a level to fatal, error, warning, info or debug.
func refEventLevel(s string) string {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "fatal", "error", "warning", "info", "debug":
		return l
	case "warn":
		return "warning"
	case "critical":
		return "fatal"
	default:
		return "error"
	}
}

// refEventMessage picks the plain message: logentry's formatted text, else
// its message, else the message field (a string, or an object read like
// logentry).
func refEventMessage(logentry, message json.RawMessage) string {
	if m := refLogentryText(logentry); m != "" {
		return m
	}
	if s := refScalarString(message); s != "" {
		return s
	}
	return refLogentryText(message)
}

func refLogentryText(raw json.RawMessage) string {
	o := refObject(raw)
	if o == nil {
		return ""
	}
	if s := refScalarString(o["formatted"]); s != "" {
		return s
	}
	return refScalarString(o["message"])
}

// refExceptions reads the exception interface: {"values": [...]} or a bare
// refArray. Entries that are not objects are skipped.
func refExceptions(raw json.RawMessage) []Exception {
	values := refArray(raw)
	if values == nil {
		values = refArray(refObject(raw)["values"])
	}
	var out []Exception
	for _, v := range values {
		o := refObject(v)
		if o == nil {
			continue
		}
		ex := Exception{
			Type:   refScalarString(o["type"]),
			Value:  refScalarString(o["value"]),
			Module: refScalarString(o["module"]),
			Frames: refFrames(refObject(o["stacktrace"])["frames"]),
		}
		if m := refObject(o["mechanism"]); m != nil {
			ex.Mechanism = refScalarString(m["type"])
			ex.Handled = refBoolean(m["handled"])
			ex.Synthetic = refScalarString(m["synthetic"]) == "true"
		}
		out = append(out, ex)
	}
	return out
}

// refFrames reads a stack trace's frames, oldest first. Entries that are not
// objects are skipped.
func refFrames(raw json.RawMessage) []Frame {
	var out []Frame
	for _, v := range refArray(raw) {
		o := refObject(v)
		if o == nil {
			continue
		}
		fr := Frame{
			Function: refScalarString(o["function"]),
			Module:   refScalarString(o["module"]),
			Filename: refScalarString(o["filename"]),
			AbsPath:  refScalarString(o["abs_path"]),
			InApp:    refBoolean(o["in_app"]),
		}
		if n, ok := refNumber(o["lineno"]); ok {
			fr.Lineno = int(refClampInt(n, 0, math.MaxInt32))
		}
		out = append(out, fr)
	}
	return out
}

// refFingerprint reads a custom fingerprint: strings as they are, numbers and
// booleans as their text; other elements are dropped.
func refFingerprint(raw json.RawMessage) []string {
	var out []string
	for _, v := range refArray(raw) {
		if refIsNull(v) {
			continue
		}
		if s := refScalarString(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// refTags reads tags given as an object or as a list of [key, value] pairs.
// Values are stringified; null values, empty keys and malformed pairs are
// dropped.
func refTags(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	if o := refObject(raw); o != nil {
		for k, v := range o {
			if k != "" && !refIsNull(v) {
				out[k] = refAnyString(v)
			}
		}
	}
	for _, pair := range refArray(raw) {
		kv := refArray(pair)
		if len(kv) != 2 || refIsNull(kv[1]) {
			continue
		}
		if k := refScalarString(kv[0]); k != "" {
			out[k] = refAnyString(kv[1])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SDKs disagree on the types of many fields (a number where a string is
// expected, a string holding a number). Payloads are therefore decoded
// into json.RawMessage first and coerced here, field by field, so that one
// odd field never rejects a whole event.

// refIsNull reports whether raw is absent or JSON null.
func refIsNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// refStringValue returns a JSON string's value; anything else is "".
func refStringValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// refScalarString returns a JSON string as is, and a number or boolean as its
// literal text; anything else (null, objects, arrays) is "".
func refScalarString(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case '"':
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
		return ""
	case 't', 'f':
		if string(t) == "true" || string(t) == "false" {
			return string(t)
		}
		return ""
	case 'n', '{', '[':
		return ""
	default:
		var n json.Number
		if json.Unmarshal(t, &n) == nil {
			return n.String()
		}
		return ""
	}
}

// refAnyString is scalarString that also renders objects and arrays, as
// compact JSON. null is "".
func refAnyString(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return refScalarString(t)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return ""
	}
	return buf.String()
}

// refNumber returns a JSON number, or a string holding one, as a float64.
func refNumber(raw json.RawMessage) (float64, bool) {
	s := refScalarString(raw)
	if s == "" || s == "true" || s == "false" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// refBoolean returns a JSON boolean, or a string "true"/"false", as a *bool;
// nil when raw is neither.
func refBoolean(raw json.RawMessage) *bool {
	var v bool
	switch refScalarString(raw) {
	case "true":
		v = true
	case "false":
		v = false
	default:
		return nil
	}
	return &v
}

// refObject decodes raw as a JSON object of raw fields; nil when it is not
// one.
func refObject(raw json.RawMessage) map[string]json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(t, &m) != nil {
		return nil
	}
	return m
}

// refArray decodes raw as a JSON array of raw elements; nil when it is not
// one.
func refArray(raw json.RawMessage) []json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return nil
	}
	var a []json.RawMessage
	if json.Unmarshal(t, &a) != nil {
		return nil
	}
	return a
}

// refClampInt converts f to an int64 within [lo, hi], truncating.
func refClampInt(f float64, lo, hi int64) int64 {
	switch {
	case f <= float64(lo):
		return lo
	case f >= float64(hi):
		return hi
	}
	return int64(f)
}

// refParseEnvelope parses a decompressed envelope body.
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
func refParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("envelope is %d bytes, over the limit of %d: %w", len(b), MaxEnvelopeSize, ErrTooLarge)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &ParseError{Reason: "envelope is empty: it must start with a header line, a JSON object such as {}"}
	}
	line, rest, _ := refCutLine(b)
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, &ParseError{Reason: "envelope header is missing: the first line must be a JSON object such as {}"}
	}
	header, err := refParseEnvelopeHeader(line)
	if err != nil {
		return nil, err
	}
	env := &Envelope{Header: header}
	eventItem := 0
	for n := 1; ; n++ {
		rest = refSkipBlankLines(rest)
		if len(rest) == 0 {
			return env, nil
		}
		if n > MaxItems {
			return nil, fmt.Errorf("envelope has more than %d items: %w", MaxItems, ErrTooLarge)
		}
		var item Item
		item, rest, err = refParseItem(n, rest)
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

// refParseEnvelopeHeader reads the envelope header line. Fields of another
// type than expected are ignored rather than rejected: nothing in the
// header is needed to accept the envelope.
func refParseEnvelopeHeader(line []byte) (EnvelopeHeader, error) {
	var fields map[string]json.RawMessage
	if err := refUnmarshalObject(line, &fields); err != nil {
		return EnvelopeHeader{}, &ParseError{Reason: "envelope header is not JSON: " + err.Error()}
	}
	return EnvelopeHeader{
		EventID: refStringValue(fields["event_id"]),
		DSN:     refStringValue(fields["dsn"]),
		SentAt:  refStringValue(fields["sent_at"]),
	}, nil
}

// refParseItem reads item number n (its header line and its payload) from
// the start of b and returns it with what follows it.
func refParseItem(n int, b []byte) (Item, []byte, error) {
	line, rest, _ := refCutLine(b)
	var fields map[string]json.RawMessage
	if err := refUnmarshalObject(line, &fields); err != nil {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: header is not JSON: %v", n, err)}
	}
	item := Item{ContentType: refStringValue(fields["content_type"])}
	typ, ok := fields["type"]
	if !ok || refIsNull(typ) {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d has no type", n)}
	}
	if err := json.Unmarshal(typ, &item.Type); err != nil || item.Type == "" {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: type must be a non-empty string, got %s", n, refClip(typ, 40))}
	}

	raw, ok := fields["length"]
	if !ok || refIsNull(raw) {
		item.Payload, rest, _ = refCutLine(rest)
		return item, rest, nil
	}
	length, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || length < 0 {
		return Item{}, nil, &ParseError{Reason: fmt.Sprintf("item %d: length must be a non-negative integer, got %s", n, refClip(raw, 40))}
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

// refCutLine splits b at its first newline. found is false when b has none,
// in which case line is all of b.
func refCutLine(b []byte) (line, rest []byte, found bool) {
	return bytes.Cut(b, []byte{'\n'})
}

// refSkipBlankLines drops lines holding nothing but white space.
func refSkipBlankLines(b []byte) []byte {
	for len(b) > 0 {
		line, rest, found := refCutLine(b)
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

// refUnmarshalObject decodes b, which must be a JSON object, into v.
func refUnmarshalObject(b []byte, v any) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return fmt.Errorf("empty line where a JSON object was expected")
	}
	if t[0] != '{' {
		return fmt.Errorf("expected a JSON object, got %s", refClip(t, 40))
	}
	return json.Unmarshal(b, v)
}

// refClip quotes the start of b for an error message.
func refClip(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
