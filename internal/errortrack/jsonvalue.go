package errortrack

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// SDKs disagree on the types of many fields (a number where a string is
// expected, a string holding a number). Payloads are therefore read as
// raw JSON values first (json.RawMessage, or the values a jsonReader
// returns) and coerced here, field by field, so that one odd field never
// rejects a whole event.

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// stringValue returns a JSON string's value; anything else is "".
func stringValue(raw json.RawMessage) string {
	s, _ := unmarshalString(raw)
	return s
}

// unmarshalString is json.Unmarshal(raw, &s), ok telling whether it
// succeeded: raw is a JSON string, or null (which leaves s empty).
func unmarshalString(raw json.RawMessage) (string, bool) {
	if s, ok := plainString(raw); ok {
		return s, true
	}
	return unmarshalStringSlow(raw)
}

// unmarshalStringSlow is unmarshalString for strings with escapes or
// invalid UTF-8, kept apart so that the fast path does not move s to the
// heap.
func unmarshalStringSlow(raw json.RawMessage) (s string, ok bool) {
	return s, json.Unmarshal(raw, &s) == nil
}

// plainString returns the value of raw when raw is exactly a JSON string
// without escapes holding valid UTF-8, the common case, whose value is
// the bytes between the quotes; ok is false for anything else.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	high := false
	for _, c := range in {
		switch {
		case c == '"' || c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	if high && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// scalarString returns a JSON string as is, and a number or boolean as its
// literal text; anything else (null, objects, arrays) is "".
func scalarString(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case '"':
		s, ok := unmarshalString(t)
		if !ok {
			return ""
		}
		return s
	case 't', 'f':
		if string(t) == "true" || string(t) == "false" {
			return string(t)
		}
		return ""
	case 'n', '{', '[':
		return ""
	default:
		// What json.Unmarshal into a json.Number keeps: the literal.
		if !isNumber(t) {
			return ""
		}
		return string(t)
	}
}

// isNumber reports whether b is a JSON number, nothing before or after:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(b []byte) bool {
	r := jsonReader{b: b}
	if len(b) == 0 || b[0] != '-' && !isDigitByte(b[0]) {
		return false
	}
	r.number()
	return !r.failed && r.i == len(b)
}

// anyString is scalarString that also renders objects and arrays, as
// compact JSON. null is "".
func anyString(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return scalarString(t)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return ""
	}
	return buf.String()
}

// number returns a JSON number, or a string holding one, as a float64.
func number(raw json.RawMessage) (float64, bool) {
	s := scalarString(raw)
	if s == "" || s == "true" || s == "false" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// boolean returns a JSON boolean, or a string "true"/"false", as a *bool;
// nil when raw is neither.
func boolean(raw json.RawMessage) *bool {
	var v bool
	switch boolState(raw) {
	case boolTrue:
		v = true
	case boolFalse:
		v = false
	default:
		return nil
	}
	return &v
}

// What boolState returns.
const (
	boolUnset int8 = iota
	boolFalse
	boolTrue
)

// boolState is boolean without allocating: boolTrue or boolFalse for a
// JSON boolean or a string "true" or "false", else boolUnset.
func boolState(raw json.RawMessage) int8 {
	t := bytes.TrimSpace(raw)
	switch string(t) {
	case "true", `"true"`:
		return boolTrue
	case "false", `"false"`:
		return boolFalse
	}
	if len(t) > 0 && t[0] == '"' && bytes.IndexByte(t, '\\') >= 0 {
		switch scalarString(t) { // escapes may spell true or false
		case "true":
			return boolTrue
		case "false":
			return boolFalse
		}
	}
	return boolUnset
}

// object decodes raw as a JSON object of raw fields; nil when it is not
// one.
func object(raw json.RawMessage) map[string]json.RawMessage {
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

// array decodes raw as a JSON array of raw elements; nil when it is not
// one.
func array(raw json.RawMessage) []json.RawMessage {
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

// clampInt converts f to an int64 within [lo, hi], truncating.
func clampInt(f float64, lo, hi int64) int64 {
	switch {
	case f <= float64(lo):
		return lo
	case f >= float64(hi):
		return hi
	}
	return int64(f)
}
