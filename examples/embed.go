// Package examples carries the sample apps' sources inside the slipway
// binary, so `slipway demo` works from any directory.
package examples

import "embed"

// Hello is the source of examples/hello.
//
//go:embed hello/main.go hello/release.go hello/slipway.yaml
var Hello embed.FS
