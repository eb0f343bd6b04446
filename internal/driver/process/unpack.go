package process

import (
	"fmt"
	"os"

	"github.com/slipway-dev/slipway/internal/artifact"
)

// unpack extracts the artifact file into the existing directory dest with
// artifact.Unpack, which refuses any entry that would land outside dest.
func unpack(path, dest string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("unpack artifact: %w", err)
	}
	defer f.Close()
	if err := artifact.Unpack(f, dest); err != nil {
		return fmt.Errorf("unpack artifact %s: %w", path, err)
	}
	return nil
}
