package spec

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// String formats d the way time.Duration does ("1.5s", "1m0s"); the result
// parses back to exactly d.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a duration string, so JSON stores "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string such as "500ms" or "2m".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it like \"500ms\" or \"2s\"", text)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string. Parse does not use it (it walks the
// YAML itself to report every problem); it serves callers that decode a
// Duration with yaml.Unmarshal.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a single value like \"2s\"", n.Line)
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
