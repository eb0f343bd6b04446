package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// runWait is how `run` and `runs rerun` follow the run they started.
type runWait struct {
	noWait bool
}

func (rw *runWait) flags(cmd *cobra.Command, g *globals) {
	cmd.Flags().BoolVar(&rw.noWait, "no-wait", false, "return once the run is queued")
	addJSON(cmd, g)
}

// follow prints the logs of a started run as they come (not with --json),
// then its outcome; it returns an error if the run did not succeed, so
// the command exits 1.
func (rw *runWait) follow(ctx context.Context, g *globals, c *api.Client, run store.Run, what string) error {
	if rw.noWait {
		if g.json {
			return g.printJSON(run)
		}
		fmt.Fprintf(g.stdout, "run %d of %s queued (%s at %s); follow it with `slipway runs logs %d -f`\n", run.ID, run.App, run.Repo, run.Revision, run.ID)
		return nil
	}
	if !g.json {
		fmt.Fprintf(g.stderr, "%s: run %d of %s at %s\n", what, run.ID, run.App, run.Revision)
		if err := c.RunLogs(ctx, run.ID, true, g.stdout); err != nil {
			return err
		}
	}
	final, err := c.WaitRun(ctx, run.ID, 200*time.Millisecond)
	if err != nil {
		return err
	}
	if g.json {
		if err := g.printJSON(final); err != nil {
			return err
		}
	}
	if final.State != store.RunSucceeded {
		return fmt.Errorf("run %d of %s %s: %s (see `slipway runs show %d`)", final.ID, final.App, final.State, final.Error, final.ID)
	}
	if !g.json {
		fmt.Fprintf(g.stdout, "✓ run %d of %s succeeded at %s in %s: artifact %s\n  deploy it with `slipway deploy -f slipway.yaml --env ENV --artifact %s`\n",
			final.ID, final.App, shortCommit(final), final.Duration(time.Now()).Round(time.Millisecond), final.Artifact, final.Artifact)
	}
	return nil
}

func shortCommit(r store.Run) string {
	if len(r.Commit) >= 12 {
		return r.Commit[:12]
	}
	return r.Revision
}

func newRunCmd(g *globals) *cobra.Command {
	var req api.RunRequest
	var rw runWait
	cmd := &cobra.Command{
		Use:   "run APP --repo PATH_OR_URL --commit REV [--branch B]",
		Short: "Run the pipeline of one commit on the server: check out, test, build, and keep the artifact",
		Long: "Run the pipeline of one commit on the server: check out, test, build, and keep the artifact.\n" +
			"The server reads slipway.yaml at that commit and runs its pipeline (or build.command); the\n" +
			"logs stream here until the run ends. Deploy the artifact with `slipway deploy --artifact`.",
		Args: exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "repo", "commit"); err != nil {
				return err
			}
			req.App = args[0]
			// A local repository is sent as an absolute path: the server
			// does not share the client's working directory.
			if _, err := os.Stat(req.Repo); err == nil {
				abs, err := filepath.Abs(req.Repo)
				if err != nil {
					return err
				}
				req.Repo = abs
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			run, err := c.StartRun(cmd.Context(), req)
			if err != nil {
				return err
			}
			return rw.follow(cmd.Context(), g, c, run, "started")
		},
	}
	cmd.Flags().StringVar(&req.Repo, "repo", "", "git repository: a local path (of the server's machine) or a URL")
	cmd.Flags().StringVar(&req.Commit, "commit", "", "commit to run: a hash, a branch or a tag")
	cmd.Flags().StringVar(&req.Branch, "branch", "", "branch the commit is on (SLIPWAY_BRANCH in steps)")
	cmd.Flags().StringVar(&req.Tag, "tag", "", "tag of the commit (SLIPWAY_TAG in steps)")
	cmd.Flags().StringVarP(&req.SpecFile, "file", "f", "slipway.yaml", "path of slipway.yaml inside the repository")
	rw.flags(cmd, g)
	return cmd
}

func runID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%q is not a run number", arg)
	}
	return id, nil
}

func newRunsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, show, follow, cancel and rerun pipeline runs",
	}
	cmd.AddCommand(newRunsListCmd(g), newRunsShowCmd(g), newRunsLogsCmd(g), newRunsCancelCmd(g), newRunsRerunCmd(g))
	return cmd
}

func newRunsListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [APP]",
		Short: "List pipeline runs, newest first",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("runs list takes at most one argument, APP")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			runs, err := c.Runs(cmd.Context(), app)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(runs)
			}
			if len(runs) == 0 {
				fmt.Fprintln(g.stdout, "No runs yet. Start one with `slipway run APP --repo PATH --commit REV`.")
				return nil
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tAPP\tCOMMIT\tBRANCH\tTRIGGER\tSTATE\tDURATION\tCREATED\tARTIFACT")
			for _, r := range runs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.App, shortCommit(r), dash(r.Branch), r.Trigger, r.State,
					duration(r.Duration(now)), ago(r.CreatedAt), dash(shortDigest(r.Artifact)))
			}
			return tw.Flush()
		},
	}
	addJSON(cmd, g)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func duration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func newRunsShowCmd(g *globals) *cobra.Command {
	return idCommand(g, "show RUN", "Show a run: commit, state, artifact, and every step with its state and duration", runID,
		func(ctx context.Context, c *api.Client, id int64) (store.Run, error) { return c.Run(ctx, id) },
		func(r store.Run) error {
			now := time.Now()
			fmt.Fprintf(g.stdout, "run %d of %s: %s", r.ID, r.App, r.State)
			if d := r.Duration(now); d > 0 {
				fmt.Fprintf(g.stdout, " (%s)", duration(d))
			}
			fmt.Fprintln(g.stdout)
			commit := r.Commit
			if commit == "" {
				commit = "not checked out yet"
			}
			fmt.Fprintf(g.stdout, "  repo:      %s\n  revision:  %s\n  commit:    %s\n", r.Repo, r.Revision, commit)
			if r.Branch != "" || r.Tag != "" {
				fmt.Fprintf(g.stdout, "  branch:    %s  tag: %s\n", dash(r.Branch), dash(r.Tag))
			}
			fmt.Fprintf(g.stdout, "  trigger:   %s by %s, %s\n", r.Trigger, r.Actor, ago(r.CreatedAt))
			if r.RerunOf > 0 {
				fmt.Fprintf(g.stdout, "  rerun of:  run %d\n", r.RerunOf)
			}
			if r.Artifact != "" {
				fmt.Fprintf(g.stdout, "  artifact:  %s\n", r.Artifact)
			}
			if r.Error != "" {
				fmt.Fprintf(g.stdout, "  error:     %s\n", r.Error)
			}
			if r.TriggerResult != "" {
				fmt.Fprintf(g.stdout, "  result:    %s\n", r.TriggerResult)
			}
			if len(r.Steps) == 0 {
				return nil
			}
			fmt.Fprintln(g.stdout)
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tSTEP\tSTATE\tEXIT\tDURATION\tERROR")
			for _, st := range r.Steps {
				exit := "-"
				if st.ExitCode != nil {
					exit = strconv.Itoa(*st.ExitCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", st.Stage, st.Step, st.State, exit, duration(st.Duration(now)), st.Error)
			}
			return tw.Flush()
		})
}

func newRunsLogsCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs RUN [-f]",
		Short: "Print a run's logs, step by step in order; -f follows them until the run ends",
		Args:  exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runID(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.RunLogs(cmd.Context(), id, follow, g.stdout)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the run ends")
	return cmd
}

func newRunsCancelCmd(g *globals) *cobra.Command {
	return idCommand(g, "cancel RUN", "Cancel a queued or running run (its running steps are stopped)", runID,
		func(ctx context.Context, c *api.Client, id int64) (store.Run, error) { return c.CancelRun(ctx, id) },
		func(r store.Run) error {
			_, err := fmt.Fprintf(g.stdout, "run %d of %s is %s\n", r.ID, r.App, r.State)
			return err
		})
}

func newRunsRerunCmd(g *globals) *cobra.Command {
	var rw runWait
	cmd := &cobra.Command{
		Use:   "rerun RUN",
		Short: "Run the same commit again as a new run",
		Args:  exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runID(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.RerunRun(cmd.Context(), id)
			if err != nil {
				return err
			}
			return rw.follow(cmd.Context(), g, c, r, fmt.Sprintf("rerun of run %d", id))
		},
	}
	rw.flags(cmd, g)
	return cmd
}
