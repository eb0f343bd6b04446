package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

func newRolloutCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Watch and steer the rollout in progress: status, promote, pause, resume, abort, history",
		Long: "rollout acts on the rollout in progress in an environment (not to be confused with `slipway promote`,\n" +
			"which moves a release between environments).",
	}
	cmd.PersistentFlags().StringVarP(&env, "env", "e", "", "environment")
	needEnv := func(c *cobra.Command) error {
		if env == "" {
			return usagef("%s needs --env", c.CommandPath())
		}
		return nil
	}
	var watch bool
	status := &cobra.Command{
		Use:   "status APP --env ENV [--watch]",
		Short: "Show the rollout in progress (or the latest): step, weights, analysis, decisions",
		Args:  exactArgs(1, "APP"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := needEnv(c); err != nil {
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			return watchRollout(c.Context(), g, cl, args[0], env, watch)
		},
	}
	status.Flags().BoolVarP(&watch, "watch", "w", false, "follow live until the rollout ends")
	addJSON(status, g)
	cmd.AddCommand(status)
	for _, action := range []struct{ name, short string }{
		{"promote", "Advance now: end the current pause or step (or switch a blue-green waiting for promotion)"},
		{"pause", "Hold the rollout where it is: timers and the progress deadline stop"},
		{"resume", "Release a hold"},
		{"abort", "Stop the rollout: all traffic back on the stable release, new instances stopped"},
	} {
		sub := &cobra.Command{
			Use:   action.name + " APP --env ENV",
			Short: action.short,
			Args:  exactArgs(1, "APP"),
			RunE: func(c *cobra.Command, args []string) error {
				if err := needEnv(c); err != nil {
					return err
				}
				cl, err := g.client()
				if err != nil {
					return err
				}
				ro, err := cl.RolloutCommand(c.Context(), args[0], env, action.name)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(ro)
				}
				fmt.Fprintf(g.stdout, "%s sent to rollout %d of %s/%s (release %d → %d)\n", action.name, ro.ID, ro.App, ro.Env, ro.FromRelease, ro.ToRelease)
				if action.name == "abort" {
					final, err := cl.WaitRollout(c.Context(), ro.ID, 100*time.Millisecond, false)
					if err != nil {
						return err
					}
					fmt.Fprintf(g.stdout, "rollout %d %s%s\n", final.ID, final.State, reasonSuffix(final.Reason))
				}
				return nil
			},
		}
		addJSON(sub, g)
		cmd.AddCommand(sub)
	}
	history := envRead(g, "history APP --env ENV", "List the rollouts of an environment, newest first", &env, (*api.Client).Rollouts,
		"", "ROLLOUT\tKIND\tSTRATEGY\tFROM\tTO\tSTATE\tBY\tSTARTED\tDURATION\tREASON",
		func(ro store.Rollout) string {
			dur := "-"
			if ro.FinishedAt != nil {
				dur = ro.FinishedAt.Sub(ro.StartedAt).Round(time.Millisecond).String()
			}
			return fmt.Sprintf("%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s", ro.ID, ro.Kind, ro.Strategy, ro.FromRelease, ro.ToRelease,
				ro.State, ro.CreatedBy, ago(ro.StartedAt), dur, ro.Reason)
		})
	cmd.AddCommand(history)
	return cmd
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// watchRollout prints the rollout's state, and with watch follows it,
// printing a line whenever something changes, until it ends.
func watchRollout(ctx context.Context, g *globals, cl *api.Client, app, env string, watch bool) error {
	last := ""
	seen := 0
	for {
		st, err := cl.RolloutStatus(ctx, app, env)
		if err != nil {
			return err
		}
		if g.json && !watch {
			return g.printJSON(st)
		}
		if !watch {
			printRollout(g, st)
			return nil
		}
		line := rolloutLine(st)
		if line != last {
			fmt.Fprintf(g.stdout, "%s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		for _, d := range st.Decisions[min(seen, len(st.Decisions)):] {
			fmt.Fprintf(g.stdout, "%s  decision: %s by %s at step %d, weight %d%%: %s\n", d.At.Local().Format("15:04:05"), d.Action, d.Actor, d.Step+1, d.Weight, d.Reason)
		}
		seen = len(st.Decisions)
		if st.Rollout.State != store.RolloutRunning {
			if st.Rollout.State == store.RolloutSucceeded {
				return nil
			}
			return fmt.Errorf("rollout %d %s%s", st.Rollout.ID, st.Rollout.State, reasonSuffix(st.Rollout.Reason))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func rolloutLine(st api.RolloutStatus) string {
	ro := st.Rollout
	parts := []string{fmt.Sprintf("rollout %d %s (%s) release %d → %d", ro.ID, ro.State, ro.Strategy, ro.FromRelease, ro.ToRelease)}
	if ro.Strategy == spec.StrategyCanary && ro.State == store.RolloutRunning {
		parts = append(parts, fmt.Sprintf("step %d/%d, canary %d%% / stable %d%%", min(ro.Step+1, len(st.Steps)), len(st.Steps), ro.Weight, 100-ro.Weight))
		if left := timeLeft(st); left != "" {
			parts = append(parts, left)
		}
	}
	if ro.Paused {
		parts = append(parts, "PAUSED")
	}
	if ro.Message != "" {
		parts = append(parts, ro.Message)
	}
	if ro.Reason != "" {
		parts = append(parts, ro.Reason)
	}
	return strings.Join(parts, " | ")
}

// timeLeft estimates the time left in a timed pause or analysis step.
func timeLeft(st api.RolloutStatus) string {
	ro := st.Rollout
	if ro.Paused || ro.Step >= len(st.Steps) {
		return ""
	}
	s := st.Steps[ro.Step]
	var d time.Duration
	switch {
	case s.Analysis > 0:
		d = s.Analysis.D()
	case s.Pause != "" && s.Pause != "manual":
		d, _ = time.ParseDuration(s.Pause)
	default:
		return ""
	}
	left := time.Until(ro.ProgressAt.Add(d)).Round(time.Second)
	if left < 0 {
		left = 0
	}
	return fmt.Sprintf("%s left in this step", left)
}

func printRollout(g *globals, st api.RolloutStatus) {
	ro := st.Rollout
	fmt.Fprintln(g.stdout, rolloutLine(st))
	fmt.Fprintf(g.stdout, "  started %s by %s, progress deadline %s\n", ago(ro.StartedAt), ro.CreatedBy, st.Deadline)
	for i, s := range st.Steps {
		mark := " "
		switch {
		case i < ro.Step || ro.State == store.RolloutSucceeded:
			mark = "✓"
		case i == ro.Step && ro.State == store.RolloutRunning:
			mark = "▶"
		}
		fmt.Fprintf(g.stdout, "  %s step %d: %s\n", mark, i+1, describeStep(s))
	}
	for _, d := range st.Decisions {
		fmt.Fprintf(g.stdout, "  %s %s by %s (step %d, weight %d%%): %s\n", d.At.Local().Format("15:04:05"), d.Action, d.Actor, d.Step+1, d.Weight, d.Reason)
	}
}

func describeStep(s spec.Step) string {
	switch {
	case s.Weight != nil:
		return fmt.Sprintf("weight %d%%", *s.Weight)
	case s.Pause == "manual":
		return "pause until `slipway rollout promote`"
	case s.Pause != "":
		return "pause " + s.Pause
	case s.Analysis > 0:
		return "analysis, up to " + s.Analysis.D().String()
	}
	return "?"
}
