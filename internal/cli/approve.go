package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/store"
)

func (g *globals) printPending(p store.Promotion) error {
	if g.json {
		return g.printJSON(p)
	}
	fmt.Fprintf(g.stdout, "⏸ promotion %d of %s #%d to %s waits for %d approval(s) (%d so far); it expires in %s.\n  Another user approves with `slipway approve %s %d`.\n",
		p.ID, p.FromEnv, p.FromRelease, p.ToEnv, p.Needed, len(p.Approvers), time.Until(p.ExpiresAt).Round(time.Minute), p.App, p.ID)
	return nil
}

func newApproveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approve APP PROMOTION",
		Short: "Approve a pending promotion (by a user other than the one who asked); with enough approvals it deploys",
		Args:  exactArgs(2, "APP PROMOTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return usagef("PROMOTION must be a number (see `slipway approvals`), got %q", args[1])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			started := time.Now()
			res, err := c.Approve(cmd.Context(), args[0], id)
			if err != nil {
				return err
			}
			if res.Rollout == nil {
				return g.printPending(*res.Pending)
			}
			out, err := wait(cmd.Context(), c, *res.Rollout, started)
			if err != nil {
				return err
			}
			return g.report(out, fmt.Sprintf("approved promotion %d", id))
		},
	}
	addJSON(cmd, g)
	return cmd
}

func newApprovalsCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "approvals [APP]",
		Short: "List promotions waiting for approval (--all: also past ones)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("approvals takes at most one argument, APP")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			app := ""
			if len(args) == 1 {
				app = args[0]
			}
			ps, err := c.Promotions(cmd.Context(), app, !all)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(g.stdout, "No promotions waiting for approval.")
				return nil
			}
			for _, p := range ps {
				fmt.Fprintf(g.stdout, "%d\t%s: %s #%d → %s\t%s\tasked by %s %s\tapprovals %d/%d %s\n", p.ID, p.App, p.FromEnv, p.FromRelease, p.ToEnv,
					p.State, p.RequestedBy, ago(p.RequestedAt), len(p.Approvers), p.Needed, strings.Join(p.Approvers, ","))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include promotions that are no longer pending")
	addJSON(cmd, g)
	return cmd
}
