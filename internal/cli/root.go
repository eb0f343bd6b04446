// Package cli implements the slipway command line: a thin layer of cobra
// commands over the API client and the control plane.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/controlplane"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		fmt.Fprintln(stderr, "Run with --help for usage.")
		return ExitUsage
	}
	return ExitFailure
}

// globals are the flags every client command shares.
type globals struct {
	stdout, stderr io.Writer
	server         string
	dataDir        string
	json           bool
}

func defaultDataDir() string {
	if d := os.Getenv("SLIPWAY_DATA"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".slipway"
	}
	return filepath.Join(home, ".slipway")
}

func (g *globals) client() (*api.Client, error) {
	server := g.server
	if server == "" {
		server = os.Getenv("SLIPWAY_SERVER")
	}
	if server == "" {
		server = "http://127.0.0.1:7070"
	}
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	token := os.Getenv("SLIPWAY_TOKEN")
	if token == "" {
		t, err := controlplane.ReadToken(g.dataDir)
		if err != nil {
			return nil, fmt.Errorf("no API token: set SLIPWAY_TOKEN, or point --data at the server's data dir (tried %s: %v)", filepath.Join(g.dataDir, controlplane.TokenFile), err)
		}
		token = t
	}
	return api.NewClient(server, token), nil
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Slipway deploys apps with zero downtime and an undo button",
		Long:          "Slipway builds your app into an immutable artifact, deploys it as numbered releases to isolated\nenvironments through its own proxy with zero downtime, and rolls back to any earlier release without rebuilding.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "Slipway server URL (default $SLIPWAY_SERVER or http://127.0.0.1:7070)")
	pf.StringVar(&g.dataDir, "data", defaultDataDir(), "data dir of the server ($SLIPWAY_DATA); clients read the API token from it unless $SLIPWAY_TOKEN is set")
	root.AddCommand(
		newServerCmd(g), newProxyCmd(), newShimCmd(),
		newPlanCmd(g), newApplyCmd(g), newDeployCmd(g), newPromoteCmd(g), newRollbackCmd(g),
		newReleasesCmd(g), newStatusCmd(g), newLogsCmd(g), newConfigCmd(g),
		newRolloutCmd(g), newApproveCmd(g), newApprovalsCmd(g), newDemoCmd(g), newSchemaCmd(g), newVersionCmd(g),
		newSecretCmd(g), newDiffCmd(g),
		newUserCmd(g), newTokenCmd(g), newWhoamiCmd(g), newAuditCmd(g),
		newRunCmd(g), newRunsCmd(g),
		newSourceCmd(g), newCandidatesCmd(g),
		newErrorsCmd(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs that reports a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), n, names, len(args))
		}
		return nil
	}
}

func addJSON(cmd *cobra.Command, g *globals) {
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON instead of text")
}

func requireFlag(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			return usagef("%s needs --%s", cmd.CommandPath(), n)
		}
	}
	return nil
}
