// Command slipway deploys apps with zero downtime and an undo button.
package main

import (
	"context"
	"os"

	"github.com/slipway-dev/slipway/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
