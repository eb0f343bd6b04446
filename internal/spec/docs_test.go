package spec

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedSpecsParse keeps the reference and the example app honest:
// every complete spec in docs/spec.md (a yaml block with a build section)
// and examples/hello/slipway.yaml must parse.
func TestDocumentedSpecsParse(t *testing.T) {
	doc, err := os.ReadFile("../../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	complete := 0
	for _, b := range blocks {
		if !strings.Contains(b[1], "\nbuild:") {
			continue
		}
		complete++
		if _, err := Parse("docs/spec.md", []byte(b[1])); err != nil {
			t.Errorf("spec in docs/spec.md does not parse: %v\n%s", err, b[1])
		}
	}
	if complete < 2 {
		t.Errorf("found %d complete specs in docs/spec.md, want at least 2", complete)
	}
	example, err := os.ReadFile("../../examples/hello/slipway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("examples/hello/slipway.yaml", example); err != nil {
		t.Errorf("the example app's spec does not parse: %v", err)
	}
}

// TestCompleteExampleMatchesGolden keeps the complete example of
// docs/spec.md, the one with every section, and testdata/parse/ok-delivery
// describing the same app, so the golden file pins what the docs show.
func TestCompleteExampleMatchesGolden(t *testing.T) {
	doc, err := os.ReadFile("../../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/parse/ok-delivery.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse("ok-delivery.yaml", golden)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if !strings.Contains(b[1], "\npipeline:") || !strings.Contains(b[1], "\nbuild:") {
			continue
		}
		got, err := Parse("docs/spec.md", []byte(b[1]))
		if err != nil {
			t.Fatal(err)
		}
		if changes := Diff(want, got); len(changes) != 0 {
			t.Errorf("the complete example in docs/spec.md differs from testdata/parse/ok-delivery.yaml:\n%s", FormatChanges(changes))
		}
		return
	}
	t.Error("docs/spec.md has no complete example with a pipeline")
}
