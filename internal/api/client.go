package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// Client calls a Slipway server's API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the server at base (e.g.
// http://127.0.0.1:7070) authenticating with token.
func NewClient(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{}}
}

// StatusError is an error answer from the server.
type StatusError struct {
	Status int
	Code   string
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// IsConflict reports whether err is a 409 answer.
func IsConflict(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusConflict
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the Slipway server at %s: %w (is `slipway server` running? set --server or SLIPWAY_SERVER)", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var e Error
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("server answered %s", resp.Status)
		}
		return &StatusError{Status: resp.StatusCode, Code: e.Code, Msg: e.Error}
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) json(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	return c.do(ctx, method, path, body, "application/json", out)
}

func envPath(app, env string) string {
	return "/v1/apps/" + url.PathEscape(app) + "/envs/" + url.PathEscape(env)
}

// Plan asks what applying app would change.
func (c *Client) Plan(ctx context.Context, app spec.App) (Plan, error) {
	var p Plan
	return p, c.json(ctx, "POST", "/v1/plan", app, &p)
}

// Apply stores app's spec on the server.
func (c *Client) Apply(ctx context.Context, app spec.App) (Plan, error) {
	var p Plan
	return p, c.json(ctx, "POST", "/v1/apply", app, &p)
}

// HasArtifact reports whether the server already has an artifact.
func (c *Client) HasArtifact(ctx context.Context, digest string) (bool, error) {
	err := c.do(ctx, "HEAD", "/v1/artifacts/"+url.PathEscape(digest), nil, "", nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// UploadArtifact sends an artifact's bytes.
func (c *Client) UploadArtifact(ctx context.Context, digest string, r io.Reader) error {
	return c.do(ctx, "PUT", "/v1/artifacts/"+url.PathEscape(digest), r, "application/gzip", nil)
}

// Deploy starts a rollout of artifact to env with spec.
func (c *Client) Deploy(ctx context.Context, app spec.App, env, artifact string) (store.Rollout, error) {
	var ro store.Rollout
	return ro, c.json(ctx, "POST", envPath(app.Name, env)+"/deploy", DeployRequest{Artifact: artifact, Spec: app}, &ro)
}

// Promote deploys what from runs to to, or records a promotion that
// waits for approvals.
func (c *Client) Promote(ctx context.Context, app, from, to string) (PromoteResult, error) {
	var res PromoteResult
	return res, c.json(ctx, "POST", "/v1/apps/"+url.PathEscape(app)+"/promote", map[string]string{"from": from, "to": to}, &res)
}

// Rollback redeploys release to (0: the previous one).
func (c *Client) Rollback(ctx context.Context, app, env string, to int) (store.Rollout, error) {
	var ro store.Rollout
	return ro, c.json(ctx, "POST", envPath(app, env)+"/rollback", map[string]int{"to": to}, &ro)
}

// SetConfig changes config and rolls out a release with it.
func (c *Client) SetConfig(ctx context.Context, app, env string, req ConfigRequest) (store.Rollout, error) {
	var ro store.Rollout
	return ro, c.json(ctx, "POST", envPath(app, env)+"/config", req, &ro)
}

// Config lists the effective config.
func (c *Client) Config(ctx context.Context, app, env string) ([]ConfigEntry, error) {
	var out []ConfigEntry
	return out, c.json(ctx, "GET", envPath(app, env)+"/config", nil, &out)
}

// Releases lists releases newest first.
func (c *Client) Releases(ctx context.Context, app, env string) ([]store.Release, error) {
	var out []store.Release
	return out, c.json(ctx, "GET", envPath(app, env)+"/releases", nil, &out)
}

// Status returns an environment's state.
func (c *Client) Status(ctx context.Context, app, env string) (EnvStatus, error) {
	var out EnvStatus
	return out, c.json(ctx, "GET", envPath(app, env)+"/status", nil, &out)
}

// Apps lists apps.
func (c *Client) Apps(ctx context.Context) ([]AppSummary, error) {
	var out []AppSummary
	return out, c.json(ctx, "GET", "/v1/apps", nil, &out)
}

// Rollout fetches one rollout.
func (c *Client) Rollout(ctx context.Context, id int64) (store.Rollout, error) {
	var out store.Rollout
	return out, c.json(ctx, "GET", "/v1/rollouts/"+strconv.FormatInt(id, 10), nil, &out)
}

// WaitRollout polls until the rollout is no longer running, or (with
// untilGate) until it waits at a manual gate for `slipway rollout promote`.
func (c *Client) WaitRollout(ctx context.Context, id int64, every time.Duration, untilGate bool) (store.Rollout, error) {
	for {
		ro, err := c.Rollout(ctx, id)
		if err != nil || ro.State != store.RolloutRunning || (untilGate && ro.Awaiting) {
			return ro, err
		}
		select {
		case <-ctx.Done():
			return ro, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Logs streams logs to w.
func (c *Client) Logs(ctx context.Context, app, env string, opts LogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	if opts.Release > 0 {
		q.Set("release", strconv.Itoa(opts.Release))
	}
	if opts.Follow {
		q.Set("follow", "1")
	}
	return c.do(ctx, "GET", envPath(app, env)+"/logs?"+q.Encode(), nil, "", w)
}

// Events lists the audit log, newest first.
func (c *Client) Events(ctx context.Context, limit int) ([]store.Event, error) {
	var out []store.Event
	return out, c.json(ctx, "GET", "/v1/events?limit="+strconv.Itoa(limit), nil, &out)
}

// RolloutCommand sends promote, pause, resume or abort to the running
// rollout of (app, env).
func (c *Client) RolloutCommand(ctx context.Context, app, env, command string) (store.Rollout, error) {
	var out store.Rollout
	return out, c.json(ctx, "POST", envPath(app, env)+"/rollout/"+url.PathEscape(command), nil, &out)
}

// RolloutStatus shows the running (or latest) rollout of (app, env).
func (c *Client) RolloutStatus(ctx context.Context, app, env string) (RolloutStatus, error) {
	var out RolloutStatus
	return out, c.json(ctx, "GET", envPath(app, env)+"/rollout", nil, &out)
}

// Rollouts lists rollouts, newest first.
func (c *Client) Rollouts(ctx context.Context, app, env string) ([]store.Rollout, error) {
	var out []store.Rollout
	return out, c.json(ctx, "GET", envPath(app, env)+"/rollouts", nil, &out)
}
