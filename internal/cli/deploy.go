package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/artifact"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// loadSpec reads and strictly parses a slipway.yaml, returning it and the
// directory it lives in (where the build runs).
func loadSpec(path string) (spec.App, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return spec.App{}, "", fmt.Errorf("read spec: %w", err)
	}
	app, err := spec.Parse(path, data)
	if err != nil {
		return spec.App{}, "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return spec.App{}, "", err
	}
	return *app, filepath.Dir(abs), nil
}

// build runs the spec's build command in dir and packs the output into a
// temporary artifact file; the caller removes it.
func build(ctx context.Context, app spec.App, dir string, log io.Writer) (digest, file string, err error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", app.Build.Command)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("build command %q failed: %w", app.Build.Command, err)
	}
	out := filepath.Join(dir, app.Build.Output)
	f, err := os.CreateTemp("", "slipway-artifact-*.tar.gz")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	digest, err = artifact.Pack(out, f)
	if err != nil {
		os.Remove(f.Name())
		return "", "", fmt.Errorf("package build output %s (build.output in slipway.yaml): %w", app.Build.Output, err)
	}
	return digest, f.Name(), f.Close()
}

// upload sends the artifact unless the server has it already.
func upload(ctx context.Context, c *api.Client, digest, file string) error {
	has, err := c.HasArtifact(ctx, digest)
	if err != nil || has {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.UploadArtifact(ctx, digest, f)
}

// deployResult is the outcome of one rollout as the CLI reports it.
type deployResult struct {
	Rollout store.Rollout `json:"rollout"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// wait follows a rollout to its end.
func wait(ctx context.Context, c *api.Client, ro store.Rollout, started time.Time) (deployResult, error) {
	final, err := c.WaitRollout(ctx, ro.ID, 100*time.Millisecond, true)
	return deployResult{Rollout: final, Elapsed: time.Since(started)}, err
}

// report prints one line for a finished rollout and returns an error if it
// failed, so the command exits 1.
func (g *globals) report(res deployResult, what string) error {
	ro := res.Rollout
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	if ro.State == store.RolloutRunning && ro.Awaiting {
		if !g.json {
			fmt.Fprintf(g.stdout, "⏸ %s: %s/%s release %d is healthy and waiting (%s).\n  Continue with `slipway rollout promote %s --env %s`, or stop with `slipway rollout abort %s --env %s`.\n",
				what, ro.App, ro.Env, ro.ToRelease, ro.Message, ro.App, ro.Env, ro.App, ro.Env)
		}
		return nil
	}
	if ro.State == store.RolloutSucceeded {
		if !g.json {
			fmt.Fprintf(g.stdout, "✓ %s: %s/%s release %d is live (%s)\n", what, ro.App, ro.Env, ro.ToRelease, res.Elapsed.Round(time.Millisecond))
		}
		return nil
	}
	return fmt.Errorf("%s: %s/%s release %d %s: %s", what, ro.App, ro.Env, ro.ToRelease, ro.State, ro.Reason)
}

// specCmd builds `plan` and `apply`: read a spec, send it, print the plan.
func specCmd(g *globals, use, short string, send func(*api.Client, context.Context, spec.App) (api.Plan, error), applied bool) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, _, err := loadSpec(file)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := send(c, cmd.Context(), app)
			if err != nil {
				return err
			}
			if err := g.printPlan(p); err != nil {
				return err
			}
			if applied && !g.json && len(p.Changes) > 0 {
				fmt.Fprintf(g.stdout, "Applied %d change(s) to %s.\n", len(p.Changes), p.App)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "slipway.yaml", "the app spec")
	addJSON(cmd, g)
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	return specCmd(g, "plan -f slipway.yaml", "Show what applying a spec would change on the server, field by field",
		(*api.Client).Plan, false)
}

func newApplyCmd(g *globals) *cobra.Command {
	return specCmd(g, "apply -f slipway.yaml",
		"Store a spec on the server in one transaction (changes to run, health, replicas and config take effect with the next release)",
		(*api.Client).Apply, true)
}

func (g *globals) printPlan(p api.Plan) error {
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	if p.Create {
		fmt.Fprintf(g.stdout, "App %s will be created:\n", p.App)
	}
	fmt.Fprint(g.stdout, p.Text)
	if !strings.HasSuffix(p.Text, "\n") {
		fmt.Fprintln(g.stdout)
	}
	return nil
}

func newDeployCmd(g *globals) *cobra.Command {
	var file, env, digest string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "deploy -f slipway.yaml --env ENV [--artifact DIGEST]",
		Short: "Build the app, upload the artifact and roll it out to an environment",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			app, dir, err := loadSpec(file)
			if err != nil {
				return err
			}
			if _, ok := app.Environments[env]; !ok {
				return fmt.Errorf("environment %q is not in %s", env, file)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			started := time.Now()
			var ro store.Rollout
			if digest != "" { // already on the server, from a pipeline run: nothing to build
				ro, err = c.Deploy(cmd.Context(), app, env, digest)
			} else {
				ro, err = deploy(cmd.Context(), c, app, dir, env, g.stderr)
			}
			if err != nil {
				return err
			}
			if noWait {
				fmt.Fprintf(g.stdout, "rollout %d of %s/%s to release %d started\n", ro.ID, ro.App, ro.Env, ro.ToRelease)
				return nil
			}
			res, err := wait(cmd.Context(), c, ro, started)
			if err != nil {
				return err
			}
			return g.report(res, "deploy")
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "slipway.yaml", "the app spec")
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment to deploy to")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the rollout has started")
	cmd.Flags().StringVar(&digest, "artifact", "", "deploy this artifact already on the server (sha256:..., a pipeline run's) instead of building")
	addJSON(cmd, g)
	return cmd
}

// deploy builds, uploads and starts a rollout.
func deploy(ctx context.Context, c *api.Client, app spec.App, dir, env string, log io.Writer) (store.Rollout, error) {
	digest, file, err := build(ctx, app, dir, log)
	if err != nil {
		return store.Rollout{}, err
	}
	defer os.Remove(file)
	if err := upload(ctx, c, digest, file); err != nil {
		return store.Rollout{}, fmt.Errorf("upload artifact: %w", err)
	}
	return c.Deploy(ctx, app, env, digest)
}

func newPromoteCmd(g *globals) *cobra.Command {
	var from, to, candidate string
	cmd := &cobra.Command{
		Use:   "promote APP --from ENV --to ENV | --candidate TAG_OR_RUN --to ENV",
		Short: "Deploy the exact artifact one environment runs (or a candidate) to another (with that environment's own config)",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if candidate != "" {
				if cmd.Flags().Changed("from") {
					return usagef("promote takes --from or --candidate, not both")
				}
				from = "candidate " + candidate
			} else if err := requireFlag(cmd, "from"); err != nil {
				return err
			}
			if err := requireFlag(cmd, "to"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			started := time.Now()
			var pr api.PromoteResult
			if candidate != "" {
				pr, err = c.PromoteCandidate(cmd.Context(), args[0], candidate, to)
			} else {
				pr, err = c.Promote(cmd.Context(), args[0], from, to)
			}
			if err != nil {
				return err
			}
			if pr.Rollout == nil {
				return g.printPending(*pr.Pending)
			}
			res, err := wait(cmd.Context(), c, *pr.Rollout, started)
			if err != nil {
				return err
			}
			return g.report(res, "promote "+from+" → "+to)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "environment whose live release to promote")
	cmd.Flags().StringVar(&to, "to", "", "environment to deploy it to")
	cmd.Flags().StringVar(&candidate, "candidate", "", "candidate to deploy instead: its tag or the number of the run that built it (`slipway candidates APP`)")
	addJSON(cmd, g)
	return cmd
}

func newRollbackCmd(g *globals) *cobra.Command {
	var env string
	var to int
	cmd := &cobra.Command{
		Use:   "rollback APP --env ENV [--to N]",
		Short: "Redeploy an earlier release (the previous one by default) without rebuilding",
		Args:  exactArgs(1, "APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			if cmd.Flags().Changed("to") && to < 1 {
				return usagef("--to takes a release number (1 or more)")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			started := time.Now()
			ro, err := c.Rollback(cmd.Context(), args[0], env, to)
			if err != nil {
				return err
			}
			res, err := wait(cmd.Context(), c, ro, started)
			if err != nil {
				return err
			}
			return g.report(res, "rollback")
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	cmd.Flags().IntVar(&to, "to", 0, "release number to go back to (default: the one live before the current)")
	addJSON(cmd, g)
	return cmd
}
