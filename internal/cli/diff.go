package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/release"
)

// errDiffers makes `diff --exit-code` exit 1 without printing an error.
var errDiffers = errors.New("the environments differ (--exit-code)")

func newDiffCmd(g *globals) *cobra.Command {
	var app, file string
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff ENV_A ENV_B [--app APP | -f slipway.yaml]",
		Short: "Show what differs between two environments: config, secret names, artifact, commit, replicas and runtime settings",
		Long: "Compares the live releases of two environments of an app (an environment with nothing live shows\n" +
			"what its next release would pin): config keys and values, secrets by name only, artifact and\n" +
			"commit, replicas, run, health, rollout and secret_files. The app is --app, or the name in -f.",
		Args: exactArgs(2, "ENV_A ENV_B"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == args[1] {
				return usagef("diff needs two different environments")
			}
			if app == "" {
				if !cmd.Flags().Changed("file") {
					if _, err := os.Stat(file); err != nil {
						return usagef("diff needs --app APP, or -f slipway.yaml to take the app's name from")
					}
				}
				spec, _, err := loadSpec(file)
				if err != nil {
					return err
				}
				app = spec.Name
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.Diff(cmd.Context(), app, args[0], args[1])
			if err != nil {
				return err
			}
			if g.json {
				err = g.printJSON(p)
			} else {
				printParity(g.stdout, p)
			}
			if err == nil && exitCode && !p.Same() {
				return errDiffers
			}
			return err
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "the app (default: the name in -f)")
	cmd.Flags().StringVarP(&file, "file", "f", "slipway.yaml", "spec to take the app's name from when --app is not given")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the environments differ")
	addJSON(cmd, g)
	return cmd
}

// printParity writes the report for people: each section says "same" or
// lists what differs. Secret values are never in it.
func printParity(w io.Writer, p release.Parity) {
	a, b := p.A.Env, p.B.Env
	side := func(s release.EnvState) string {
		if s.Release == 0 {
			return s.Env + " (nothing live)"
		}
		return fmt.Sprintf("%s (release %d)", s.Env, s.Release)
	}
	fmt.Fprintf(w, "%s: %s vs %s\n", p.App, side(p.A), side(p.B))
	orNone := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	if p.ArtifactDiffers {
		fmt.Fprintf(w, "artifact: %s: %s, %s: %s\n", a, orNone(shortDigest(p.A.Artifact)), b, orNone(shortDigest(p.B.Artifact)))
	} else {
		fmt.Fprintf(w, "artifact: same (%s)\n", orNone(shortDigest(p.A.Artifact)))
	}
	if p.CommitDiffers {
		fmt.Fprintf(w, "commit: %s: %s, %s: %s\n", a, orNone(p.A.Commit), b, orNone(p.B.Commit))
	} else if p.A.Commit != "" {
		fmt.Fprintf(w, "commit: same (%s)\n", p.A.Commit)
	}
	section := func(title string, onlyA, onlyB []string, differ []release.Difference) {
		if len(onlyA)+len(onlyB)+len(differ) == 0 {
			fmt.Fprintf(w, "%s: same\n", title)
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		if len(onlyA) > 0 {
			fmt.Fprintf(w, "  only in %s: %s\n", a, strings.Join(onlyA, ", "))
		}
		if len(onlyB) > 0 {
			fmt.Fprintf(w, "  only in %s: %s\n", b, strings.Join(onlyB, ", "))
		}
		for _, d := range differ {
			fmt.Fprintf(w, "  %s: %s: %s, %s: %s\n", d.Key, a, orNone(d.A), b, orNone(d.B))
		}
	}
	var config []release.Difference
	for _, d := range p.ConfigDiffers {
		config = append(config, release.Difference{Key: d.Key, A: fmt.Sprintf("%q", d.A), B: fmt.Sprintf("%q", d.B)})
	}
	section("config", p.ConfigOnlyInA, p.ConfigOnlyInB, config)
	section("secrets (names only)", p.SecretsOnlyInA, p.SecretsOnlyInB, nil)
	section("settings", nil, nil, p.Settings)
	if p.Same() {
		fmt.Fprintln(w, "No differences.")
	}
}
