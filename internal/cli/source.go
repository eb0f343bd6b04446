package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
)

func newSourceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source",
		Short: "The app's git repository: poll it now, see what was seen, show its webhook",
		Long: "The app's git repository (source in slipway.yaml) is polled every source.poll, and may push\n" +
			"webhooks; each branch or tag that moved runs the pipeline under the first matching rule.\n" +
			"See docs/triggers.md.",
	}
	cmd.AddCommand(newSourceSyncCmd(g), newSourceStatusCmd(g), newSourceWebhookCmd(g))
	return cmd
}

func newSourceSyncCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync APP",
		Short: "Poll the app's repository now and act on the branches and tags that moved",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.SyncSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			switch {
			case res.Baseline:
				fmt.Fprintf(g.stdout, "first look at the repository of %s: %d ref(s) recorded, nothing started (pushes from now on start runs)\n", args[0], res.Refs)
			case len(res.Events) == 0:
				fmt.Fprintf(g.stdout, "%s: nothing moved (%d ref(s))\n", args[0], res.Refs)
			}
			printRefEvents(g, res.Events)
			return nil
		},
	}
	addJSON(cmd, g)
	return cmd
}

func printRefEvents(g *globals, events []api.RefEvent) {
	for _, ev := range events {
		at := shortHash(ev.Commit)
		if ev.Deleted {
			at = "deleted"
		}
		fmt.Fprintf(g.stdout, "%s %s: %s\n", ev.Ref, at, ev.Did)
	}
}

func shortHash(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func newSourceStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show the app's repository, the refs seen last, the last poll and the previews",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.SourceStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(st)
			}
			fmt.Fprintf(g.stdout, "%s: %s, polled every %s\n", st.App, st.Repo, st.Poll)
			switch {
			case st.PolledAt == nil:
				fmt.Fprintln(g.stdout, "  not polled yet")
			case st.PollError != "":
				fmt.Fprintf(g.stdout, "  last poll %s failed: %s\n", ago(*st.PolledAt), st.PollError)
			default:
				fmt.Fprintf(g.stdout, "  last poll %s\n", ago(*st.PolledAt))
			}
			fmt.Fprintf(g.stdout, "  webhook:  POST %s (`slipway source webhook %s` shows the secret)\n", st.WebhookPath, st.App)
			refs := make([]string, 0, len(st.Refs))
			for r := range st.Refs {
				refs = append(refs, r)
			}
			sort.Strings(refs)
			if len(refs) > 0 {
				fmt.Fprintln(g.stdout)
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REF\tCOMMIT")
				for _, r := range refs {
					fmt.Fprintf(tw, "%s\t%s\n", r, shortHash(st.Refs[r]))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(st.Previews) > 0 {
				fmt.Fprintln(g.stdout)
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PREVIEW\tBRANCH\tHOST\tUPDATED")
				for _, p := range st.Previews {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Env, p.Branch, p.Host, ago(p.UpdatedAt))
				}
				return tw.Flush()
			}
			return nil
		},
	}
	addJSON(cmd, g)
	return cmd
}

func newSourceWebhookCmd(g *globals) *cobra.Command {
	var rotate bool
	cmd := &cobra.Command{
		Use:   "webhook APP [--rotate]",
		Short: "Print the URL and the secret of the app's push webhook (admins); --rotate makes a new secret",
		Long: "Print the URL and the secret of the app's push webhook, for GitHub (content type\n" +
			"application/json, secret, just the push event) or Gitea. The URL is this server's address as the\n" +
			"CLI reaches it; use the address GitHub or Gitea reach it by. --rotate replaces the secret:\n" +
			"deliveries signed with the old one are refused from then on.",
		Args: exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			info, err := c.WebhookSecret(cmd.Context(), args[0], rotate)
			if err != nil {
				return err
			}
			url := strings.TrimRight(serverURL(g), "/") + info.Path
			if g.json {
				return g.printJSON(map[string]any{"url": url, "path": info.Path, "secret": info.Secret, "rotated": info.Rotated})
			}
			if info.Rotated {
				fmt.Fprintln(g.stderr, "new webhook secret made: update it in GitHub or Gitea now")
			}
			fmt.Fprintf(g.stdout, "url:    %s\nsecret: %s\n", url, info.Secret)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate", false, "replace the secret with a new one first")
	addJSON(cmd, g)
	return cmd
}

func newCandidatesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "candidates APP",
		Short: "List the artifacts tag pushes built for promotion, newest first",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cs, err := c.Candidates(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(cs)
			}
			if len(cs) == 0 {
				fmt.Fprintf(g.stdout, "No candidates for %s yet: a push matching a rule with candidate: ENV makes one when its run passes.\n", args[0])
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REF\tFOR\tRUN\tCOMMIT\tARTIFACT\tCREATED")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", c.Ref, c.Env, c.Run, shortHash(c.Commit), shortDigest(c.Artifact), ago(c.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\nDeploy one with `slipway promote %s --candidate %s --to %s`.\n", args[0], cs[0].Ref, cs[0].Env)
			return nil
		},
	}
	addJSON(cmd, g)
	return cmd
}

// serverURL is the server the client talks to, as globals.client finds
// it.
func serverURL(g *globals) string {
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
	return server
}
