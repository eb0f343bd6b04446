package errortrack

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Every parser of outside input has a fuzz target here: none may panic,
// and each returns either a result that keeps its promises or an error
// of the kinds it documents. Seeds come from testdata/envelopes, the
// payloads the real SDKs sent.

// checkErr fails unless err is a *ParseError or wraps ErrTooLarge.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error of an undocumented kind: %v", err)
	}
	if pe != nil && pe.Reason == "" {
		t.Fatal("ParseError without a reason")
	}
}

// seedEnvelopes are the decoded testdata envelopes.
func seedEnvelopes(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range testdataFiles(f) {
		if strings.Contains(name, ".envelope") {
			out = append(out, readTestdata(f, name))
		}
	}
	return out
}

// seedItems are the testdata envelopes' payloads of one item type.
func seedItems(f *testing.F, typ string) [][]byte {
	var out [][]byte
	for _, b := range seedEnvelopes(f) {
		env, err := ParseEnvelope(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, it := range env.Items {
			if it.Type == typ {
				out = append(out, it.Payload)
			}
		}
	}
	return out
}

func FuzzParseEnvelope(f *testing.F) {
	for _, b := range seedEnvelopes(f) {
		f.Add(b)
	}
	f.Add([]byte("{}\n{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"session\"}\n{}"))
	f.Add([]byte("{}\n{\"type\":\"attachment\",\"length\":0}\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b)
		if err != nil {
			checkErr(t, err)
			return
		}
		events, total := 0, 0
		for _, it := range env.Items {
			if it.Type == "" {
				t.Fatal("item without a type")
			}
			if it.Type == ItemEvent {
				events++
			}
			total += len(it.Payload)
		}
		if events > 1 || len(env.Items) > MaxItems || total > len(b) {
			t.Fatalf("%d events, %d items, %d payload bytes of %d", events, len(env.Items), total, len(b))
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, b := range seedItems(f, ItemEvent) {
		f.Add(b)
	}
	f.Add([]byte(`{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC","timestamp":1.5e9,"tags":[["a",1]],"exception":[{"stacktrace":{"frames":[{"lineno":"7"}]}}]}`))
	f.Add([]byte(`{"message":{"formatted":"x"},"logentry":{"message":"y"},"fingerprint":[1,"{{ default }}"],"level":"WARN"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b, testNow)
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(ev.ID) != 32 || !isHex(ev.ID) || strings.ToLower(ev.ID) != ev.ID {
			t.Fatalf("event ID %q", ev.ID)
		}
		switch ev.Level {
		case "fatal", "error", "warning", "info", "debug":
		default:
			t.Fatalf("level %q", ev.Level)
		}
		if ev.Environment == "" || ev.Timestamp.Location().String() != "UTC" || !bytes.Equal(ev.Raw, b) {
			t.Fatalf("environment %q, timestamp %v, raw %q", ev.Environment, ev.Timestamp, ev.Raw)
		}
	})
}

func FuzzParseSession(f *testing.F) {
	for _, b := range seedItems(f, ItemSession) {
		f.Add(b)
	}
	for _, b := range seedItems(f, ItemSessions) {
		f.Add(b)
	}
	f.Add([]byte(`{"aggregates":[{"exited":4294967295,"crashed":1e99}],"attrs":{"release":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSession(b)
		if err != nil {
			checkErr(t, err)
		} else if c.Release == "" || c.Environment == "" || c.Started > 1 || c.Errored > 1 || c.Crashed+c.Abnormal > c.Errored {
			t.Fatalf("session counts %+v", c)
		}
		cs, err := ParseSessions(b)
		if err != nil {
			checkErr(t, err)
			return
		}
		for _, c := range cs {
			if c.Release == "" || c.Errored < 0 || c.Crashed+c.Abnormal > c.Errored || c.Errored > c.Started {
				t.Fatalf("sessions counts %+v", c)
			}
		}
	})
}

// fuzzEncodings are the Content-Encodings FuzzDecode picks from.
var fuzzEncodings = []string{"", "gzip", "deflate", "br", "zstd"}

func FuzzDecode(f *testing.F) {
	seeds := seedEnvelopes(f)
	for i, enc := range fuzzEncodings {
		for _, b := range seeds[:3] {
			in := b
			if enc != "" {
				in = compress(f, compressorFor(enc), b)
			}
			f.Add(uint8(i), in)
		}
	}
	f.Add(uint8(2), compress(f, "flate", seeds[0]))
	f.Add(uint8(1), compress(f, "gzip", make([]byte, 1<<20)))
	f.Fuzz(func(t *testing.T, which uint8, in []byte) {
		const limit = 64 << 10
		enc := fuzzEncodings[int(which)%len(fuzzEncodings)]
		out, err := Decode(enc, bytes.NewReader(in), limit)
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(out) > limit {
			t.Fatalf("%s: %d bytes over the limit of %d", enc, len(out), limit)
		}
	})
}

func FuzzDecodeStoreBody(f *testing.F) {
	for _, b := range seedItems(f, ItemEvent)[:3] {
		f.Add(b)
		f.Add([]byte(base64.StdEncoding.EncodeToString(compress(f, "zlib", b))))
	}
	f.Add([]byte("eJyrVspNLS5OTE9VslJKS8zJUaoFADQ6BhI="))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := DecodeStoreBody(b)
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(out) > MaxEnvelopeSize {
			t.Fatalf("%d bytes", len(out))
		}
	})
}

func FuzzParseAuthHeader(f *testing.F) {
	f.Add("Sentry sentry_version=7, sentry_client=sentry.go/0.50.0, sentry_key=0123456789abcdef0123456789abcdef")
	f.Add(`sentry_key="k",sentry_secret=s,SENTRY_VERSION=7`)
	f.Add("Sentry ,,=,=x,sentry_key")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthHeader(h)
		if err != nil {
			checkErr(t, err)
			return
		}
		if a.Key == "" {
			t.Fatal("no key and no error")
		}
	})
}

func FuzzParseDSN(f *testing.F) {
	for _, b := range seedEnvelopes(f) {
		if env, err := ParseEnvelope(b); err == nil && env.Header.DSN != "" {
			f.Add(env.Header.DSN)
		}
	}
	f.Add("https://abc:secret@[::1]:9000/sentry/path/42/")
	f.Add("http://a%20b@h/p%2Fq/7")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDSN(s)
		if err != nil {
			checkErr(t, err)
			return
		}
		again, err := ParseDSN(d.String())
		if err != nil || again != d {
			t.Fatalf("%q parsed as %+v, its String %q as %+v, %v", s, d, d.String(), again, err)
		}
		if !strings.HasSuffix(d.EnvelopeURL(), "/api/"+d.ProjectID+"/envelope/") {
			t.Fatalf("envelope URL %q", d.EnvelopeURL())
		}
	})
}

func FuzzGrouping(f *testing.F) {
	for _, b := range seedItems(f, ItemEvent) {
		f.Add(b)
	}
	f.Add([]byte(`{"platform":"go","fingerprint":["{{default}}","{{ message }}"],"exception":{"values":[{"type":"E","stacktrace":{"frames":[{"function":"a.func1.2","in_app":true},{"function":"a.func1.2","in_app":true}]}}]}}`))
	f.Add([]byte(`{"message":"user 'x' at 10.0.0.1 on 2024-01-02 sent 0xdeadbeef and 3.5s"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b, testNow)
		if err != nil {
			return
		}
		g1, err := Grouping(ev, GroupingVersion)
		if err != nil {
			t.Fatal(err)
		}
		g2, _ := Grouping(ev, GroupingVersion)
		if !reflect.DeepEqual(g1, g2) {
			t.Fatalf("grouping is not deterministic: %+v and %+v", g1, g2)
		}
		if len(g1.Hash) != 64 || len(g1.Components) == 0 || g1.Title == "" {
			t.Fatalf("group %+v", g1)
		}
		if len(g1.Title) > maxTitle+len("…") {
			t.Fatalf("title of %d bytes", len(g1.Title))
		}
	})
}

func FuzzNormalizeMessage(f *testing.F) {
	f.Add("payment 1234 for user 7f3c9a1e-2b4d-4c8e-9f10-aabbccddeeff failed after 3.5s")
	f.Add(`dial tcp [fe80::1]:80 "x" 'y' http://a.b/c?d=1. bob@x.io 2024-01-02T03:04:05Z`)
	f.Fuzz(func(t *testing.T, s string) {
		// Placeholders are local, so 256 bytes exercise them all; longer
		// inputs only slow the fuzzer down (and its minimisation with
		// it), as Go's regexp is slow under the fuzzer's instrumentation.
		if len(s) > 256 {
			return
		}
		out := NormalizeMessage(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("%q normalised to invalid UTF-8 %q", s, out)
		}
		if out != strings.TrimSpace(out) || strings.Contains(out, "  ") {
			t.Fatalf("white space not collapsed in %q", out)
		}
	})
}
