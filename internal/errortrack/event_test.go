package errortrack

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEventFields(t *testing.T) {
	tr, fa := true, false
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, ev *Event)
	}{
		{
			name: "defaults",
			in:   `{}`,
			check: func(t *testing.T, ev *Event) {
				want := Event{ID: ev.ID, Timestamp: testNow, Level: "error", Environment: "production", Raw: ev.Raw}
				if !reflect.DeepEqual(*ev, want) {
					t.Errorf("got %+v, want %+v", *ev, want)
				}
				if len(ev.ID) != 32 || !isHex(ev.ID) || strings.ToLower(ev.ID) != ev.ID {
					t.Errorf("generated ID %q is not 32 lowercase hex digits", ev.ID)
				}
			},
		},
		{
			name: "plain fields",
			in: `{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC","platform":"python","level":"WARNING",
				"release":"web@1.0","environment":"canary","server_name":"web-1","logger":"app.db",
				"transaction":"/api/orders","message":"hello"}`,
			check: func(t *testing.T, ev *Event) {
				got := [...]string{ev.ID, ev.Platform, ev.Level, ev.Release, ev.Environment, ev.ServerName, ev.Logger, ev.Transaction, ev.Message}
				want := [...]string{"9ec79c33ec9942ab8353589fcb2e04dc", "python", "warning", "web@1.0", "canary", "web-1", "app.db", "/api/orders", "hello"}
				if got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			},
		},
		{
			name: "numbers where strings belong",
			in:   `{"release":1.5,"environment":7,"server_name":true,"platform":{"x":1}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Release != "1.5" || ev.Environment != "7" || ev.ServerName != "true" || ev.Platform != "" {
					t.Errorf("got release %q environment %q server %q platform %q", ev.Release, ev.Environment, ev.ServerName, ev.Platform)
				}
			},
		},
		{
			name: "exception values object",
			in: `{"exception":{"values":[{"type":"ValueError","value":"bad","module":"app.x",
				"mechanism":{"type":"generic","handled":false},
				"stacktrace":{"frames":[{"function":"main","module":"app","filename":"app.py","abs_path":"/srv/app.py","lineno":3,"in_app":true},
				{"function":"f","lineno":"12","in_app":false},{"function":"g"}]}}]}}`,
			check: func(t *testing.T, ev *Event) {
				want := []Exception{{
					Type: "ValueError", Value: "bad", Module: "app.x", Mechanism: "generic", Handled: &fa,
					Frames: []Frame{
						{Function: "main", Module: "app", Filename: "app.py", AbsPath: "/srv/app.py", Lineno: 3, InApp: &tr},
						{Function: "f", Lineno: 12, InApp: &fa},
						{Function: "g"},
					},
				}}
				if !reflect.DeepEqual(ev.Exceptions, want) {
					t.Errorf("got %s, want %s", dump(ev.Exceptions), dump(want))
				}
			},
		},
		{
			name: "exception bare array, odd entries skipped",
			in:   `{"exception":[{"type":"A"},5,null,{"type":"B","value":12,"stacktrace":{"frames":[1,{"function":7,"lineno":-3,"in_app":"yes"}]},"mechanism":{"synthetic":true,"handled":"true"}}]}`,
			check: func(t *testing.T, ev *Event) {
				want := []Exception{{Type: "A"}, {Type: "B", Value: "12", Handled: &tr, Synthetic: true, Frames: []Frame{{Function: "7"}}}}
				if !reflect.DeepEqual(ev.Exceptions, want) {
					t.Errorf("got %s, want %s", dump(ev.Exceptions), dump(want))
				}
			},
		},
		{
			name: "exception of the wrong shape is ignored",
			in:   `{"exception":"boom","message":"m"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Exceptions != nil || ev.Message != "m" {
					t.Errorf("exceptions %v message %q", ev.Exceptions, ev.Message)
				}
			},
		},
		{
			name: "legacy interface names",
			in:   `{"sentry.interfaces.Message":{"message":"legacy %s","params":["x"]},"sentry.interfaces.Exception":{"values":[{"type":"ValueError"}]}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Message != "legacy %s" || len(ev.Exceptions) != 1 || ev.Exceptions[0].Type != "ValueError" {
					t.Errorf("message %q exceptions %s", ev.Message, dump(ev.Exceptions))
				}
			},
		},
		{
			name: "current names win over legacy ones",
			in:   `{"exception":[{"type":"A"}],"sentry.interfaces.Exception":{"values":[{"type":"B"}]}}`,
			check: func(t *testing.T, ev *Event) {
				if len(ev.Exceptions) != 1 || ev.Exceptions[0].Type != "A" {
					t.Errorf("exceptions %s", dump(ev.Exceptions))
				}
			},
		},
		{
			name:  "message object formatted",
			in:    `{"message":{"message":"user %s","formatted":"user bob","params":["bob"]}}`,
			check: wantMessage("user bob"),
		},
		{
			name:  "message object without formatted",
			in:    `{"message":{"message":"user %s","params":["bob"]}}`,
			check: wantMessage("user %s"),
		},
		{
			name:  "logentry wins over message",
			in:    `{"message":"plain","logentry":{"message":"tmpl %d","formatted":"tmpl 5"}}`,
			check: wantMessage("tmpl 5"),
		},
		{
			name:  "logentry message",
			in:    `{"logentry":{"message":"tmpl %d","params":[5]}}`,
			check: wantMessage("tmpl %d"),
		},
		{
			name:  "empty logentry falls back to message",
			in:    `{"message":"plain","logentry":{}}`,
			check: wantMessage("plain"),
		},
		{
			name:  "tags object",
			in:    `{"tags":{"a":"x","n":5,"b":true,"o":{"k":[1, 2]},"z":null,"":"empty key"}}`,
			check: wantTags(map[string]string{"a": "x", "n": "5", "b": "true", "o": `{"k":[1,2]}`}),
		},
		{
			name:  "tags pairs",
			in:    `{"tags":[["a","x"],["n",5],["bad"],"x",["z",null],[3,"k"]]}`,
			check: wantTags(map[string]string{"a": "x", "n": "5", "3": "k"}),
		},
		{
			name:  "tags empty",
			in:    `{"tags":[]}`,
			check: wantTags(nil),
		},
		{
			name: "fingerprint",
			in:   `{"fingerprint":["{{ default }}",42,1.5,true,null,{"a":1},"x"]}`,
			check: func(t *testing.T, ev *Event) {
				if want := []string{"{{ default }}", "42", "1.5", "true", "x"}; !reflect.DeepEqual(ev.Fingerprint, want) {
					t.Errorf("fingerprint = %q, want %q", ev.Fingerprint, want)
				}
			},
		},
		{
			name: "fingerprint not a list",
			in:   `{"fingerprint":"x"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Fingerprint != nil {
					t.Errorf("fingerprint = %q, want none", ev.Fingerprint)
				}
			},
		},
		{
			name: "raw is a copy",
			in:   `{"message":"m"}`,
			check: func(t *testing.T, ev *Event) {
				if string(ev.Raw) != `{"message":"m"}` {
					t.Errorf("raw = %s", ev.Raw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.in), testNow)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			tt.check(t, ev)
		})
	}
}

func wantMessage(want string) func(*testing.T, *Event) {
	return func(t *testing.T, ev *Event) {
		t.Helper()
		if ev.Message != want {
			t.Errorf("message = %q, want %q", ev.Message, want)
		}
	}
}

func wantTags(want map[string]string) func(*testing.T, *Event) {
	return func(t *testing.T, ev *Event) {
		t.Helper()
		if !reflect.DeepEqual(ev.Tags, want) {
			t.Errorf("tags = %q, want %q", ev.Tags, want)
		}
	}
}

func dump(excs []Exception) string {
	var b strings.Builder
	for _, ex := range excs {
		fmt.Fprintf(&b, "{%s %q %s %s %v synthetic=%v [", ex.Type, ex.Value, ex.Module, ex.Mechanism, fmtBool(ex.Handled), ex.Synthetic)
		for _, f := range ex.Frames {
			fmt.Fprintf(&b, "%+v in_app=%s ", f, fmtBool(f.InApp))
		}
		b.WriteString("]}")
	}
	return b.String()
}

func fmtBool(b *bool) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprint(*b)
}

func TestParseEventTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{`"2020-02-07T14:16:00Z"`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`"2020-02-07T14:16:00.123456Z"`, time.Date(2020, 2, 7, 14, 16, 0, 123456000, time.UTC)},
		{`"2020-02-07T15:16:00+01:00"`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`"2020-02-07T14:16:00"`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`"2020-02-07T14:16:00.5"`, time.Date(2020, 2, 7, 14, 16, 0, 500000000, time.UTC)},
		{`"2020-02-07 14:16:00"`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`1581084960`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`1581084960.25`, time.Date(2020, 2, 7, 14, 16, 0, 250000000, time.UTC)},
		{`"1581084960.25"`, time.Date(2020, 2, 7, 14, 16, 0, 250000000, time.UTC)},
		{`1.58108496e9`, time.Date(2020, 2, 7, 14, 16, 0, 0, time.UTC)},
		{`null`, testNow},
		{`"yesterday"`, testNow},
		{`""`, testNow},
		{`-5`, testNow},
		{`1e300`, testNow},
		{`"20200-02-07T14:16:00Z"`, testNow},
		{`true`, testNow},
		{`{"a":1}`, testNow},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ev, err := ParseEvent([]byte(`{"timestamp":`+tt.in+`}`), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Timestamp.Equal(tt.want) || ev.Timestamp.Location() != time.UTC {
				t.Errorf("timestamp = %v, want %v UTC", ev.Timestamp, tt.want)
			}
		})
	}
}

func TestParseEventLevel(t *testing.T) {
	for in, want := range map[string]string{
		`"fatal"`: "fatal", `"error"`: "error", `"warning"`: "warning", `"info"`: "info", `"debug"`: "debug",
		`"Warn"`: "warning", `"CRITICAL"`: "fatal", `" info "`: "info", `"log"`: "error", `""`: "error",
		`null`: "error", `40`: "error",
	} {
		ev, err := ParseEvent([]byte(`{"level":`+in+`}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Level != want {
			t.Errorf("level %s = %q, want %q", in, ev.Level, want)
		}
	}
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{``, "event is not a JSON object"},
		{`[]`, "event is not a JSON object"},
		{`null`, "event is not a JSON object"},
		{`"x"`, "event is not a JSON object"},
		{`{"a":`, "event is not a JSON object"},
		{`{} {}`, "event is not a JSON object"},
		{`{"event_id":"xyz"}`, `event_id "xyz" is not 32 hex digits`},
		{`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc00"}`, "is not 32 hex digits"},
		{`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dg"}`, "is not 32 hex digits"},
		{`{"event_id":42}`, "event_id must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.in), testNow)
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

func TestParseEventGeneratesIDs(t *testing.T) {
	a, _ := ParseEvent([]byte(`{"event_id":null}`), testNow)
	b, _ := ParseEvent([]byte(`{"event_id":""}`), testNow)
	if a.ID == b.ID || len(a.ID) != 32 || len(b.ID) != 32 {
		t.Errorf("generated IDs %q and %q", a.ID, b.ID)
	}
}

// TestParseEventReal checks what is read from the real SDKs' events.
func TestParseEventReal(t *testing.T) {
	tr := true
	goPanic := readEvent(t, "go/panic.envelope")
	if goPanic.Platform != "go" || goPanic.Level != "fatal" || goPanic.Release != "shop@1.2.3" || goPanic.Environment != "staging" {
		t.Errorf("go panic: %q %q %q %q", goPanic.Platform, goPanic.Level, goPanic.Release, goPanic.Environment)
	}
	if want := time.Date(2026, 11, 22, 0, 3, 23, 830080557, time.UTC); !goPanic.Timestamp.Equal(want) {
		t.Errorf("go panic timestamp %v, want %v", goPanic.Timestamp, want)
	}
	if len(goPanic.Exceptions) != 1 {
		t.Fatalf("go panic: %d exceptions", len(goPanic.Exceptions))
	}
	last := goPanic.Exceptions[0].Frames[len(goPanic.Exceptions[0].Frames)-1]
	if want := (Frame{Function: "Checkout", Module: "capture/shop", AbsPath: "/tmp/capture/shop/shop.go", Lineno: 42, InApp: &tr}); !reflect.DeepEqual(last, want) {
		t.Errorf("go panic crashing frame %+v, want %+v", last, want)
	}

	wrapped := readEvent(t, "go/wrapped.envelope")
	if len(wrapped.Exceptions) != 2 || wrapped.Exceptions[0].Type != "*shop.NotFoundError" || wrapped.Exceptions[1].Type != "*fmt.wrapError" ||
		wrapped.Exceptions[0].Mechanism != "chained" || len(wrapped.Exceptions[0].Frames) != 0 || len(wrapped.Exceptions[1].Frames) == 0 {
		t.Errorf("go wrapped: %s", dump(wrapped.Exceptions))
	}

	fp := readEvent(t, "go/fingerprint_default.envelope")
	if want := []string{"{{ default }}", "eu-west"}; !reflect.DeepEqual(fp.Fingerprint, want) {
		t.Errorf("go fingerprint %q, want %q", fp.Fingerprint, want)
	}

	msg := readEvent(t, "go/message_1.envelope")
	if msg.Level != "info" || msg.Exceptions != nil || !strings.HasPrefix(msg.Message, "payment 1234 for user") {
		t.Errorf("go message: level %q, %d exceptions, message %q", msg.Level, len(msg.Exceptions), msg.Message)
	}

	node := readEvent(t, "node/typeerror.envelope")
	if want := time.Date(2026, 11, 22, 0, 3, 39, 756000000, time.UTC); node.Timestamp.Sub(want).Abs() > time.Microsecond {
		t.Errorf("node timestamp %v, want %v", node.Timestamp, want)
	}
	if len(node.Exceptions) != 1 || node.Exceptions[0].Type != "TypeError" || node.Exceptions[0].Handled == nil || !*node.Exceptions[0].Handled {
		t.Errorf("node typeerror: %s", dump(node.Exceptions))
	}

	nodeMsg := readEvent(t, "node/message.envelope")
	if len(nodeMsg.Exceptions) != 1 || !nodeMsg.Exceptions[0].Synthetic || nodeMsg.Exceptions[0].Type != "" ||
		nodeMsg.Message != "cache miss for key user:1234 after 250ms" {
		t.Errorf("node message: %q %s", nodeMsg.Message, dump(nodeMsg.Exceptions))
	}

	crash := readEvent(t, "node/crash_event.envelope.gz")
	if ex := crash.Exceptions[0]; crash.Level != "fatal" || ex.Mechanism != "auto.node.onuncaughtexception" || ex.Handled == nil || *ex.Handled {
		t.Errorf("node crash: level %q %s", crash.Level, dump(crash.Exceptions))
	}
}
