package spec

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		d    Duration
		json string
	}{
		{0, `"0s"`},
		{Duration(1500 * time.Millisecond), `"1.5s"`},
		{Duration(time.Minute), `"1m0s"`},
		{Duration(time.Nanosecond), `"1ns"`},
		{Duration(time.Hour + time.Nanosecond), `"1h0m0.000000001s"`},
		{Duration(-time.Second), `"-1s"`},
		{Duration(math.MaxInt64), `"2562047h47m16.854775807s"`},
		{Duration(math.MinInt64), `"-2562047h47m16.854775808s"`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.d)
		if err != nil || string(got) != tt.json {
			t.Errorf("Marshal(%d) = %s, %v; want %s", int64(tt.d), got, err, tt.json)
		}
		var back Duration
		if err := json.Unmarshal(got, &back); err != nil || back != tt.d {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", got, int64(back), err, int64(tt.d))
		}
	}
}

func TestDurationUnmarshalErrors(t *testing.T) {
	for _, in := range []string{`"fast"`, `1000`, `""`, `null`, `"1"`} {
		var d Duration
		err := json.Unmarshal([]byte(in), &d)
		if in == "null" { // encoding/json leaves the value alone for null
			if err != nil || d != 0 {
				t.Errorf("Unmarshal(null) = %v, %v", d, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", in, d)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"fast"`), &d); err == nil || !strings.Contains(err.Error(), `write it like "500ms"`) {
		t.Errorf("error does not say how to fix: %v", err)
	}
}

func TestDurationYAML(t *testing.T) {
	type holder struct {
		D Duration `yaml:"d"`
	}
	out, err := yaml.Marshal(holder{Duration(1500 * time.Millisecond)})
	if err != nil || string(out) != "d: 1.5s\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
	var h holder
	if err := yaml.Unmarshal([]byte("d: 2m\n"), &h); err != nil || h.D != Duration(2*time.Minute) {
		t.Errorf("Unmarshal = %v, %v", h.D, err)
	}
	for _, in := range []string{"d: fast\n", "d: [1s]\n"} {
		if err := yaml.Unmarshal([]byte(in), &h); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Unmarshal(%q) error = %v, want one naming line 1", in, err)
		}
	}
}

// TestAppJSONRoundTrip checks the server can store an App as JSON and read
// back exactly what it stored.
func TestAppJSONRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/parse/ok-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse("slipway.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	handmade := &App{
		Name:   "odd",
		Build:  Build{Command: "echo \"<&>\" \u2028 ✓", Output: "dist"},
		Run:    Run{Command: "./odd", Env: map[string]string{"EMPTY": "", "NL": "a\nb"}, DrainTimeout: Duration(time.Nanosecond)},
		Health: Health{Path: "/h", Interval: Duration(1500 * time.Millisecond), StartPeriod: Duration(math.MaxInt64)},
		Environments: map[string]Environment{
			"a": {Host: "a.localhost"},
			"b": {Host: "b.localhost", Replicas: 100, Config: map[string]string{"X": "\t"}},
		},
	}
	for _, a := range []*App{parsed, handmade, parsed.WithDefaults(), {}} {
		roundTripJSON(t, a)
	}
}

func roundTripJSON(t *testing.T, a *App) {
	t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var back App
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("Unmarshal %s: %v", data, err)
	}
	if !reflect.DeepEqual(a, &back) {
		t.Fatalf("JSON round trip changed the app:\n got %+v\nwant %+v\njson %s", &back, a, data)
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(data) {
		t.Fatalf("second encoding differs:\n%s\n%s", again, data)
	}
}
