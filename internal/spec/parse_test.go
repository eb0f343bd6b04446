package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseGolden parses every testdata/parse/*.yaml. Files named ok-* must
// parse; their golden file holds the App as JSON, defaults applied. All
// others must fail; their golden file holds the error text.
func TestParseGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/parse/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 20 {
		t.Fatalf("found %d inputs in testdata/parse, expected many more", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			app, err := Parse("slipway.yaml", data)
			var got []byte
			if strings.HasPrefix(name, "ok-") {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if err := app.Validate(); err != nil {
					t.Fatalf("Validate after Parse: %v", err)
				}
				got, err = json.MarshalIndent(app, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("Parse succeeded, want an error")
				}
				checkErrorList(t, err)
				got = []byte(err.Error())
			}
			checkGolden(t, strings.TrimSuffix(in, ".yaml")+".golden", append(got, '\n'))
		})
	}
}

// checkErrorList checks the shape of an error from Parse: an ErrorList of
// positioned entries in file order.
func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList", err)
	}
	if len(list) == 0 {
		t.Fatal("empty ErrorList returned as an error")
	}
	for i, e := range list {
		if e.File != "slipway.yaml" || e.Line < 1 || e.Column < 1 || e.Message == "" {
			t.Errorf("entry %d lacks file, position or message: %#v", i, e)
		}
		if i > 0 && (e.Line < list[i-1].Line || e.Line == list[i-1].Line && e.Column < list[i-1].Column) {
			t.Errorf("entry %d (%v) comes before entry %d (%v)", i, e, i-1, list[i-1])
		}
		var one *Error
		if !errors.As(err, &one) {
			t.Error("errors.As cannot reach an *Error in the list")
		}
	}
}
