package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

// envRead builds a read command `USE APP --env ENV` that fetches with get
// and prints JSON with --json, otherwise a table: header, then one row per
// item. env is the (possibly shared) --env flag's value.
func envRead[T any](g *globals, use, short string, env *string, get func(*api.Client, context.Context, string, string) ([]T, error),
	empty, header string, row func(T) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if *env == "" {
				return usagef("%s needs --env", cmd.CommandPath())
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			items, err := get(c, cmd.Context(), args[0], *env)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(items)
			}
			if len(items) == 0 && empty != "" {
				fmt.Fprintf(g.stdout, empty+"\n", args[0], *env)
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, header)
			for _, it := range items {
				fmt.Fprintln(tw, row(it))
			}
			return tw.Flush()
		},
	}
	addJSON(cmd, g)
	return cmd
}

// idCommand builds a command `USE ID` that parses its argument with
// parse, calls the API with call, and prints the answer as JSON with
// --json, otherwise with text.
func idCommand[T any](g *globals, use, short string, parse func(string) (int64, error),
	call func(context.Context, *api.Client, int64) (T, error), text func(T) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, strings.Fields(use)[1]),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parse(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := call(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			return text(v)
		},
	}
	addJSON(cmd, g)
	return cmd
}

func newReleasesCmd(g *globals) *cobra.Command {
	var env string
	cmd := envRead(g, "releases APP --env ENV", "List the releases of an environment, newest first", &env, (*api.Client).Releases,
		"%[1]s/%[2]s has no releases yet. Deploy with `slipway deploy -f slipway.yaml --env %[2]s`.",
		"RELEASE\tARTIFACT\tCONFIG\tSTATUS\tSOURCE\tBY\tCREATED\tDURATION\tREASON",
		func(r store.Release) string {
			dur := "-"
			if d := r.Duration(); d > 0 {
				dur = d.Round(time.Millisecond).String()
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.Number, shortDigest(r.Artifact), r.ConfigHash,
				r.Status, r.Source, r.CreatedBy, ago(r.CreatedAt), dur, r.Reason)
		})
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	return cmd
}

func newStatusCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "status [APP [--env ENV]]",
		Short: "Show what runs where: live release, instances, the latest rollout",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("status takes at most one argument, APP")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				apps, err := c.Apps(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(apps)
				}
				if len(apps) == 0 {
					fmt.Fprintln(g.stdout, "No apps yet. Deploy one with `slipway deploy -f slipway.yaml --env staging`.")
				}
				for _, a := range apps {
					var parts []string
					for env, n := range a.Environments {
						parts = append(parts, fmt.Sprintf("%s: release %d", env, n))
					}
					fmt.Fprintf(g.stdout, "%s\t%s\n", a.Name, strings.Join(parts, ", "))
				}
				return nil
			}
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(st)
			}
			printStatus(g, st)
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	addJSON(cmd, g)
	return cmd
}

func printStatus(g *globals, st api.EnvStatus) {
	fmt.Fprintf(g.stdout, "%s/%s  %s\n", st.App, st.Env, st.URL)
	if st.Live == nil {
		fmt.Fprintln(g.stdout, "  live: nothing yet")
	} else {
		fmt.Fprintf(g.stdout, "  live: release %d (artifact %s, config %s, %s)\n", st.Live.Number, shortDigest(st.Live.Artifact), st.Live.ConfigHash, st.Live.Source)
	}
	for _, in := range st.Instances {
		extra := ""
		if in.Restarts > 0 {
			extra = fmt.Sprintf(", %d restarts, last exit: %s", in.Restarts, in.LastExit)
		}
		fmt.Fprintf(g.stdout, "  instance %s  release %d  %s  %s  up %s%s\n", in.ID, in.Release, in.Addr, in.State, ago(in.StartedAt), extra)
	}
	if ro := st.Rollout; ro != nil {
		line := fmt.Sprintf("  latest rollout %d: release %d → %d, %s (%s)", ro.ID, ro.FromRelease, ro.ToRelease, ro.State, ro.Phase)
		if ro.Reason != "" {
			line += ": " + ro.Reason
		}
		fmt.Fprintln(g.stdout, line)
	}
}

func newLogsCmd(g *globals) *cobra.Command {
	var env string
	var opts api.LogOptions
	cmd := &cobra.Command{
		Use:   "logs APP --env ENV [-f]",
		Short: "Print the logs of an environment's instances (the live release by default)",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if !g.json {
				return c.Logs(cmd.Context(), args[0], env, opts, g.stdout)
			}
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := c.Logs(cmd.Context(), args[0], env, opts, pw)
				pw.CloseWithError(err)
				done <- err
			}()
			enc := json.NewEncoder(g.stdout)
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				id, line, _ := strings.Cut(sc.Text(), " | ")
				if err := enc.Encode(map[string]string{"instance": id, "line": line}); err != nil {
					pr.CloseWithError(err)
					break
				}
			}
			return <-done
		},
	}
	addJSON(cmd, g)
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&opts.Tail, "tail", "n", 100, "lines per instance to start with")
	cmd.Flags().IntVar(&opts.Release, "release", 0, "release whose instances to read (default: the live one)")
	return cmd
}

func newConfigCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "List or change an environment's config (a change rolls out a new release)",
	}
	cmd.PersistentFlags().StringVarP(&env, "env", "e", "", "environment")
	list := envRead(g, "list APP --env ENV", "List the effective config and where each value comes from", &env, (*api.Client).Config,
		"", "KEY\tVALUE\tSOURCE", func(e api.ConfigEntry) string { return e.Key + "\t" + e.Value + "\t" + e.Source })
	change := func(use, short string, unset bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) < 2 {
					return usagef("%s needs APP and at least one %s", cmd.CommandPath(), map[bool]string{false: "KEY=VALUE", true: "KEY"}[unset])
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				if env == "" {
					return usagef("%s needs --env", cmd.CommandPath())
				}
				req := api.ConfigRequest{}
				if unset {
					req.Unset = args[1:]
				} else {
					req.Set = map[string]string{}
					for _, kv := range args[1:] {
						k, v, ok := strings.Cut(kv, "=")
						if !ok {
							return usagef("%q is not KEY=VALUE", kv)
						}
						req.Set[k] = v
					}
				}
				c, err := g.client()
				if err != nil {
					return err
				}
				started := time.Now()
				ro, err := c.SetConfig(cmd.Context(), args[0], env, req)
				if err != nil {
					return err
				}
				res, err := wait(cmd.Context(), c, ro, started)
				if err != nil {
					return err
				}
				return g.report(res, "config change")
			},
		}
		addJSON(c, g)
		return c
	}
	cmd.AddCommand(list,
		change("set APP KEY=VALUE... --env ENV", "Set config values and roll out a release with them", false),
		change("unset APP KEY... --env ENV", "Remove config values set with `config set` and roll out", true))
	return cmd
}

func newSchemaCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of slipway.yaml (for editors)",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.stdout.Write(spec.JSONSchema())
			return err
		},
	}
}

func newVersionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.json {
				return g.printJSON(map[string]string{"version": Version})
			}
			_, err := fmt.Fprintf(g.stdout, "slipway %s\n", Version)
			return err
		},
	}
	addJSON(cmd, g)
	return cmd
}
