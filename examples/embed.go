// Package examples carries the sample apps' sources inside the slipway
// binary, so `slipway demo` works from any directory.
package examples

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Hello is the source of examples/hello. Its go.mod.in and go.sum.in
// become go.mod and go.sum where it is unpacked as a module of its own
// (inside this repository it builds as part of Slipway's module).
//
//go:embed hello/main.go hello/release.go hello/slipway.yaml hello/go.mod.in hello/go.sum.in
var Hello embed.FS

// UnpackHello writes examples/hello into dir as a module of its own,
// like a developer's checkout.
func UnpackHello(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(Hello, "hello", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := Hello.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, strings.TrimSuffix(strings.TrimPrefix(p, "hello/"), ".in")), raw, 0o644)
	})
}
