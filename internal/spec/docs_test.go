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
