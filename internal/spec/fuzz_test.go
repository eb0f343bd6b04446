package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. Parse must never panic and must be
// deterministic; an error must be a positioned ErrorList; a success must
// pass Validate, diff as unchanged against itself and survive a JSON round
// trip unchanged.
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob("testdata/parse/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := Parse("slipway.yaml", data)
		_, again := Parse("slipway.yaml", data)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("Parse is not deterministic:\n%v\n---\n%v", err, again)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "slipway.yaml" || e.Line < 1 || e.Column < 1 || e.Message == "" {
					t.Fatalf("entry lacks file, position or message: %#v", e)
				}
			}
			if app != nil {
				t.Fatal("Parse returned both an app and an error")
			}
			return
		}
		if err := app.Validate(); err != nil {
			t.Fatalf("parsed app fails Validate: %v\ninput:\n%s", err, data)
		}
		if changes := Diff(app, app); len(changes) != 0 {
			t.Fatalf("app differs from itself: %v", changes)
		}
		encoded, err := json.Marshal(app)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back App
		if err := json.Unmarshal(encoded, &back); err != nil {
			t.Fatalf("Unmarshal %s: %v", encoded, err)
		}
		if !reflect.DeepEqual(app, &back) {
			t.Fatalf("JSON round trip changed the app:\n got %#v\nwant %#v", &back, app)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("app read back from JSON fails Validate: %v", err)
		}
	})
}
