package errortrack

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
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
func ParseEvent(b []byte, now time.Time) (*Event, error) {
	var f map[string]json.RawMessage
	if err := unmarshalObject(b, &f); err != nil {
		return nil, &ParseError{Reason: "event is not a JSON object: " + err.Error()}
	}
	id, err := eventID(f["event_id"])
	if err != nil {
		return nil, err
	}
	ev := &Event{
		ID:          id,
		Timestamp:   eventTime(f["timestamp"], now),
		Platform:    scalarString(f["platform"]),
		Level:       eventLevel(scalarString(f["level"])),
		Release:     scalarString(f["release"]),
		Environment: scalarString(f["environment"]),
		ServerName:  scalarString(f["server_name"]),
		Logger:      scalarString(f["logger"]),
		Transaction: scalarString(f["transaction"]),
		Message:     eventMessage(orLegacy(f, "logentry", "sentry.interfaces.Message"), f["message"]),
		Exceptions:  exceptions(orLegacy(f, "exception", "sentry.interfaces.Exception")),
		Fingerprint: fingerprint(f["fingerprint"]),
		Tags:        tags(f["tags"]),
		Raw:         bytes.Clone(b),
	}
	if ev.Environment == "" {
		ev.Environment = "production"
	}
	return ev, nil
}

// orLegacy returns field key, or when it is absent the same interface
// under its legacy name, as old raven clients send to the store endpoint.
func orLegacy(f map[string]json.RawMessage, key, legacy string) json.RawMessage {
	if v, ok := f[key]; ok {
		return v
	}
	return f[legacy]
}

// eventID validates and normalises an event_id, generating one when the
// event has none.
func eventID(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return newEventID(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
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

// eventMessage picks the plain message: logentry's formatted text, else
// its message, else the message field (a string, or an object read like
// logentry).
func eventMessage(logentry, message json.RawMessage) string {
	if m := logentryText(logentry); m != "" {
		return m
	}
	if s := scalarString(message); s != "" {
		return s
	}
	return logentryText(message)
}

func logentryText(raw json.RawMessage) string {
	o := object(raw)
	if o == nil {
		return ""
	}
	if s := scalarString(o["formatted"]); s != "" {
		return s
	}
	return scalarString(o["message"])
}

// exceptions reads the exception interface: {"values": [...]} or a bare
// array. Entries that are not objects are skipped.
func exceptions(raw json.RawMessage) []Exception {
	values := array(raw)
	if values == nil {
		values = array(object(raw)["values"])
	}
	var out []Exception
	for _, v := range values {
		o := object(v)
		if o == nil {
			continue
		}
		ex := Exception{
			Type:   scalarString(o["type"]),
			Value:  scalarString(o["value"]),
			Module: scalarString(o["module"]),
			Frames: frames(object(o["stacktrace"])["frames"]),
		}
		if m := object(o["mechanism"]); m != nil {
			ex.Mechanism = scalarString(m["type"])
			ex.Handled = boolean(m["handled"])
			ex.Synthetic = scalarString(m["synthetic"]) == "true"
		}
		out = append(out, ex)
	}
	return out
}

// frames reads a stack trace's frames, oldest first. Entries that are not
// objects are skipped.
func frames(raw json.RawMessage) []Frame {
	var out []Frame
	for _, v := range array(raw) {
		o := object(v)
		if o == nil {
			continue
		}
		fr := Frame{
			Function: scalarString(o["function"]),
			Module:   scalarString(o["module"]),
			Filename: scalarString(o["filename"]),
			AbsPath:  scalarString(o["abs_path"]),
			InApp:    boolean(o["in_app"]),
		}
		if n, ok := number(o["lineno"]); ok {
			fr.Lineno = int(clampInt(n, 0, math.MaxInt32))
		}
		out = append(out, fr)
	}
	return out
}

// fingerprint reads a custom fingerprint: strings as they are, numbers and
// booleans as their text; other elements are dropped.
func fingerprint(raw json.RawMessage) []string {
	var out []string
	for _, v := range array(raw) {
		if isNull(v) {
			continue
		}
		if s := scalarString(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// tags reads tags given as an object or as a list of [key, value] pairs.
// Values are stringified; null values, empty keys and malformed pairs are
// dropped.
func tags(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	if o := object(raw); o != nil {
		for k, v := range o {
			if k != "" && !isNull(v) {
				out[k] = anyString(v)
			}
		}
	}
	for _, pair := range array(raw) {
		kv := array(pair)
		if len(kv) != 2 || isNull(kv[1]) {
			continue
		}
		if k := scalarString(kv[0]); k != "" {
			out[k] = anyString(kv[1])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
