package api

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/store"
)

// SecretService manages secrets, whose values go in and never come out,
// and compares environments.
type SecretService interface {
	// Secrets lists the current secrets of (app, env): names, versions,
	// who set them and when. Never values.
	Secrets(ctx context.Context, app, env string) ([]SecretEntry, error)
	// SetSecrets stores a new, encrypted version of each secret in
	// req.Set and deletes those in req.Unset. If the environment has a live
	// release, it rolls out a new release of the same artifact that pins
	// the new versions (a rollback restores the old ones); if not, the
	// first deploy pins them.
	SetSecrets(ctx context.Context, app, env string, req SecretRequest, actor string) (SecretChange, error)
	// RotateSecretsKey re-encrypts every stored secret for a new key, in
	// one transaction, then installs the new key file.
	RotateSecretsKey(ctx context.Context, actor string) (KeyRotation, error)
	// Diff compares environments a and b of app: config (with values),
	// secrets (names only), artifact and commit, replicas and runtime
	// settings.
	Diff(ctx context.Context, app, a, b string) (release.Parity, error)
}

// SecretRequest sets and unsets secrets. Its values are secret: String
// and GoString name the keys only, so printing a request shows no value.
type SecretRequest struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// String names the keys of r, never the values.
func (r SecretRequest) String() string {
	return fmt.Sprintf("set %s; unset %s", strings.Join(slices.Sorted(maps.Keys(r.Set)), ", "), strings.Join(r.Unset, ", "))
}

// GoString is String, for %#v.
func (r SecretRequest) GoString() string { return "api.SecretRequest{" + r.String() + "}" }

// SecretEntry describes one secret of an environment.
type SecretEntry struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// LiveVersion is the version the live release pins; 0 when it pins
	// none (not live yet, or set since a failed rollout).
	LiveVersion int `json:"live_version"`
	// File is where the app finds it (environments.<env>.secret_files),
	// relative to its working directory; empty for an environment variable.
	File      string    `json:"file,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// SecretChange is the outcome of SetSecrets.
type SecretChange struct {
	// Rollout is the rollout delivering the change, nil when the
	// environment has no live release yet.
	Rollout *store.Rollout `json:"rollout,omitempty"`
	// Secrets are the environment's secrets after the change.
	Secrets []SecretEntry `json:"secrets"`
	// ShadowedConfig lists the secrets that also are config keys of the
	// environment: instances get the secret.
	ShadowedConfig []string `json:"shadowed_config,omitempty"`
}

// KeyRotation is the outcome of RotateSecretsKey.
type KeyRotation struct {
	// Recipient is the new key's public half (age1...).
	Recipient string `json:"recipient"`
	// Reencrypted counts the secret versions re-encrypted.
	Reencrypted int `json:"reencrypted"`
}

func (h *Handler) secretRoutes() {
	h.route("GET /v1/apps/{app}/envs/{env}/secrets", ActRead, h.secrets)
	h.route("POST /v1/apps/{app}/envs/{env}/secrets", ActSecret, h.setSecrets)
	h.route("POST /v1/secrets/rotate-key", ActAdmin, h.rotateSecretsKey)
	h.route("GET /v1/apps/{app}/diff", ActRead, h.diff) // checks ActRead on both environments itself
}

func (h *Handler) secrets(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.Secrets(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list)
}

func (h *Handler) setSecrets(w http.ResponseWriter, r *http.Request) error {
	var req SecretRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	res, err := h.svc.SetSecrets(r.Context(), r.PathValue("app"), r.PathValue("env"), req, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, res)
}

func (h *Handler) rotateSecretsKey(w http.ResponseWriter, r *http.Request) error {
	res, err := h.svc.RotateSecretsKey(r.Context(), actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, res)
}

func (h *Handler) diff(w http.ResponseWriter, r *http.Request) error {
	app, a, b := r.PathValue("app"), r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if a == "" || b == "" || a == b {
		return errInvalidf("diff needs two different environments, ?a=ENV&b=ENV")
	}
	for _, env := range []string{a, b} {
		if err := h.authorize(r, ActRead, app, env); err != nil {
			return err
		}
	}
	p, err := h.svc.Diff(r.Context(), app, a, b)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, p)
}

// Secrets lists an environment's secrets, without values.
func (c *Client) Secrets(ctx context.Context, app, env string) ([]SecretEntry, error) {
	var out []SecretEntry
	return out, c.json(ctx, "GET", envPath(app, env)+"/secrets", nil, &out)
}

// SetSecrets sets and unsets secrets.
func (c *Client) SetSecrets(ctx context.Context, app, env string, req SecretRequest) (SecretChange, error) {
	var out SecretChange
	return out, c.json(ctx, "POST", envPath(app, env)+"/secrets", req, &out)
}

// RotateSecretsKey re-encrypts every secret for a new key.
func (c *Client) RotateSecretsKey(ctx context.Context) (KeyRotation, error) {
	var out KeyRotation
	return out, c.json(ctx, "POST", "/v1/secrets/rotate-key", nil, &out)
}

// Diff compares two environments of an app.
func (c *Client) Diff(ctx context.Context, app, a, b string) (release.Parity, error) {
	var out release.Parity
	q := url.Values{"a": {a}, "b": {b}}
	return out, c.json(ctx, "GET", "/v1/apps/"+url.PathEscape(app)+"/diff?"+q.Encode(), nil, &out)
}
