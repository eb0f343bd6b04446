package errortrack

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// SDKs disagree on the types of many fields (a number where a string is
// expected, a string holding a number). Payloads are therefore decoded
// into json.RawMessage first and coerced here, field by field, so that one
// odd field never rejects a whole event.

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// stringValue returns a JSON string's value; anything else is "".
func stringValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
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
	switch scalarString(raw) {
	case "true":
		v = true
	case "false":
		v = false
	default:
		return nil
	}
	return &v
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
