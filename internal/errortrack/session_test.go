package errortrack

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSession(t *testing.T) {
	const attrs = `"attrs":{"release":"web@1.0","environment":"canary"}`
	counts := func(started, errored, crashed, abnormal int64) SessionCounts {
		return SessionCounts{Release: "web@1.0", Environment: "canary", Started: started, Errored: errored, Crashed: crashed, Abnormal: abnormal}
	}
	tests := []struct {
		name string
		in   string
		want SessionCounts
	}{
		{"init ok", `{"sid":"a","init":true,"status":"ok",` + attrs + `}`, counts(1, 0, 0, 0)},
		{"update ok", `{"sid":"a","status":"ok","errors":2,` + attrs + `}`, counts(0, 0, 0, 0)},
		{"no status is ok", `{"init":true,` + attrs + `}`, counts(1, 0, 0, 0)},
		{"exited clean", `{"status":"exited","errors":0,` + attrs + `}`, counts(0, 0, 0, 0)},
		{"exited with errors", `{"status":"exited","errors":3,` + attrs + `}`, counts(0, 1, 0, 0)},
		{"init and exited with errors", `{"init":true,"status":"exited","errors":1,` + attrs + `}`, counts(1, 1, 0, 0)},
		{"crashed", `{"init":true,"status":"crashed","errors":1,` + attrs + `}`, counts(1, 1, 1, 0)},
		{"crashed without errors", `{"status":"crashed",` + attrs + `}`, counts(0, 1, 1, 0)},
		{"abnormal", `{"status":"abnormal",` + attrs + `}`, counts(0, 1, 0, 1)},
		{"errored", `{"status":"errored",` + attrs + `}`, counts(0, 1, 0, 0)},
		{"unhandled", `{"status":"unhandled",` + attrs + `}`, counts(0, 1, 0, 0)},
		{"unknown status", `{"status":"weird","errors":5,` + attrs + `}`, counts(0, 0, 0, 0)},
		{"odd types", `{"init":"true","status":5,"errors":"x",` + attrs + `}`, counts(1, 0, 0, 0)},
		{"default environment", `{"init":true,"attrs":{"release":"web@1.0"}}`, SessionCounts{Release: "web@1.0", Environment: "production", Started: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSession([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseSession: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSessions(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []SessionCounts
	}{
		{
			name: "docs example",
			in: `{"aggregates":[{"started":"2020-02-07T14:16:00Z","exited":123},
				{"started":"2020-02-07T14:16:00Z","did":"u","exited":12,"errored":3}],
				"attrs":{"release":"my-project-name@1.0.0","environment":"development"}}`,
			want: []SessionCounts{{Release: "my-project-name@1.0.0", Environment: "development", Started: 138, Errored: 3}},
		},
		{
			name: "every count",
			in:   `{"aggregates":[{"exited":10,"errored":2,"unhandled":1,"abnormal":3,"crashed":4}],"attrs":{"release":"r"}}`,
			want: []SessionCounts{{Release: "r", Environment: "production", Started: 20, Errored: 10, Abnormal: 3, Crashed: 4}},
		},
		{
			name: "negative counts are 0, numeric strings count, huge ones are capped",
			in:   `{"aggregates":[{"exited":-5,"errored":"2","crashed":1e30},{"exited":1.9},7,null],"attrs":{"release":"r"}}`,
			want: []SessionCounts{{Release: "r", Environment: "production", Started: 2 + maxSessionCount + 1, Errored: 2 + maxSessionCount, Crashed: maxSessionCount}},
		},
		{
			name: "no aggregates",
			in:   `{"aggregates":[],"attrs":{"release":"r"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSessions([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseSessions: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSessionErrors(t *testing.T) {
	tests := []struct {
		name   string
		parse  func([]byte) error
		in     string
		reason string
	}{
		{"session not JSON", parseSessionErr, `x`, "session is not a JSON object"},
		{"session array", parseSessionErr, `[]`, "session is not a JSON object"},
		{"session no attrs", parseSessionErr, `{"init":true}`, "session has no release (attrs.release)"},
		{"session empty release", parseSessionErr, `{"attrs":{"release":""}}`, "session has no release"},
		{"session release an object", parseSessionErr, `{"attrs":{"release":{}}}`, "session has no release"},
		{"sessions not JSON", parseSessionsErr, `{`, "sessions item is not a JSON object"},
		{"sessions no release", parseSessionsErr, `{"aggregates":[{"exited":1}],"attrs":{"environment":"x"}}`, "sessions item has no release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse([]byte(tt.in))
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

func parseSessionErr(b []byte) error {
	_, err := ParseSession(b)
	return err
}

func parseSessionsErr(b []byte) error {
	_, err := ParseSessions(b)
	return err
}

// TestParseSessionReal adds up what @sentry/node sent for one process
// session that had an error and exited, and for one that crashed.
func TestParseSessionReal(t *testing.T) {
	var total SessionCounts
	for _, name := range []string{"node/session_init.envelope", "node/session_exited.envelope", "node/crash_session.envelope"} {
		for _, it := range readEnvelope(t, name).Items {
			if it.Type != ItemSession {
				t.Fatalf("%s: item type %q", name, it.Type)
			}
			c, err := ParseSession(it.Payload)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if c.Release != "shop-node@2.0.0" || c.Environment != "staging" {
				t.Errorf("%s: release %q environment %q", name, c.Release, c.Environment)
			}
			total.Started += c.Started
			total.Errored += c.Errored
			total.Crashed += c.Crashed
			total.Abnormal += c.Abnormal
		}
	}
	if want := (SessionCounts{Started: 2, Errored: 2, Crashed: 1}); total != want {
		t.Errorf("total %+v, want %+v", total, want)
	}

	it := readEnvelope(t, "node/sessions.envelope").Items[0]
	got, err := ParseSessions(it.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := []SessionCounts{{Release: "shop-node@2.0.0", Environment: "staging", Started: 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sessions %+v, want %+v", got, want)
	}
}
