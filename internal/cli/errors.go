package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/store"
)

func newErrorsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Error issues grouped from what apps' Sentry SDKs send, per release",
	}
	var env, status string
	var release int
	var list *cobra.Command
	list = envRead(g, "list APP --env ENV [--release N] [--status S]", "List error issues, most recently seen first", &env,
		func(c *api.Client, ctx context.Context, app, env string) ([]store.ErrorIssue, error) {
			if release < 0 || release == 0 && list.Flags().Changed("release") {
				return nil, usagef("--release takes a release number (1 or more; see `slipway releases %s --env %s`)", app, env)
			}
			return c.ErrorIssues(ctx, app, env, release, status)
		},
		"No error issues in %[1]s/%[2]s. Apps report errors with a Sentry SDK; they get SENTRY_DSN (see `slipway errors dsn`).",
		"ISSUE\tSTATUS\tEVENTS\tFIRST RELEASE\tLAST SEEN\tTITLE\tCULPRIT",
		func(is store.ErrorIssue) string {
			events := strconv.FormatInt(is.Events, 10)
			if release > 0 {
				events = fmt.Sprintf("%d (%d here)", is.Events, is.ReleaseEvents)
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", is.ID, issueState(is), events, orDash(is.FirstRelease), ago(is.LastSeen), clip(is.Title, 60), clip(is.Culprit, 40))
		})
	list.Flags().StringVarP(&env, "env", "e", "", "environment")
	list.Flags().IntVar(&release, "release", 0, "only issues with events in this release number")
	list.Flags().StringVar(&status, "status", "", "only issues in this state: unresolved, resolved or ignored")

	var healthEnv string
	health := envRead(g, "health APP --env ENV", "Show crash-free sessions per release (from SDKs that send sessions)", &healthEnv,
		(*api.Client).ReleaseHealth,
		"No sessions from %[1]s/%[2]s. Browser, Node, Python and mobile SDKs send them; sentry-go does not.",
		"RELEASE\tSESSIONS\tCRASHED\tERRORED\tABNORMAL\tCRASH-FREE",
		func(h store.ReleaseHealth) string {
			rate := "-"
			if h.CrashFree >= 0 {
				rate = fmt.Sprintf("%.2f%%", 100*h.CrashFree)
			}
			return fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%s", h.Release, h.Started, h.Crashed, h.Errored, h.Abnormal, rate)
		})
	health.Flags().StringVarP(&healthEnv, "env", "e", "", "environment")

	cmd.AddCommand(list, newErrorsShowCmd(g), health, newErrorsDSNCmd(g),
		newIssueStatusCmd(g, "resolve", "Mark an issue resolved (an event after that reopens it as regressed)", store.IssueResolved),
		newIssueStatusCmd(g, "ignore", "Ignore an issue: it stays counted but no longer counts against a canary", store.IssueIgnored),
		newIssueStatusCmd(g, "unresolve", "Reopen a resolved or ignored issue", store.IssueUnresolved))
	return cmd
}

func issueState(is store.ErrorIssue) string {
	if is.Regressed && is.Status == store.IssueUnresolved {
		return "regressed"
	}
	return is.Status
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func parseIssueID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%q is not an issue number; see `slipway errors list APP --env ENV`", s)
	}
	return id, nil
}

func newErrorsShowCmd(g *globals) *cobra.Command {
	var events int
	cmd := idCommand(g, "show ISSUE", "Show an issue: counts per release and its latest events with stack traces", parseIssueID,
		func(ctx context.Context, c *api.Client, id int64) (api.IssueDetail, error) {
			return c.ErrorIssue(ctx, id, events)
		},
		func(d api.IssueDetail) error { printIssue(g.stdout, d); return nil })
	cmd.Flags().IntVarP(&events, "events", "n", 1, "how many of the latest events to show")
	return cmd
}

func printIssue(w io.Writer, d api.IssueDetail) {
	is := d.Issue
	fmt.Fprintf(w, "issue %d  %s/%s  %s\n", is.ID, is.App, is.Env, issueState(is))
	fmt.Fprintf(w, "  %s\n", is.Title)
	if is.Culprit != "" {
		fmt.Fprintf(w, "  at %s\n", is.Culprit)
	}
	fmt.Fprintf(w, "  level %s, %d events, first seen %s in %s, last seen %s in %s\n", is.Level, is.Events,
		is.FirstSeen.Format(time.RFC3339), orDash(is.FirstRelease), is.LastSeen.Format(time.RFC3339), orDash(is.LastRelease))
	if is.ResolvedIn != "" {
		fmt.Fprintf(w, "  resolved in the release after %s\n", is.ResolvedIn)
	}
	if len(is.Releases) > 0 {
		fmt.Fprintln(w, "  releases:")
		for _, r := range is.Releases {
			fmt.Fprintf(w, "    %-20s %6d events, last %s\n", orDash(r.Release), r.Events, ago(r.LastSeen))
		}
	}
	for _, e := range d.Events {
		fmt.Fprintf(w, "\nevent %s  %s  release %s  environment %s\n", e.EventID, e.Timestamp.Format(time.RFC3339), orDash(e.Release), e.Environment)
		ev, err := errortrack.ParseEvent(e.Event, e.Timestamp)
		if err != nil {
			fmt.Fprintf(w, "  (unreadable event: %v)\n", err)
			continue
		}
		if ev.Message != "" {
			fmt.Fprintf(w, "  message: %s\n", ev.Message)
		}
		for i := len(ev.Exceptions) - 1; i >= 0; i-- {
			x := ev.Exceptions[i]
			fmt.Fprintf(w, "  %s: %s\n", orDash(x.Type), x.Value)
			for j := len(x.Frames) - 1; j >= 0; j-- {
				f := x.Frames[j]
				mark := " "
				if f.InApp != nil && *f.InApp {
					mark = "*"
				}
				where := strings.TrimSpace(strings.Join([]string{f.Module, f.Function}, " "))
				file := f.Filename
				if file == "" {
					file = f.AbsPath
				}
				if f.Lineno > 0 {
					file += ":" + strconv.Itoa(f.Lineno)
				}
				fmt.Fprintf(w, "   %s %s  %s\n", mark, where, file)
			}
		}
	}
}

func newErrorsDSNCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "dsn APP --env ENV",
		Short: "Print the Sentry DSN of an environment (its instances get it as SENTRY_DSN)",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.ErrorsDSN(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(d)
			}
			_, err = fmt.Fprintln(g.stdout, d.DSN)
			return err
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	addJSON(cmd, g)
	return cmd
}

func newIssueStatusCmd(g *globals, verb, short, status string) *cobra.Command {
	var next bool
	cmd := idCommand(g, verb+" ISSUE", short, parseIssueID,
		func(ctx context.Context, c *api.Client, id int64) (store.ErrorIssue, error) {
			return c.SetIssueStatus(ctx, id, api.IssueStatusRequest{Status: status, InNextRelease: next})
		},
		func(is store.ErrorIssue) error {
			msg := fmt.Sprintf("issue %d %s: %s", is.ID, is.Status, is.Title)
			if is.ResolvedIn != "" {
				msg += fmt.Sprintf(" (events of %s or older keep it resolved)", is.ResolvedIn)
			}
			_, err := fmt.Fprintln(g.stdout, msg)
			return err
		})
	if status == store.IssueResolved {
		cmd.Flags().BoolVar(&next, "in-next-release", false, "resolved in the next release: only events of a later release than the newest it was seen in reopen it")
	}
	return cmd
}
