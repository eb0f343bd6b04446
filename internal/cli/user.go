package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/internal/api"
)

// describeRoles is "viewer; deployer on staging" for a role and its grants.
func describeRoles(role string, grants map[string]string) string {
	envs := make([]string, 0, len(grants))
	for env := range grants {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	parts := []string{role}
	for _, env := range envs {
		parts = append(parts, grants[env]+" on "+env)
	}
	return strings.Join(parts, "; ")
}

// printSecret shows a new token once, with how to use it.
func (g *globals) printSecret(who, secret string) {
	fmt.Fprintf(g.stdout, "\n    %s\n\nThis is the only time the token is shown: the server keeps only its sha256.\n"+
		"%s uses it with SLIPWAY_TOKEN=<token> (or revokes it with `slipway token revoke`).\n", secret, who)
}

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage users and their roles (admin)",
		Long: "Users call the API with their own tokens. Each has a global role (viewer < deployer < approver < admin)\n" +
			"and may have another role in some environments (`user grant NAME ROLE --env ENV`).\n" +
			"Environments can raise what an action needs with permissions in slipway.yaml. See docs/security.md.",
	}
	cmd.AddCommand(newUserAddCmd(g), newUserListCmd(g), newUserRemoveCmd(g), newUserGrantCmd(g), newUserRevokeCmd(g))
	return cmd
}

func newUserAddCmd(g *globals) *cobra.Command {
	var req api.AddUserRequest
	cmd := &cobra.Command{
		Use:   "add NAME --role ROLE",
		Short: "Add a user and print its first API token (shown once)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "role"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			req.Name = args[0]
			res, err := c.AddUser(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			fmt.Fprintf(g.stdout, "✓ added user %s (%s) with token %q (id %d):\n", res.User.Name, res.User.Role, res.Token.Name, res.Token.ID)
			g.printSecret(res.User.Name, res.Secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Role, "role", "", "global role: viewer, deployer, approver or admin")
	cmd.Flags().StringVar(&req.TokenName, "token-name", "", "name of the first token (default \"default\")")
	addJSON(cmd, g)
	return cmd
}

func newUserListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, their roles and grants",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			us, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(us)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tROLE\tGRANTS\tTOKENS\tCREATED\tSTATUS")
			for _, u := range us {
				status := "active"
				if u.Disabled {
					status = "removed"
				}
				grants := strings.TrimPrefix(describeRoles("", u.Grants), "; ")
				if grants == "" {
					grants = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", u.Name, u.Role, grants, u.Tokens, ago(u.CreatedAt), status)
			}
			return tw.Flush()
		},
	}
	addJSON(cmd, g)
	return cmd
}

func newUserRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user: its tokens stop working at once (the audit log keeps its name)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "✓ removed user %s; its tokens and grants are revoked\n", args[0])
			return nil
		},
	}
}

func newUserGrantCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "grant NAME ROLE [--env ENV]",
		Short: "Give a user ROLE in one environment (--env), or set its global role",
		Args:  exactArgs(2, "NAME ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetRole(cmd.Context(), args[0], env, args[1]); err != nil {
				return err
			}
			if env == "" {
				fmt.Fprintf(g.stdout, "✓ %s is now %s (global role; grants still apply in their environments)\n", args[0], args[1])
			} else {
				fmt.Fprintf(g.stdout, "✓ %s is now %s in environment %s (of every app)\n", args[0], args[1], env)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment the role applies in (default: the user's global role)")
	return cmd
}

func newUserRevokeCmd(g *globals) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "revoke NAME --env ENV",
		Short: "Drop a user's role in one environment; its global role applies there again",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "env"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Revoke(cmd.Context(), args[0], env); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "✓ revoked %s's grant in %s\n", args[0], env)
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment of the grant")
	return cmd
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage your API tokens",
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var name, user string
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create another API token for yourself (printed once)",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag(cmd, "name"); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.CreateToken(cmd.Context(), user, name)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			fmt.Fprintf(g.stdout, "✓ created token %q (id %d) for %s:\n", res.Token.Name, res.Token.ID, res.Token.User)
			g.printSecret(res.Token.User, res.Secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what the token is for (laptop, ci, ...)")
	cmd.Flags().StringVar(&user, "user", "", "create it for another user (admin)")
	addJSON(cmd, g)
	return cmd
}

func newTokenListCmd(g *globals) *cobra.Command {
	var user string
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your tokens (never the tokens themselves)",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context(), user, all)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(ts)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tLAST USED")
			for _, t := range ts {
				used := "never"
				if t.LastUsedAt != nil {
					used = ago(*t.LastUsedAt)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, ago(t.CreatedAt), used)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "list another user's tokens (admin)")
	cmd.Flags().BoolVar(&all, "all", false, "list every user's tokens (admin)")
	addJSON(cmd, g)
	return cmd
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (yours, or anyone's for an admin); it stops working at once",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("ID must be a number (see `slipway token list`), got %q", args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			tok, err := c.RevokeToken(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "✓ revoked token %d (%s of %s)\n", tok.ID, tok.Name, tok.User)
			return nil
		},
	}
}

func newWhoamiCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who your token belongs to and your roles",
		Args:  exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			u, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(u)
			}
			fmt.Fprintf(g.stdout, "%s: %s\n", u.Name, describeRoles(u.Role, u.Grants))
			return nil
		},
	}
	addJSON(cmd, g)
	return cmd
}
