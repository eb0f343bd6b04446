package errortrack

import (
	"encoding/json"
	"unicode/utf8"
)

// jsonReader reads a JSON text in one pass, validating it as it goes.
// It accepts exactly what encoding/json accepts (RFC 8259; strings may
// hold invalid UTF-8; at most maxJSONDepth nested objects and arrays),
// so that a parser built on it rejects the same inputs json.Unmarshal
// does. It does not say why a text is malformed: callers ask
// encoding/json for the message (see jsonSyntaxError).
//
// Its readers never fail: on malformed input the reader records the
// fact (failed), jumps to the end of the input, and every later read
// returns a zero value, so that loops over members end. Callers check
// failed once at the end.
//
// Values are returned as sub-slices of the input, with no surrounding
// white space: the bytes a json.RawMessage of the value would hold.
type jsonReader struct {
	b      []byte
	i      int
	depth  int
	failed bool
}

// maxJSONDepth is encoding/json's limit on nesting (its scanner's
// maxNestingDepth): objects and arrays, the outermost counting as 1.
const maxJSONDepth = 10000

func (r *jsonReader) fail() {
	r.failed = true
	r.i = len(r.b)
}

// peek skips white space and returns the next byte, 0 at the end.
func (r *jsonReader) peek() byte {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case ' ', '\t', '\r', '\n':
			r.i++
		default:
			return c
		}
	}
	return 0
}

// end checks that nothing but white space follows the top-level value.
func (r *jsonReader) end() {
	if r.peek() != 0 || r.i != len(r.b) {
		r.fail()
	}
}

// enter consumes the '{' or '[' that peek returned.
func (r *jsonReader) enter() {
	r.i++
	r.depth++
	if r.depth > maxJSONDepth {
		r.fail()
	}
}

// more reports whether the object or array just entered (close is '}'
// or ']') has another member, consuming the comma before it, or the
// closing bracket when there is none. first must start true.
func (r *jsonReader) more(first *bool, close byte) bool {
	c := r.peek()
	if *first {
		*first = false
		switch c {
		case close:
			r.i++
			r.depth--
			return false
		case 0:
			r.fail()
			return false
		}
		return true
	}
	switch c {
	case ',':
		r.i++
		return true
	case close:
		r.i++
		r.depth--
		return false
	}
	r.fail()
	return false
}

// key reads an object member's key and the colon after it.
func (r *jsonReader) key() jsonString {
	if r.peek() != '"' {
		r.fail()
		return jsonString{}
	}
	k := r.str()
	if r.peek() != ':' {
		r.fail()
		return jsonString{}
	}
	r.i++
	return k
}

// value reads any value and returns its bytes.
func (r *jsonReader) value() []byte {
	c := r.peek()
	start := r.i
	switch c {
	case '{':
		r.enter()
		for first := true; r.more(&first, '}'); {
			r.key()
			r.value()
		}
	case '[':
		r.enter()
		for first := true; r.more(&first, ']'); {
			r.value()
		}
	case '"':
		r.str()
	case 't':
		r.literal("true")
	case 'f':
		r.literal("false")
	case 'n':
		r.literal("null")
	default:
		if c == '-' || isDigitByte(c) {
			r.number()
		} else {
			r.fail()
		}
	}
	if r.failed {
		return nil
	}
	return r.b[start:r.i]
}

func (r *jsonReader) literal(word string) {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		r.fail()
		return
	}
	r.i += len(word)
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// What follows it is checked by the caller, which wants a comma, a
// closing bracket, white space or the end.
func (r *jsonReader) number() {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i++
		for i < len(b) && isDigitByte(b[i]) {
			i++
		}
	default:
		r.fail()
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigitByte(b[i]) {
			r.fail()
			return
		}
		for i < len(b) && isDigitByte(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigitByte(b[i]) {
			r.fail()
			return
		}
		for i < len(b) && isDigitByte(b[i]) {
			i++
		}
	}
	r.i = i
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

// jsonString is a string literal as it appears in the input, quotes
// included.
type jsonString struct {
	raw []byte
	// plain is true when the literal has no escapes and is valid UTF-8:
	// its value is then exactly the bytes between the quotes.
	plain bool
	// escaped is true when it has a backslash escape.
	escaped bool
}

// str reads a string literal; peek returned '"'.
func (r *jsonReader) str() jsonString {
	b := r.b
	start := r.i
	i := start + 1
	escaped, high := false, false
	for {
		if i >= len(b) {
			r.fail()
			return jsonString{}
		}
		c := b[i]
		switch {
		case c == '"':
			r.i = i + 1
			s := jsonString{raw: b[start:r.i], escaped: escaped}
			s.plain = !escaped && (!high || utf8.Valid(s.raw[1:len(s.raw)-1]))
			return s
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				r.fail()
				return jsonString{}
			}
			switch b[i+1] {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHexByte(b[i+2]) || !isHexByte(b[i+3]) || !isHexByte(b[i+4]) || !isHexByte(b[i+5]) {
					r.fail()
					return jsonString{}
				}
				i += 6
			default:
				r.fail()
				return jsonString{}
			}
		case c < 0x20:
			r.fail()
			return jsonString{}
		default:
			if c >= utf8.RuneSelf {
				high = true
			}
			i++
		}
	}
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// String returns the string's value as json.Unmarshal would: escapes
// decoded, invalid UTF-8 and lone surrogates replaced by U+FFFD.
func (s jsonString) String() string {
	if len(s.raw) < 2 {
		return ""
	}
	if s.plain {
		return string(s.raw[1 : len(s.raw)-1])
	}
	var v string
	_ = json.Unmarshal(s.raw, &v) // a literal str read: cannot fail
	return v
}

// is reports whether the string's value is name, which is ASCII.
func (s jsonString) is(name string) bool {
	if len(s.raw) < 2 {
		return false
	}
	if !s.escaped {
		// Invalid UTF-8 would read as U+FFFD, never equal to ASCII.
		return string(s.raw[1:len(s.raw)-1]) == name
	}
	return s.String() == name
}

// name returns the value of a key, for a switch over ASCII names
// (switch string(k.name()) does not allocate): the bytes between the
// quotes when there is no escape, as invalid UTF-8 matches no ASCII name
// either way.
func (s jsonString) name() []byte {
	if len(s.raw) < 2 {
		return nil
	}
	if !s.escaped {
		return s.raw[1 : len(s.raw)-1]
	}
	return []byte(s.String())
}

// jsonSyntaxError returns what encoding/json says is wrong with b, which
// must be a JSON object, for when a jsonReader found it malformed; when
// encoding/json finds nothing wrong (which would be a bug in
// jsonReader), it says so.
func jsonSyntaxError(b []byte) error {
	if err := unmarshalObject(b, &struct{}{}); err != nil {
		return err
	}
	return errMalformedJSON
}

var errMalformedJSON = jsonError("malformed JSON")

type jsonError string

func (e jsonError) Error() string { return string(e) }
