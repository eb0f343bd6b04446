package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the audit log",
		Long: "Every change (apply, deploy, promote, approve, rollback, config, secrets, users, tokens) and every refused\n" +
			"request is in the audit log, which is append-only and hash-chained. See docs/security.md.",
	}
	cmd.AddCommand(newAuditListCmd(g), newAuditVerifyCmd(g))
	return cmd
}

func newAuditListCmd(g *globals) *cobra.Command {
	var app string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--app APP] [--limit N]",
		Short: "List audit log entries, newest first",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			evs, err := c.Audit(cmd.Context(), app, limit)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(evs)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tTARGET\tOUTCOME\tDETAIL")
			for _, e := range evs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action,
					e.Target, e.Outcome, e.Detail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "only entries about this app")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many entries, newest first (at most 10000)")
	addJSON(cmd, g)
	return cmd
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var head string
	cmd := &cobra.Command{
		Use:   "verify [--head ID:HASH]",
		Short: "Check the audit log's hash chain (admin); exits 1 naming the first entry that was changed or removed",
		Long: "Walks every entry and checks its hash and its link to the entry before it. It prints the head (ID:HASH):\n" +
			"keep it somewhere else and pass it back with --head to also catch entries deleted from the end, or a\n" +
			"rewritten log.",
		Args: exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rep, err := c.VerifyAudit(cmd.Context(), head)
			if err != nil {
				return err
			}
			if g.json {
				if err := g.printJSON(rep); err != nil {
					return err
				}
			}
			if !rep.OK {
				p := rep.Problem
				return fmt.Errorf("audit log verification failed at event %d (%s): %s", p.ID, p.Field, p.Reason)
			}
			if !g.json {
				fmt.Fprintf(g.stdout, "✓ audit log intact: %d entries, every hash and link checks out\nhead: %d:%s\n", rep.Events, rep.HeadID, rep.HeadHash)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head printed by an earlier verify (ID:HASH) that must still be in the log")
	addJSON(cmd, g)
	return cmd
}
