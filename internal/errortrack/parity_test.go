package errortrack

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The single-pass parsers must behave exactly as the ones they replaced,
// kept in reference_test.go: same results, same errors, same inputs
// rejected. These tests compare them on the real SDKs' payloads, on
// inputs made to hit every difference a rewrite could bring (key case,
// repeated keys, escapes, invalid UTF-8, odd numbers, nesting limits,
// malformed JSON), and under the fuzzer.

// compareParseEvent fails unless ParseEvent and refParseEvent agree on b.
// A generated ID (no event_id) differs by design: the IDs are compared
// only when the reference gives the same one twice.
func compareParseEvent(t *testing.T, b []byte) {
	t.Helper()
	want, werr := refParseEvent(b, testNow)
	got, gerr := ParseEvent(b, testNow)
	if werr != nil || gerr != nil {
		if werr == nil || gerr == nil {
			t.Fatalf("input %q:\nnew: %+v, %v\nreference: %+v, %v", clipInput(b), got, gerr, want, werr)
		}
		var wpe, gpe *ParseError
		if errors.As(werr, &wpe) != errors.As(gerr, &gpe) || werr.Error() != gerr.Error() {
			t.Fatalf("input %q: new error %q (%T), reference %q (%T)", clipInput(b), gerr, gerr, werr, werr)
		}
		return
	}
	if again, _ := refParseEvent(b, testNow); again.ID != want.ID {
		if len(got.ID) != 32 || !isHex(got.ID) || strings.ToLower(got.ID) != got.ID {
			t.Fatalf("input %q: generated ID %q", clipInput(b), got.ID)
		}
		got.ID = want.ID
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\nnew:       %s\nreference: %s", clipInput(b), dumpEvent(got), dumpEvent(want))
	}
}

func clipInput(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func dumpEvent(ev *Event) string {
	c := *ev
	c.Raw = nil
	c.Exceptions = nil
	b, _ := json.Marshal(c)
	return string(b) + " exceptions " + dump(ev.Exceptions)
}

// parityInputs are the inputs both parsers are compared on: every
// testdata envelope, each of its lines and item payloads, the benchmark's
// events, and the cases below.
func parityInputs(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range testdataFiles(t) {
		if !strings.Contains(name, ".envelope") {
			continue
		}
		b := readTestdata(t, name)
		out = append(out, b)
		for line := range bytes.Lines(b) {
			out = append(out, line, bytes.TrimSuffix(line, []byte("\n")))
		}
		env, err := refParseEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, it := range env.Items {
			out = append(out, it.Payload)
		}
	}
	bench, err := os.ReadFile(filepath.Join("testdata", "bench", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(bench) {
		out = append(out, bytes.TrimSpace(line))
	}
	for _, s := range parityCases {
		out = append(out, []byte(s))
	}
	deep := func(n int, open, close string) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	// encoding/json allows 10000 nested objects and arrays, the event
	// itself included.
	out = append(out,
		[]byte(`{"a":`+deep(9999, "[", "]")+`}`),
		[]byte(`{"a":`+deep(10000, "[", "]")+`}`),
		[]byte(`{"exception":[{"stacktrace":{"frames":[`+deep(9995, "[", "]")+`]}}]}`),
		[]byte(`{"exception":[{"stacktrace":{"frames":[`+deep(9996, "[", "]")+`]}}]}`),
		[]byte(`{"tags":[[`+deep(9997, "[", "]")+`,1]]}`),
		[]byte(`{"tags":[[`+deep(9998, "[", "]")+`,1]]}`),
		[]byte(`{"tags":{"a":`+strings.Repeat(`{"a":`, 9998)+"1"+strings.Repeat("}", 9998)+`}}`),
		[]byte(`{"tags":{"a":`+strings.Repeat(`{"a":`, 9999)+"1"+strings.Repeat("}", 9999)+`}}`),
	)
	return out
}

// parityCases are made to tell two parsers apart.
var parityCases = []string{
	// Keys match exactly: no case folding, escapes decoded, the last of
	// a repeated key counts.
	`{"Level":"debug","LEVEL":"info","Message":"x","EXCEPTION":[{"type":"A"}]}`,
	`{"meſſage":"long s","K":"kelvin","releaſe":"x","tags":{"a":"1"},"TAGS":{"b":"2"}}`,
	`{"lev\u0065l":"debug","\u006d\u0065ssage":"escaped key","\u0065vent_id":"9ec79c33ec9942ab8353589fcb2e04dc"}`,
	`{"level":"debug","level":"info","message":"a","message":{"formatted":"b"},"release":"1","release":null}`,
	`{"exception":{"values":[{"TYPE":"x","type":"y","Type":"z","Value":"v","stacktrace":{"FRAMES":[{}]}}]}}`,
	`{"exception":{"values":[{"type":"A"}],"values":5}}`,
	`{"exception":{"values":5,"values":[{"type":"A"}]}}`,
	`{"exception":{"Values":[{"type":"A"}]}}`,
	`{"exception":[{"mechanism":{"type":"a","handled":true,"synthetic":true},"mechanism":5}]}`,
	`{"exception":[{"mechanism":{"type":"a"},"mechanism":{}}]}`,
	`{"exception":[{"mechanism":{"handled":true,"handled":"x","synthetic":"true","synthetic":1}}]}`,
	`{"exception":[{"mechanism":{"handled":"false","synthetic":"TRUE","type":7}}]}`,
	`{"exception":[{"mechanism":{"handled":"tru\u0065","synthetic":"\u0074rue"},"stacktrace":{"frames":[{"in_app":"f\u0061lse"},{"in_app":" true"},{"in_app":"true "}]}}]}`,
	`{"exception":[{"stacktrace":{"frames":[{"function":"f"}]},"stacktrace":null}]}`,
	`{"exception":[{"stacktrace":{"frames":[{"function":"f"}],"frames":{}}}]}`,
	`{"exception":[{"stacktrace":[{"function":"f"}]}]}`,
	`{"exception":[{"stacktrace":{"frames":[{"lineno":3,"lineno":"x"},{"lineno":"7"},{"lineno":" 7"},{"lineno":1e99},{"lineno":-1},{"lineno":2.9},{"lineno":"0x1p4"},{"lineno":"NaN"},{"lineno":"Inf"},{"lineno":"-Infinity"},{"lineno":true},{"lineno":"1_000"},{"lineno":4294967296}]}}]}`,
	`{"exception":[{"stacktrace":{"frames":[{"in_app":true,"in_app":null},{"in_app":"true"},{"in_app":"True"},{"in_app":1},{"in_app":false}]}}]}`,
	`{"exception":[{"type":"A"}],"exception":null,"sentry.interfaces.Exception":{"values":[{"type":"B"}]}}`,
	`{"sentry.interfaces.Exception":[{"type":"B"}],"sentry.interfaces.Exception":{"values":[{"type":"C"}]}}`,
	`{"exception":[],"sentry.interfaces.Exception":[{"type":"B"}]}`,
	`{"exception":[{},null,1,"x",[],[{"type":"A"}],{"type":null,"value":{},"module":[]}]}`,
	`{"exception":{}}`,
	`{"exception":{"values":[]}}`,
	// Messages: logentry (or its legacy name) first, formatted first.
	`{"logentry":null,"sentry.interfaces.Message":{"message":"legacy"},"message":"m"}`,
	`{"logentry":{"formatted":"","message":""},"sentry.interfaces.Message":{"message":"legacy"},"message":"m"}`,
	`{"sentry.interfaces.Message":{"message":"legacy"},"message":"m"}`,
	`{"sentry.interfaces.Message":"legacy string","message":{"message":"m","formatted":7}}`,
	`{"logentry":{"formatted":"f","formatted":"","message":"m"}}`,
	`{"logentry":{"formatted":null,"message":12.50}}`,
	`{"message":["a"],"logentry":[]}`,
	`{"message":true}`,
	`{"message":{"message":{"x":1}}}`,
	// Tags.
	`{"tags":{"a":"x","a":null}}`,
	`{"tags":{"a":null,"a":"x"}}`,
	`{"tags":{"a":"x","\u0061":null,"b":1}}`,
	`{"tags":[["a","x"],["a",null]]}`,
	`{"tags":[["a","x"],["a","y"],["", "z"],[null,"n"],[true,false],[1.50,2.50],[{"k":1},"o"],["o",{"k" : [1 , 2]}],["arr",[ ]]]}`,
	`{"tags":[["a","b","c"],["a"],[],"x",null,{"a":"b"}]}`,
	`{"tags":{"a":1},"tags":[["b",2]]}`,
	`{"tags":{"":"x","\u0000":"nul","\ud800":"lone","é":"e","\u00e9":"e2"}}`,
	`{"tags":{"o":{ "a" : [ 1, "x y" ] , "b":{"c":null}}}}`,
	`{"tags":{"a":"x"},"tags":null}`,
	`{"tags":"x"}`,
	`{"tags":[]}`,
	`{"tags":{}}`,
	// Fingerprints.
	`{"fingerprint":["a",null,1,-0,1E400,true,false,{"a":1},["b"],"","x"]}`,
	`{"fingerprint":["a"],"fingerprint":{}}`,
	`{"fingerprint":[]}`,
	// Strings: escapes, invalid UTF-8, lone surrogates.
	"{\"message\":\"caf\xc3\xa9 \xff\xfe bad utf-8\",\"release\":\"\xed\xa0\x80\"}",
	`{"message":"tab\tnot allowed raw"}`,
	`{"message":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00\ud800x\udc00"}`,
	`{"release":"\u0000","environment":"\u2028","server_name":"\ud800\ud800"}`,
	"{\"message\x80\":\"key with invalid utf-8\",\"tags\":{\"k\xff\":\"v\"}}",
	// Scalars of every type where strings belong.
	`{"platform":1,"level":1,"release":-0.0e+0,"environment":true,"server_name":false,"logger":null,"transaction":{},"message":12}`,
	`{"release":1E400,"environment":1e-400,"server_name":0.000001,"logger":-12345678901234567890123}`,
	`{"environment":""}`,
	`{"environment":null}`,
	`{"level":" WARN ","environment":"  "}`,
	`{"level":"critical"}`,
	// Timestamps.
	`{"timestamp":"1581084960"}`,
	`{"timestamp":" 1581084960 "}`,
	`{"timestamp":"2020-02-07 14:16:00+01:00"}`,
	`{"timestamp":1581084960,"timestamp":"x"}`,
	`{"timestamp":253402300799}`,
	`{"timestamp":253402300800}`,
	`{"timestamp":-0.5}`,
	`{"timestamp":"NaN"}`,
	`{"timestamp":"0x5E3D70A0p0"}`,
	`{"timestamp":[1581084960]}`,
	// Event IDs.
	`{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC"}`,
	`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","event_id":null}`,
	`{"event_id":null,"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}`,
	`{"event_id":"9ec79c33ec9942ab8353589fcb2e04d\u0063"}`,
	`{"event_id":"9ec79c33ec9942ab8353589fcb2e04d\u00e9"}`,
	"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04\xff\"}",
	`{"event_id":"----9ec79c33ec9942ab8353589fcb2e04dc"}`,
	`{"event_id":42}`,
	`{"event_id":true}`,
	`{"event_id":{}}`,
	`{"event_id":[]}`,
	`{"event_id":"` + strings.Repeat("x", 100) + `"}`,
	`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","x":}`,
	// White space, and what is not an object or not JSON.
	" \t\r\n{ \"message\" : \"m\" , \"level\" :\"info\" } \t\r\n",
	"\v{}",
	"{}\v",
	"\xef\xbb\xbf{}",
	"{}\x00",
	"\x00{}",
	``,
	` `,
	`[]`,
	`null`,
	`"x"`,
	`1`,
	`{`,
	`}`,
	`{}}`,
	`{} {}`,
	`{}x`,
	`{,}`,
	`{"a"}`,
	`{"a":}`,
	`{"a" 1}`,
	`{"a":1,}`,
	`{"a":1 "b":2}`,
	`{"a":1,,"b":2}`,
	`{1:2}`,
	`{'a':1}`,
	`{a:1}`,
	`{"a":[1,]}`,
	`{"a":[,1]}`,
	`{"a":[1 2]}`,
	`{"a":[}`,
	`{"a":]}`,
	`{"a":01}`,
	`{"a":-01}`,
	`{"a":00}`,
	`{"a":.5}`,
	`{"a":1.}`,
	`{"a":1.e5}`,
	`{"a":1e}`,
	`{"a":1e+}`,
	`{"a":1E-5}`,
	`{"a":-}`,
	`{"a":+1}`,
	`{"a":-0}`,
	`{"a":1.5.3}`,
	`{"a":0x10}`,
	`{"a":NaN}`,
	`{"a":Infinity}`,
	`{"a":tru}`,
	`{"a":truex}`,
	`{"a":True}`,
	`{"a":nul}`,
	`{"a":nulll}`,
	`{"a":falsey}`,
	`{"a":"\x"}`,
	`{"a":"\u12"}`,
	`{"a":"\u12g4"}`,
	`{"a":"\U1234"}`,
	`{"a":"\`,
	`{"a":"abc`,
	`{"a":"` + "\x01" + `"}`,
	`{"a":"` + "\x1f" + `"}`,
	`{"a":"` + "\x7f" + `"}`,
	`{"a` + "\n" + `":1}`,
	`{"level":"info"` + "\n",
	`{"message":"m"}` + "\n\n",
	`{"exception":[{"type":"A"]}`,
	`{"exception":[{"stacktrace":{"frames":[{"lineno":01}]}}]}`,
	`{"tags":[["a",tru]]}`,
	`{"tags":{"a":"x",}}`,
	`{"fingerprint":["a",]}`,
	`{"message":{"formatted":"x"]}`,
}

// TestParseEventMatchesReference compares ParseEvent with the parser it
// replaced on every testdata payload and the cases above, and on each
// payload cut short at every byte.
func TestParseEventMatchesReference(t *testing.T) {
	inputs := parityInputs(t)
	for _, b := range inputs {
		compareParseEvent(t, b)
	}
	for _, name := range []string{"go/wrapped.envelope", "node/typeerror.envelope"} {
		ev := readEnvelope(t, name).Event()
		for i := range len(ev.Payload) {
			compareParseEvent(t, ev.Payload[:i])
		}
	}
}

// FuzzParseEventMatchesReference checks that ParseEvent gives the same
// Event as the parser it replaced (ID generation aside) on any input the
// old one accepts, and the same error on any it rejects.
func FuzzParseEventMatchesReference(f *testing.F) {
	for _, b := range parityInputs(f) {
		if len(b) < 4096 || bytes.Count(b, []byte("[")) < 1000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareParseEvent(t, b)
	})
}

// FuzzJSONReaderMatchesValid checks that a jsonReader accepts exactly
// what encoding/json does, for any JSON value at the top.
func FuzzJSONReaderMatchesValid(f *testing.F) {
	for _, b := range parityInputs(f) {
		if len(b) < 4096 || bytes.Count(b, []byte("[")) < 1000 {
			f.Add(b)
		}
	}
	f.Add([]byte(`[1,-0.5e+7,"\u00e9",true,false,null,{}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &jsonReader{b: b}
		v := r.value()
		r.end()
		if valid := json.Valid(b); valid == r.failed {
			t.Fatalf("%q: json.Valid %v, jsonReader failed %v", clipInput(b), valid, r.failed)
		}
		if !r.failed && !bytes.Equal(v, bytes.TrimSpace(b)) {
			t.Fatalf("%q: value %q", clipInput(b), v)
		}
	})
}

// TestScalarStringMatchesReference compares the coercions that gained a
// fast path with the old ones, on every value the inputs hold.
func TestScalarStringMatchesReference(t *testing.T) {
	var values [][]byte
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		values = append(values, raw)
		for _, v := range refObject(raw) {
			walk(v)
		}
		for _, v := range refArray(raw) {
			walk(v)
		}
	}
	for _, b := range parityInputs(t) {
		if json.Valid(b) && len(b) < 20000 {
			walk(b)
		}
		values = append(values, b) // not JSON, or not one value
	}
	for _, v := range values {
		if got, want := scalarString(v), refScalarString(v); got != want {
			t.Errorf("scalarString(%q) = %q, reference %q", clipInput(v), got, want)
		}
		if got, want := stringValue(v), refStringValue(v); got != want {
			t.Errorf("stringValue(%q) = %q, reference %q", clipInput(v), got, want)
		}
		if got, want := boolean(v), refBoolean(v); fmtBool(got) != fmtBool(want) {
			t.Errorf("boolean(%q) = %s, reference %s", clipInput(v), fmtBool(got), fmtBool(want))
		}
		gid, gerr := eventID(v)
		wid, werr := refEventID(v)
		if again, _ := refEventID(v); again != wid { // generated
			gid = wid
		}
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() || gid != wid {
			t.Errorf("eventID(%q) = %q, %v; reference %q, %v", clipInput(v), gid, gerr, wid, werr)
		}
	}
}

// compareParseEnvelope fails unless ParseEnvelope and refParseEnvelope
// agree on b.
func compareParseEnvelope(t *testing.T, b []byte) {
	t.Helper()
	want, werr := refParseEnvelope(b)
	got, gerr := ParseEnvelope(b)
	if werr != nil || gerr != nil {
		var wpe, gpe *ParseError
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() ||
			errors.As(werr, &wpe) != errors.As(gerr, &gpe) || errors.Is(werr, ErrTooLarge) != errors.Is(gerr, ErrTooLarge) {
			t.Fatalf("input %q: new error %v (%T), reference %v (%T)", clipInput(b), gerr, gerr, werr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\nnew:       %+v\nreference: %+v", clipInput(b), got, want)
	}
}

// envelopeParityCases are envelopes made to tell two parsers apart.
var envelopeParityCases = []string{
	"{\"DSN\":\"x\",\"dsn\":\"y\",\"dsn\":5,\"Event_ID\":\"a\",\"sent_at\":\"s\",\"sent_at\":null}\n",
	"{\"event_id\":\"a\",\"event_id\":\"\\u0062\",\"d\\u0073n\":\"escaped\",\"sent_at\":{}}\n",
	"{\"event_id\":\"caf\xc3\xa9\xff\"}\n",
	"{}\n{\"TYPE\":\"event\"}\n{}\n",
	"{}\n{\"type\":\"event\",\"type\":null}\n{}\n",
	"{}\n{\"type\":null,\"type\":\"event\"}\n{}\n",
	"{}\n{\"type\":\"ev\\u0065nt\",\"length\":2}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":2.0}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":-0}\n\n",
	"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":1e1}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":99999999999999999999}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":null}\n{}\n",
	"{}\n{\"type\":\"event\",\"Length\":2}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":2,\"length\":3}\n{}x\n",
	"{}\n{\"type\":\"event\",\"content_type\":7}\n{}\n",
	"{}\n{\"type\":\"event\",\"content_type\":\"application/json\",\"content_type\":\"text/plain\"}\n{}\n",
	"{}\n{\"type\":5}\n{}\n",
	"{}\n{\"type\":\"\"}\n{}\n",
	"{}\n{\"type\":\"\\u0000\"}\n{}\n",
	"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"session\"}\n{}\n",
	"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"event\"}\n{}\n",
	"{}\r\n{\"type\":\"event\"}\r\n{}\r\n",
	"\xef\xbb\xbf{}\n",
	" {}\n",
	"{} x\n",
	"{}\n{\"type\":\"event\"} {}\n{}\n",
	"{}\n[\"type\",\"event\"]\n{}\n",
	"{}\n{\"type\":\"event\",}\n{}\n",
	"{}\n{\"type\":\"event\",\"length\":01}\n{}\n",
	"{}\n\n \n{\"type\":\"event\",\"length\":2}\n{}",
	"[]\n",
	"null\n",
	"{\n",
	"",
	" \n ",
}

// TestParseEnvelopeMatchesReference compares ParseEnvelope with the
// parser it replaced on every testdata envelope, each cut short at every
// byte, the event payloads and the cases above.
func TestParseEnvelopeMatchesReference(t *testing.T) {
	for _, b := range parityInputs(t) {
		compareParseEnvelope(t, b)
	}
	for _, s := range envelopeParityCases {
		compareParseEnvelope(t, []byte(s))
	}
	for _, name := range []string{"go/wrapped.envelope", "node/sessions.envelope", "node/client_report.envelope"} {
		b := readTestdata(t, name)
		for i := range len(b) {
			compareParseEnvelope(t, b[:i])
		}
	}
}

func FuzzParseEnvelopeMatchesReference(f *testing.F) {
	for _, b := range seedEnvelopes(f) {
		f.Add(b)
	}
	for _, s := range envelopeParityCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareParseEnvelope(t, b)
	})
}
