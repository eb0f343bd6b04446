package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/store"
)

// AuthService manages users, their roles and tokens, and the audit log.
// The routes that reach it check the caller's role first (ActAdmin for
// users and verification); methods that take a Principal check the rest.
type AuthService interface {
	// Whoami returns the caller's user: its global role and grants.
	Whoami(ctx context.Context, p Principal) (store.User, error)
	// AddUser creates a user (or brings back a removed one) with a first
	// token; the answer is the only place that token ever appears.
	AddUser(ctx context.Context, actor string, req AddUserRequest) (UserAdded, error)
	// Users lists every user, removed ones marked disabled.
	Users(ctx context.Context) ([]store.User, error)
	// RemoveUser disables a user and revokes its tokens and grants.
	RemoveUser(ctx context.Context, actor, name string) error
	// SetRole sets a user's role in env, or its global role if env is "".
	SetRole(ctx context.Context, actor, name, env, role string) error
	// Revoke drops a user's grant in env; its global role applies there.
	Revoke(ctx context.Context, actor, name, env string) error
	// CreateToken makes a new token for user (the caller if empty; only an
	// admin may name another). The answer is the only place it appears.
	CreateToken(ctx context.Context, p Principal, user, name string) (TokenCreated, error)
	// Tokens lists the tokens of user (the caller if empty), or of every
	// user with all; only an admin may see another's.
	Tokens(ctx context.Context, p Principal, user string, all bool) ([]store.Token, error)
	// RevokeToken deletes a token: any of the caller's own, or anyone's
	// for an admin.
	RevokeToken(ctx context.Context, p Principal, id int64) (store.Token, error)
	// Audit lists audit log entries, newest first.
	Audit(ctx context.Context, f store.EventFilter) ([]store.Event, error)
	// VerifyAudit walks the audit log's hash chain.
	VerifyAudit(ctx context.Context, anchor *store.Anchor) (store.AuditReport, error)
}

// AddUserRequest creates a user.
type AddUserRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// TokenName names the first token; default "default".
	TokenName string `json:"token_name,omitempty"`
}

// UserAdded answers AddUser. Secret is the token itself, shown once.
type UserAdded struct {
	User   store.User  `json:"user"`
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

// TokenCreated answers CreateToken. Secret is the token itself, shown once.
type TokenCreated struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

func (h *Handler) authRoutes() {
	h.route("GET /v1/whoami", ActRead, h.whoami)
	h.route("GET /v1/users", ActAdmin, h.users)
	h.route("POST /v1/users", ActAdmin, h.addUser)
	h.route("DELETE /v1/users/{name}", ActAdmin, h.removeUser)
	h.route("PUT /v1/users/{name}/role", ActAdmin, h.setGlobalRole)
	h.route("PUT /v1/users/{name}/grants/{scope}", ActAdmin, h.grant)
	h.route("DELETE /v1/users/{name}/grants/{scope}", ActAdmin, h.revokeGrant)
	h.route("GET /v1/tokens", ActRead, h.tokens) // others' tokens: the service checks admin
	h.route("POST /v1/tokens", ActRead, h.createToken)
	h.route("DELETE /v1/tokens/{id}", ActRead, h.revokeToken)
	h.route("GET /v1/audit", ActRead, h.audit)
	h.route("GET /v1/audit/verify", ActAdmin, h.verifyAudit)
}

func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.Whoami(r.Context(), principal(r))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, u)
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request) error {
	us, err := h.svc.Users(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, us)
}

func (h *Handler) addUser(w http.ResponseWriter, r *http.Request) error {
	var req AddUserRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	res, err := h.svc.AddUser(r.Context(), actor(r), req)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, res)
}

func (h *Handler) removeUser(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.RemoveUser(r.Context(), actor(r), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type roleRequest struct {
	Role string `json:"role"`
}

func (h *Handler) setGlobalRole(w http.ResponseWriter, r *http.Request) error {
	var req roleRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := h.svc.SetRole(r.Context(), actor(r), r.PathValue("name"), "", req.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) grant(w http.ResponseWriter, r *http.Request) error {
	var req roleRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := h.svc.SetRole(r.Context(), actor(r), r.PathValue("name"), r.PathValue("scope"), req.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Revoke(r.Context(), actor(r), r.PathValue("name"), r.PathValue("scope")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) tokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ts, err := h.svc.Tokens(r.Context(), principal(r), q.Get("user"), q.Get("all") == "1")
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ts)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		User string `json:"user,omitempty"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	res, err := h.svc.CreateToken(r.Context(), principal(r), req.User, req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, res)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errInvalidf("token id %q is not a number (see `slipway token list`)", r.PathValue("id"))
	}
	tok, err := h.svc.RevokeToken(r.Context(), principal(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, tok)
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	f := store.EventFilter{App: r.URL.Query().Get("app"), Limit: 100}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errInvalidf("limit must be a number from 1 to 10000")
		}
		f.Limit = n
	}
	evs, err := h.svc.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []store.Event{}
	}
	return writeJSON(w, 200, evs)
}

// ParseAnchor reads an audit head written as ID:HASH (what `slipway audit
// verify` prints).
func ParseAnchor(s string) (*store.Anchor, error) {
	id, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != 64 {
		return nil, fmt.Errorf("%w: head %q: write it as ID:HASH, as `slipway audit verify` prints it (e.g. 42:3fa9…, 64 hex digits)", ErrInvalid, s)
	}
	return &store.Anchor{ID: n, Hash: strings.ToLower(hash)}, nil
}

func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	var anchor *store.Anchor
	if v := r.URL.Query().Get("head"); v != "" {
		var err error
		if anchor, err = ParseAnchor(v); err != nil {
			return err
		}
	}
	rep, err := h.svc.VerifyAudit(r.Context(), anchor)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, rep)
}

// Whoami returns the caller's user.
func (c *Client) Whoami(ctx context.Context) (store.User, error) {
	var out store.User
	return out, c.json(ctx, "GET", "/v1/whoami", nil, &out)
}

// Users lists users (admin).
func (c *Client) Users(ctx context.Context) ([]store.User, error) {
	var out []store.User
	return out, c.json(ctx, "GET", "/v1/users", nil, &out)
}

// AddUser creates a user and its first token (admin).
func (c *Client) AddUser(ctx context.Context, req AddUserRequest) (UserAdded, error) {
	var out UserAdded
	return out, c.json(ctx, "POST", "/v1/users", req, &out)
}

// RemoveUser disables a user and revokes its tokens (admin).
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.json(ctx, "DELETE", "/v1/users/"+url.PathEscape(name), nil, nil)
}

// SetRole sets a user's role in env, or its global role if env is ""
// (admin).
func (c *Client) SetRole(ctx context.Context, name, env, role string) error {
	path := "/v1/users/" + url.PathEscape(name) + "/role"
	if env != "" {
		path = "/v1/users/" + url.PathEscape(name) + "/grants/" + url.PathEscape(env)
	}
	return c.json(ctx, "PUT", path, roleRequest{Role: role}, nil)
}

// Revoke drops a user's grant in env (admin).
func (c *Client) Revoke(ctx context.Context, name, env string) error {
	return c.json(ctx, "DELETE", "/v1/users/"+url.PathEscape(name)+"/grants/"+url.PathEscape(env), nil, nil)
}

// CreateToken makes a token named name for user ("" for the caller).
func (c *Client) CreateToken(ctx context.Context, user, name string) (TokenCreated, error) {
	var out TokenCreated
	return out, c.json(ctx, "POST", "/v1/tokens", map[string]string{"name": name, "user": user}, &out)
}

// Tokens lists the tokens of user ("" for the caller), or every user's
// with all.
func (c *Client) Tokens(ctx context.Context, user string, all bool) ([]store.Token, error) {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	if all {
		q.Set("all", "1")
	}
	var out []store.Token
	return out, c.json(ctx, "GET", "/v1/tokens?"+q.Encode(), nil, &out)
}

// RevokeToken deletes a token.
func (c *Client) RevokeToken(ctx context.Context, id int64) (store.Token, error) {
	var out store.Token
	return out, c.json(ctx, "DELETE", "/v1/tokens/"+strconv.FormatInt(id, 10), nil, &out)
}

// Audit lists audit log entries, newest first.
func (c *Client) Audit(ctx context.Context, app string, limit int) ([]store.Event, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []store.Event
	return out, c.json(ctx, "GET", "/v1/audit?"+q.Encode(), nil, &out)
}

// VerifyAudit checks the audit log's hash chain (admin); head, if not
// empty, is an ID:HASH recorded from an earlier verification.
func (c *Client) VerifyAudit(ctx context.Context, head string) (store.AuditReport, error) {
	q := url.Values{}
	if head != "" {
		q.Set("head", head)
	}
	var out store.AuditReport
	return out, c.json(ctx, "GET", "/v1/audit/verify?"+q.Encode(), nil, &out)
}
