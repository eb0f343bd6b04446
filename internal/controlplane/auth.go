package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/auth"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

var _ api.AuthService = (*ControlPlane)(nil)

// bootstrapUser and bootstrapToken name the admin and the token the first
// start creates (the token is written to DataDir/token).
const (
	bootstrapUser  = "admin"
	bootstrapToken = "bootstrap"
)

// ensureToken creates user admin with a token on first start (no users
// yet) and writes the token to DataDir/token with mode 0600. Only its
// hash is stored.
func (cp *ControlPlane) ensureToken(ctx context.Context) error {
	n, err := cp.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	token := auth.NewToken()
	path := filepath.Join(cp.opts.DataDir, TokenFile)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	_, _, err = cp.store.AddUser(ctx, "system", bootstrapUser, string(auth.Admin), bootstrapToken, auth.HashToken(token))
	return err
}

// ReadToken reads the admin token from a data dir.
func ReadToken(dataDir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(raw)), nil
}

// touchEvery limits how often a token's last use is written.
const touchEvery = time.Minute

// Authenticate implements api.Service: the token's sha256 finds the token
// and its user. Tokens of removed users no longer exist.
func (cp *ControlPlane) Authenticate(ctx context.Context, token string) (api.Principal, error) {
	c, err := cp.store.TokenByHash(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return api.Principal{}, api.ErrUnauthorized
	}
	if err != nil {
		return api.Principal{}, err
	}
	if last := c.Token.LastUsedAt; last == nil || time.Since(*last) > touchEvery {
		if err := cp.store.TouchToken(ctx, c.Token.ID); err != nil {
			cp.log.Warn("record token use", "token_id", c.Token.ID, "user", c.Token.User, "err", err)
		}
	}
	return api.Principal{Name: c.Token.User, Role: c.Role}, nil
}

// Authorize implements api.Service with auth.Decide: the user's current
// role and grants (read now, so a change applies to the next request),
// and, for a request in an environment, that environment's permissions in
// the app's stored spec. A refusal is recorded in the audit log.
func (cp *ControlPlane) Authorize(ctx context.Context, p api.Principal, action api.Action, app, env string) error {
	u, err := cp.store.User(ctx, p.Name)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
		return api.ErrUnauthorized
	}
	if err != nil {
		return err
	}
	var perms spec.Permissions
	if app != "" && env != "" {
		stored, err := cp.store.App(ctx, app)
		switch {
		case err == nil:
			perms = stored.Environments[env].Permissions
		case !errors.Is(err, store.ErrNotFound): // an app not stored yet has no permissions
			return err
		}
	}
	d := auth.Decide(auth.Role(u.Role), grants(u), auth.Action(action), env, perms)
	if d.Allowed {
		return nil
	}
	return cp.deny(ctx, p.Name, string(action), app, env, d.Explain(p.Name, auth.Action(action), app, env))
}

func grants(u store.User) map[string]auth.Role {
	out := make(map[string]auth.Role, len(u.Grants))
	for env, r := range u.Grants {
		out[env] = auth.Role(r)
	}
	return out
}

// deny records a refusal in the audit log and returns the 403 that says
// why. Recording must not turn a refusal into something else, so a failure
// to record is logged and the refusal stands.
func (cp *ControlPlane) deny(ctx context.Context, actor, action, app, env, why string) error {
	err := cp.store.RecordEvent(context.WithoutCancel(ctx), store.Entry{Actor: actor, Action: action, App: app, Env: env,
		Outcome: store.OutcomeDenied, Detail: why})
	if err != nil {
		cp.log.Error("record refusal in the audit log", "actor", actor, "action", action, "app", app, "env", env, "err", err)
	}
	return fmt.Errorf("%w: %s", api.ErrForbidden, why)
}

// checkSpecChange refuses a spec (from apply, or a deploy with -f) that
// would lower an environment's permissions or loosen its promotion rules
// (requires_from, approvals) unless actor is an admin: otherwise a
// deployer could open production to itself, or reach it past its gates.
func (cp *ControlPlane) checkSpecChange(ctx context.Context, actor string, next spec.App) error {
	prev, err := cp.store.App(ctx, next.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var what []string
	for _, l := range auth.Lowered(&prev, &next) {
		what = append(what, l.String())
	}
	what = append(what, auth.LoosenedGates(prev, next)...)
	if len(what) == 0 {
		return nil
	}
	u, err := cp.store.User(ctx, actor)
	if err != nil {
		return err
	}
	if auth.Role(u.Role) == auth.Admin {
		return nil
	}
	return cp.deny(ctx, actor, string(api.ActApply), next.Name, "", fmt.Sprintf(
		"%s (%s) may not lower permissions or loosen promotion rules of %s (%s): only an admin may; keep them in slipway.yaml as they are stored (`slipway plan` shows the difference), or ask an admin to apply it",
		actor, u.Role, next.Name, strings.Join(what, "; ")))
}

// isAdmin reports whether p is an admin now, without recording anything.
func (cp *ControlPlane) isAdmin(ctx context.Context, p api.Principal) (bool, error) {
	u, err := cp.store.User(ctx, p.Name)
	if err != nil {
		return false, err
	}
	return auth.Role(u.Role) == auth.Admin && !u.Disabled, nil
}

// Whoami implements api.AuthService.
func (cp *ControlPlane) Whoami(ctx context.Context, p api.Principal) (store.User, error) {
	return cp.store.User(ctx, p.Name)
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", api.ErrInvalid, fmt.Sprintf(format, a...))
}

func parseRole(role string) (auth.Role, error) {
	r, err := auth.ParseRole(role)
	if err != nil {
		return "", invalidf("%v", err)
	}
	return r, nil
}

// AddUser implements api.AuthService.
func (cp *ControlPlane) AddUser(ctx context.Context, actor string, req api.AddUserRequest) (api.UserAdded, error) {
	if err := auth.ValidUserName(req.Name); err != nil {
		return api.UserAdded{}, invalidf("%v", err)
	}
	role, err := parseRole(req.Role)
	if err != nil {
		return api.UserAdded{}, err
	}
	if req.TokenName == "" {
		req.TokenName = "default"
	}
	if err := auth.ValidTokenName(req.TokenName); err != nil {
		return api.UserAdded{}, invalidf("%v", err)
	}
	token := auth.NewToken()
	u, tok, err := cp.store.AddUser(ctx, actor, req.Name, string(role), req.TokenName, auth.HashToken(token))
	if err != nil {
		return api.UserAdded{}, err
	}
	return api.UserAdded{User: u, Token: tok, Secret: token}, nil
}

// Users implements api.AuthService.
func (cp *ControlPlane) Users(ctx context.Context) ([]store.User, error) {
	return cp.store.Users(ctx)
}

// RemoveUser implements api.AuthService.
func (cp *ControlPlane) RemoveUser(ctx context.Context, actor, name string) error {
	return cp.store.RemoveUser(ctx, actor, name)
}

// SetRole implements api.AuthService.
func (cp *ControlPlane) SetRole(ctx context.Context, actor, name, env, role string) error {
	r, err := parseRole(role)
	if err != nil {
		return err
	}
	if env != "" {
		if err := auth.ValidEnvName(env); err != nil {
			return invalidf("%v", err)
		}
	}
	return cp.store.SetRole(ctx, actor, name, env, string(r))
}

// Revoke implements api.AuthService.
func (cp *ControlPlane) Revoke(ctx context.Context, actor, name, env string) error {
	return cp.store.RevokeGrant(ctx, actor, name, env)
}

// forOther checks that p may act on user's tokens: its own, or anyone's
// for an admin (a refusal is recorded).
func (cp *ControlPlane) forOther(ctx context.Context, p api.Principal, user string) error {
	if user == "" || user == p.Name {
		return nil
	}
	return cp.Authorize(ctx, p, api.ActAdmin, "", "")
}

// CreateToken implements api.AuthService.
func (cp *ControlPlane) CreateToken(ctx context.Context, p api.Principal, user, name string) (api.TokenCreated, error) {
	if err := auth.ValidTokenName(name); err != nil {
		return api.TokenCreated{}, invalidf("%v", err)
	}
	if err := cp.forOther(ctx, p, user); err != nil {
		return api.TokenCreated{}, err
	}
	if user == "" {
		user = p.Name
	}
	token := auth.NewToken()
	tok, err := cp.store.AddToken(ctx, p.Name, user, name, auth.HashToken(token))
	if err != nil {
		return api.TokenCreated{}, err
	}
	return api.TokenCreated{Token: tok, Secret: token}, nil
}

// Tokens implements api.AuthService.
func (cp *ControlPlane) Tokens(ctx context.Context, p api.Principal, user string, all bool) ([]store.Token, error) {
	if all {
		if err := cp.Authorize(ctx, p, api.ActAdmin, "", ""); err != nil {
			return nil, err
		}
		return cp.store.Tokens(ctx, "")
	}
	if err := cp.forOther(ctx, p, user); err != nil {
		return nil, err
	}
	if user == "" {
		user = p.Name
	}
	return cp.store.Tokens(ctx, user)
}

// RevokeToken implements api.AuthService. Others' tokens look absent to a
// user who is not an admin.
func (cp *ControlPlane) RevokeToken(ctx context.Context, p api.Principal, id int64) (store.Token, error) {
	admin, err := cp.isAdmin(ctx, p)
	if err != nil {
		return store.Token{}, err
	}
	owner := p.Name
	if admin {
		owner = ""
	}
	return cp.store.RevokeToken(ctx, p.Name, id, owner)
}

// Audit implements api.AuthService.
func (cp *ControlPlane) Audit(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	return cp.store.QueryEvents(ctx, f)
}

// VerifyAudit implements api.AuthService.
func (cp *ControlPlane) VerifyAudit(ctx context.Context, anchor *store.Anchor) (store.AuditReport, error) {
	return cp.store.VerifyEvents(ctx, anchor)
}
