package errortrack

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// ParseEvent parses an event's JSON (an envelope's event item or a store
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
//
// The JSON is read in one pass (jsonReader), keeping only the fields
// above. Where a key appears twice, the last one counts, as when decoding
// into a map; keys match exactly (encoding/json would match a struct's
// fields ignoring case).
func ParseEvent(b []byte, now time.Time) (*Event, error) {
	var f eventFields
	if !f.read(b) {
		return nil, &ParseError{Reason: "event is not a JSON object: " + jsonSyntaxError(b).Error()}
	}
	id, err := eventID(f.eventID)
	if err != nil {
		return nil, err
	}
	ev := &Event{
		ID:          id,
		Timestamp:   eventTime(f.timestamp, now),
		Platform:    scalarString(f.platform),
		Level:       eventLevel(scalarString(f.level)),
		Release:     scalarString(f.release),
		Environment: scalarString(f.environment),
		ServerName:  scalarString(f.serverName),
		Logger:      scalarString(f.logger),
		Transaction: scalarString(f.transaction),
		Message:     f.message(),
		Exceptions:  f.exceptions(),
		Fingerprint: f.fingerprint,
		Tags:        f.tags,
		Raw:         bytes.Clone(b),
	}
	if ev.Environment == "" {
		ev.Environment = "production"
	}
	return ev, nil
}

// eventFields is what ParseEvent reads of an event: the raw values of its
// scalar fields, and the rest already interpreted.
type eventFields struct {
	eventID, timestamp, platform, level, release, environment []byte
	serverName, logger, transaction                           []byte

	// logentry's and the legacy sentry.interfaces.Message's text, and
	// message's (a string, or an object read like logentry).
	logentry, legacyLogentry, messageText string
	hasLogentry                           bool
	// exception's and the legacy sentry.interfaces.Exception's.
	excs, legacyExcs []Exception
	hasExcs          bool
	fingerprint      []string
	tags             map[string]string
}

// read reads an event's JSON, which must be an object; false when b is
// not one, or is not valid JSON.
func (f *eventFields) read(b []byte) bool {
	r := &jsonReader{b: b}
	if r.peek() != '{' {
		return false
	}
	r.enter()
	for first := true; r.more(&first, '}'); {
		switch k := r.key(); string(k.name()) {
		case "event_id":
			f.eventID = r.value()
		case "timestamp":
			f.timestamp = r.value()
		case "platform":
			f.platform = r.value()
		case "level":
			f.level = r.value()
		case "release":
			f.release = r.value()
		case "environment":
			f.environment = r.value()
		case "server_name":
			f.serverName = r.value()
		case "logger":
			f.logger = r.value()
		case "transaction":
			f.transaction = r.value()
		case "message":
			if r.peek() == '{' {
				f.messageText = readLogentry(r)
			} else {
				f.messageText = scalarString(r.value())
			}
		case "logentry":
			f.logentry, f.hasLogentry = readLogentry(r), true
		case "sentry.interfaces.Message":
			f.legacyLogentry = readLogentry(r)
		case "exception":
			f.excs, f.hasExcs = readExceptions(r), true
		case "sentry.interfaces.Exception":
			f.legacyExcs = readExceptions(r)
		case "fingerprint":
			f.fingerprint = readFingerprint(r)
		case "tags":
			f.tags = readTags(r)
		default:
			r.value()
		}
	}
	r.end()
	return !r.failed
}

// message picks the plain message: logentry's formatted text, else its
// message, else the message field (a string, or an object read like
// logentry). The legacy name stands in for logentry when it is absent,
// as old raven clients send it to the store endpoint.
func (f *eventFields) message() string {
	m := f.legacyLogentry
	if f.hasLogentry {
		m = f.logentry
	}
	if m != "" {
		return m
	}
	return f.messageText
}

// exceptions returns exception's, or when it is absent the legacy
// sentry.interfaces.Exception's.
func (f *eventFields) exceptions() []Exception {
	if f.hasExcs {
		return f.excs
	}
	return f.legacyExcs
}

// eventID validates and normalises an event_id, generating one when the
// event has none.
func eventID(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return newEventID(), nil
	}
	s, ok := unmarshalString(raw)
	if !ok {
		return "", &ParseError{Reason: fmt.Sprintf("event_id must be a string of 32 hex digits, got %s", clip(raw, 40))}
	}
	if s == "" {
		return newEventID(), nil
	}
	id := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(id) != 32 || !isHex(id) {
		return "", &ParseError{Reason: fmt.Sprintf("event_id %s is not 32 hex digits (a UUID with or without dashes)", clip([]byte(s), 40))}
	}
	return id, nil
}

// newEventID returns a random event ID, 32 lowercase hex digits.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// maxEventUnix is the last second of year 9999: later timestamps, and
// ones before 1970, are treated as unreadable.
const maxEventUnix = 253402300799

// eventTime reads a timestamp: RFC 3339 (a missing zone means UTC) or
// epoch seconds, as a number or a numeric string. Anything else is now.
func eventTime(raw json.RawMessage, now time.Time) time.Time {
	t, ok := parseTime(raw)
	if !ok || t.Unix() < 0 || t.Unix() > maxEventUnix {
		return now
	}
	return t.UTC()
}

func parseTime(raw json.RawMessage) (time.Time, bool) {
	if secs, ok := number(raw); ok {
		if secs < 0 || secs > maxEventUnix {
			return time.Time{}, false
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)), true
	}
	s := strings.TrimSpace(scalarString(raw))
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

// eventLevel normalises a level to fatal, error, warning, info or debug.
func eventLevel(s string) string {
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

// readLogentry reads a logentry object: its formatted text, else its
// message. Anything but an object is "".
func readLogentry(r *jsonReader) string {
	if r.peek() != '{' {
		r.value()
		return ""
	}
	var formatted, message string
	r.enter()
	for first := true; r.more(&first, '}'); {
		switch k := r.key(); string(k.name()) {
		case "formatted":
			formatted = scalarString(r.value())
		case "message":
			message = scalarString(r.value())
		default:
			r.value()
		}
	}
	if formatted != "" {
		return formatted
	}
	return message
}

// readExceptions reads the exception interface: {"values": [...]} or a
// bare array. Entries that are not objects are skipped.
func readExceptions(r *jsonReader) []Exception {
	switch r.peek() {
	case '[':
		return readExceptionList(r)
	case '{':
		var out []Exception
		r.enter()
		for first := true; r.more(&first, '}'); {
			if k := r.key(); k.is("values") {
				out = readExceptionList(r)
			} else {
				r.value()
			}
		}
		return out
	}
	r.value()
	return nil
}

// readExceptionList reads an array of exceptions; anything else is none.
func readExceptionList(r *jsonReader) []Exception {
	if r.peek() != '[' {
		r.value()
		return nil
	}
	var out []Exception
	r.enter()
	for first := true; r.more(&first, ']'); {
		if r.peek() != '{' {
			r.value()
			continue
		}
		out = append(out, readException(r))
	}
	return out
}

// readException reads one exception object.
func readException(r *jsonReader) Exception {
	var ex Exception
	r.enter()
	for first := true; r.more(&first, '}'); {
		switch k := r.key(); string(k.name()) {
		case "type":
			ex.Type = scalarString(r.value())
		case "value":
			ex.Value = scalarString(r.value())
		case "module":
			ex.Module = scalarString(r.value())
		case "stacktrace":
			ex.Frames = readStacktrace(r)
		case "mechanism":
			ex.Mechanism, ex.Handled, ex.Synthetic = "", nil, false
			if r.peek() != '{' {
				r.value()
				continue
			}
			r.enter()
			for first := true; r.more(&first, '}'); {
				switch k := r.key(); string(k.name()) {
				case "type":
					ex.Mechanism = scalarString(r.value())
				case "handled":
					ex.Handled = boolean(r.value())
				case "synthetic":
					ex.Synthetic = scalarString(r.value()) == "true"
				default:
					r.value()
				}
			}
		default:
			r.value()
		}
	}
	return ex
}

// readStacktrace reads a stack trace object's frames, oldest first.
func readStacktrace(r *jsonReader) []Frame {
	if r.peek() != '{' {
		r.value()
		return nil
	}
	var out []Frame
	r.enter()
	for first := true; r.more(&first, '}'); {
		if k := r.key(); k.is("frames") {
			out = readFrames(r)
		} else {
			r.value()
		}
	}
	return out
}

// readFrames reads an array of frames. Entries that are not objects are
// skipped; anything but an array is none.
func readFrames(r *jsonReader) []Frame {
	if r.peek() != '[' {
		r.value()
		return nil
	}
	// The frames are gathered in a pooled scratch, then copied into a
	// slice of the exact size, with one array for their in_app values.
	sc := frameScratchPool.Get().(*frameScratch)
	defer frameScratchPool.Put(sc)
	frames, inApp := sc.frames[:0], sc.inApp[:0]
	r.enter()
	for first := true; r.more(&first, ']'); {
		if r.peek() != '{' {
			r.value()
			continue
		}
		var fr Frame
		var in int8
		r.enter()
		for first := true; r.more(&first, '}'); {
			switch k := r.key(); string(k.name()) {
			case "function":
				fr.Function = scalarString(r.value())
			case "module":
				fr.Module = scalarString(r.value())
			case "filename":
				fr.Filename = scalarString(r.value())
			case "abs_path":
				fr.AbsPath = scalarString(r.value())
			case "in_app":
				in = boolState(r.value())
			case "lineno":
				fr.Lineno = 0
				if n, ok := number(r.value()); ok {
					fr.Lineno = int(clampInt(n, 0, math.MaxInt32))
				}
			default:
				r.value()
			}
		}
		frames = append(frames, fr)
		inApp = append(inApp, in)
	}
	sc.frames, sc.inApp = frames, inApp
	if len(frames) == 0 {
		return nil
	}
	out := slices.Clone(frames)
	clear(frames) // the pool must not keep the strings alive
	n := 0
	for _, in := range inApp {
		if in != boolUnset {
			n++
		}
	}
	if n > 0 {
		values := make([]bool, 0, n)
		for i, in := range inApp {
			if in != boolUnset {
				values = append(values, in == boolTrue)
				out[i].InApp = &values[len(values)-1]
			}
		}
	}
	return out
}

// frameScratch is where readFrames gathers frames.
type frameScratch struct {
	frames []Frame
	inApp  []int8 // boolState of each frame's in_app
}

var frameScratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

// readFingerprint reads a custom fingerprint: strings as they are,
// numbers and booleans as their text; other elements are dropped.
func readFingerprint(r *jsonReader) []string {
	if r.peek() != '[' {
		r.value()
		return nil
	}
	var out []string
	r.enter()
	for first := true; r.more(&first, ']'); {
		v := r.value()
		if isNull(v) {
			continue
		}
		if s := scalarString(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readTags reads tags given as an object or as a list of [key, value]
// pairs. Values are stringified; null values, empty keys and malformed
// pairs are dropped. In an object the last of a repeated key counts (a
// null then removes the tag); in a list the last non-null pair does.
func readTags(r *jsonReader) map[string]string {
	out := map[string]string{}
	switch r.peek() {
	case '{':
		r.enter()
		for first := true; r.more(&first, '}'); {
			k := r.key()
			v := r.value()
			if r.failed {
				break
			}
			key := k.String()
			switch {
			case key == "":
			case isNull(v):
				delete(out, key)
			default:
				out[key] = anyString(v)
			}
		}
	case '[':
		r.enter()
		for first := true; r.more(&first, ']'); {
			if r.peek() != '[' {
				r.value()
				continue
			}
			var kv [2][]byte
			n := 0
			r.enter()
			for first := true; r.more(&first, ']'); n++ {
				v := r.value()
				if n < len(kv) {
					kv[n] = v
				}
			}
			if n != 2 || isNull(kv[1]) {
				continue
			}
			if k := scalarString(kv[0]); k != "" {
				out[k] = anyString(kv[1])
			}
		}
	default:
		r.value()
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
