package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/secret"
	"github.com/slipway-dev/slipway/internal/store"
)

// Secret commands take values in and never print one: not in output, not
// in errors.
func newSecretCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Set, unset or list an environment's secrets (encrypted at rest; a change rolls out a new release)",
	}
	cmd.PersistentFlags().StringVarP(&env, "env", "e", "", "environment")
	list := envRead(g, "list APP --env ENV", "List secrets: names, versions, who set them and when (never values)", &env, (*api.Client).Secrets,
		"%[1]s/%[2]s has no secrets. Set one with `slipway secret set %[1]s NAME=- --env %[2]s` (the value is read from stdin).",
		"NAME\tVERSION\tLIVE\tDELIVERED AS\tSET BY\tSET", func(e api.SecretEntry) string {
			live, as := "-", "env $"+e.Name
			if e.LiveVersion > 0 {
				live = fmt.Sprint(e.LiveVersion)
			}
			if e.File != "" {
				as = "file " + e.File
			}
			return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s", e.Name, e.Version, live, as, e.CreatedBy, ago(e.CreatedAt))
		})
	change := func(use, short string, unset bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) < 2 {
					return usagef("%s needs APP and at least one %s", cmd.CommandPath(), map[bool]string{false: "NAME=VALUE (or NAME=- to read the value from stdin)", true: "NAME"}[unset])
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				if env == "" {
					return usagef("%s needs --env", cmd.CommandPath())
				}
				req := api.SecretRequest{}
				if unset {
					req.Unset = args[1:]
				} else {
					var err error
					if req.Set, err = secretValues(args[1:], cmd.InOrStdin(), g.stderr); err != nil {
						return err
					}
				}
				return g.changeSecrets(cmd.Context(), args[0], env, req)
			},
		}
		addJSON(c, g)
		return c
	}
	cmd.AddCommand(list,
		change("set APP NAME=VALUE... --env ENV", "Set secrets (NAME=- reads the value from stdin, keeping it out of shell history) and roll out a release with them", false),
		change("unset APP NAME... --env ENV", "Remove secrets and roll out a release without them", true),
		newRotateKeyCmd(g))
	return cmd
}

// secretValues parses NAME=VALUE arguments; NAME=- reads the value from in
// (once), hidden when in is a terminal.
func secretValues(args []string, in io.Reader, prompt io.Writer) (map[string]string, error) {
	set := map[string]string{}
	fromStdin := ""
	for i, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// Never echo the argument: it may be a value typed without NAME=.
			return nil, usagef("argument %d is not NAME=VALUE (or NAME=- to read the value from stdin)", i+2)
		}
		if _, dup := set[k]; dup {
			return nil, usagef("secret %s is given twice", k)
		}
		if err := secret.ValidateName(k); err != nil {
			return nil, usageError{err}
		}
		if v == "-" {
			if fromStdin != "" {
				return nil, usagef("only one secret can be read from stdin (%s and %s both use NAME=-)", fromStdin, k)
			}
			fromStdin = k
			var err error
			if v, err = readSecret(k, in, prompt); err != nil {
				return nil, err
			}
		}
		set[k] = v
	}
	return set, nil
}

// readSecret reads one value: from a terminal, a line typed without echo;
// otherwise all of in, less one trailing newline (echo adds one).
func readSecret(name string, in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			fmt.Fprintf(prompt, "Value of %s (not shown): ", name)
			quiet := *t
			quiet.Lflag &^= unix.ECHO
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &quiet); err != nil {
				return "", fmt.Errorf("read %s from the terminal: %w", name, err)
			}
			line, err := bufio.NewReader(f).ReadString('\n')
			unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
			fmt.Fprintln(prompt)
			if err != nil && !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("read %s from the terminal: %w", name, err)
			}
			return strings.TrimRight(line, "\r\n"), nil
		}
	}
	raw, err := io.ReadAll(io.LimitReader(in, secret.MaxValueBytes+2))
	if err != nil {
		return "", fmt.Errorf("read %s from stdin: %w", name, err)
	}
	v := string(raw)
	if strings.HasSuffix(v, "\r\n") {
		v = v[:len(v)-2]
	} else {
		v = strings.TrimSuffix(v, "\n")
	}
	return v, nil
}

// changeSecrets sends the change and follows its rollout, if any.
func (g *globals) changeSecrets(ctx context.Context, app, env string, req api.SecretRequest) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	started := time.Now()
	ch, err := c.SetSecrets(ctx, app, env, req)
	if err != nil {
		return err
	}
	for _, k := range ch.ShadowedConfig {
		fmt.Fprintf(g.stderr, "note: %s is also config of %s/%s; instances get the secret.\n", k, app, env)
	}
	if ch.Rollout == nil {
		if g.json {
			return g.printJSON(ch)
		}
		fmt.Fprintf(g.stdout, "%s/%s: %s. Nothing is live there yet: the next deploy delivers it.\n", app, env, describeChange(req, ch.Secrets))
		return nil
	}
	res, err := wait(ctx, c, *ch.Rollout, started)
	if err != nil {
		return err
	}
	if g.json {
		ch.Rollout = &res.Rollout
		if err := g.printJSON(ch); err != nil {
			return err
		}
		if res.Rollout.State == store.RolloutSucceeded || res.Rollout.Awaiting {
			return nil
		}
		return fmt.Errorf("secret change: %s/%s release %d %s: %s", app, env, res.Rollout.ToRelease, res.Rollout.State, res.Rollout.Reason)
	}
	fmt.Fprintf(g.stdout, "%s/%s: %s.\n", app, env, describeChange(req, ch.Secrets))
	return g.report(res, "secret change")
}

// describeChange says which secrets changed, with their new versions.
func describeChange(req api.SecretRequest, after []api.SecretEntry) string {
	var parts []string
	for _, e := range after {
		if _, ok := req.Set[e.Name]; ok {
			parts = append(parts, fmt.Sprintf("set %s (version %d)", e.Name, e.Version))
		}
	}
	for _, k := range req.Unset {
		parts = append(parts, "unset "+k)
	}
	return strings.Join(parts, ", ")
}

func newRotateKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every stored secret with a new key and replace the key file (admin)",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.RotateSecretsKey(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			fmt.Fprintf(g.stdout, "Re-encrypted %d secret version(s) for the new key %s; the old key file is gone.\n"+
				"Back up the new key file; database backups made before now need the old key.\n", res.Reencrypted, res.Recipient)
			return nil
		},
	}
	addJSON(cmd, g)
	return cmd
}
