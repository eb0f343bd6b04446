package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/slipway-dev/slipway/internal/store"
)

// ErrorService is the error tracker part of the API: the issues grouped
// from what apps' Sentry SDKs send, their states, the DSNs and release
// health.
type ErrorService interface {
	// ErrorIssues lists (app, env)'s issues, most recently seen first.
	// release > 0 keeps the issues with events in that release; status
	// ("" for any) keeps those in that state.
	ErrorIssues(ctx context.Context, app, env string, release int, status string, limit int) ([]store.ErrorIssue, error)
	// ErrorIssue returns one issue with its releases and its newest
	// sampled events (up to events), each with its JSON as received.
	ErrorIssue(ctx context.Context, id int64, events int) (IssueDetail, error)
	// SetIssueStatus resolves, ignores or reopens an issue, and records
	// it in the audit log.
	SetIssueStatus(ctx context.Context, id int64, req IssueStatusRequest, actor string) (store.ErrorIssue, error)
	// ErrorsDSN returns the DSN of (app, env) (the one its instances get
	// as SENTRY_DSN), creating it if the environment has none yet.
	ErrorsDSN(ctx context.Context, app, env string) (DSNInfo, error)
	// ReleaseHealth lists crash-free rates per release of (app, env),
	// from the sessions SDKs send.
	ReleaseHealth(ctx context.Context, app, env string) ([]store.ReleaseHealth, error)
}

// IssueDetail is an issue with a sample of its events.
type IssueDetail struct {
	Issue  store.ErrorIssue `json:"issue"`
	Events []IssueEvent     `json:"events"`
}

// IssueEvent is one sampled event: when and where, and its JSON as the
// SDK sent it (stack traces included).
type IssueEvent struct {
	store.StoredEvent
	Event json.RawMessage `json:"event"`
}

// IssueStatusRequest changes an issue's state: unresolved, resolved or
// ignored. InNextRelease (with resolved) keeps it resolved through
// events of the newest release it was seen in: only a later release
// reopens it.
type IssueStatusRequest struct {
	Status        string `json:"status"`
	InNextRelease bool   `json:"in_next_release,omitempty"`
}

// DSNInfo is an environment's DSN and what instances get with it.
type DSNInfo struct {
	App string `json:"app"`
	Env string `json:"env"`
	DSN string `json:"dsn"`
	// Project is the DSN's project id.
	Project int64 `json:"project"`
}

func (h *Handler) errorRoutes() {
	h.route("GET /v1/apps/{app}/envs/{env}/errors", ActRead, h.errorIssues)
	h.route("GET /v1/apps/{app}/envs/{env}/errors/dsn", ActRead, h.errorsDSN)
	h.route("GET /v1/apps/{app}/envs/{env}/errors/health", ActRead, h.releaseHealth)
	h.route("GET /v1/errors/{id}", ActRead, h.errorIssue)             // checks ActRead on the issue's environment itself
	h.route("POST /v1/errors/{id}/status", ActRead, h.setIssueStatus) // checks ActDeploy on the issue's environment itself
}

func (h *Handler) errorIssues(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var rel int
	if v := q.Get("release"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errInvalidf("release %q is not a release number (see `slipway releases`)", v)
		}
		rel = n
	}
	switch q.Get("status") {
	case "", store.IssueUnresolved, store.IssueResolved, store.IssueIgnored:
	default:
		return errInvalidf("status %q is not one of unresolved, resolved, ignored", q.Get("status"))
	}
	limit, err := runLimit(r)
	if err != nil {
		return err
	}
	list, err := h.svc.ErrorIssues(r.Context(), r.PathValue("app"), r.PathValue("env"), rel, q.Get("status"), limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []store.ErrorIssue{}
	}
	return writeJSON(w, 200, list)
}

func issueID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, errInvalidf("issue id %q is not a number (see `slipway errors list`)", r.PathValue("id"))
	}
	return id, nil
}

func (h *Handler) errorIssue(w http.ResponseWriter, r *http.Request) error {
	id, err := issueID(r)
	if err != nil {
		return err
	}
	n := 1
	if v := r.URL.Query().Get("events"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > 1000 {
			return errInvalidf("events must be a number from 0 to 1000")
		}
	}
	d, err := h.svc.ErrorIssue(r.Context(), id, n)
	if err != nil {
		return err
	}
	if err := h.authorize(r, ActRead, d.Issue.App, d.Issue.Env); err != nil {
		return err
	}
	return writeJSON(w, 200, d)
}

func (h *Handler) setIssueStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := issueID(r)
	if err != nil {
		return err
	}
	var req IssueStatusRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	d, err := h.svc.ErrorIssue(r.Context(), id, 0)
	if err != nil {
		return err
	}
	if err := h.authorize(r, ActDeploy, d.Issue.App, d.Issue.Env); err != nil {
		return err
	}
	is, err := h.svc.SetIssueStatus(r.Context(), id, req, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, is)
}

func (h *Handler) errorsDSN(w http.ResponseWriter, r *http.Request) error {
	d, err := h.svc.ErrorsDSN(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, d)
}

func (h *Handler) releaseHealth(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.ReleaseHealth(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []store.ReleaseHealth{}
	}
	return writeJSON(w, 200, list)
}

// ErrorIssues lists an environment's error issues.
func (c *Client) ErrorIssues(ctx context.Context, app, env string, release int, status string) ([]store.ErrorIssue, error) {
	q := url.Values{}
	if release > 0 {
		q.Set("release", strconv.Itoa(release))
	}
	if status != "" {
		q.Set("status", status)
	}
	var out []store.ErrorIssue
	return out, c.json(ctx, "GET", envPath(app, env)+"/errors?"+q.Encode(), nil, &out)
}

// ErrorIssue fetches one issue with up to events sampled events.
func (c *Client) ErrorIssue(ctx context.Context, id int64, events int) (IssueDetail, error) {
	var out IssueDetail
	return out, c.json(ctx, "GET", "/v1/errors/"+strconv.FormatInt(id, 10)+"?events="+strconv.Itoa(events), nil, &out)
}

// SetIssueStatus resolves, ignores or reopens an issue.
func (c *Client) SetIssueStatus(ctx context.Context, id int64, req IssueStatusRequest) (store.ErrorIssue, error) {
	var out store.ErrorIssue
	return out, c.json(ctx, "POST", "/v1/errors/"+strconv.FormatInt(id, 10)+"/status", req, &out)
}

// ErrorsDSN fetches an environment's DSN.
func (c *Client) ErrorsDSN(ctx context.Context, app, env string) (DSNInfo, error) {
	var out DSNInfo
	return out, c.json(ctx, "GET", envPath(app, env)+"/errors/dsn", nil, &out)
}

// ReleaseHealth fetches an environment's crash-free rates per release.
func (c *Client) ReleaseHealth(ctx context.Context, app, env string) ([]store.ReleaseHealth, error) {
	var out []store.ReleaseHealth
	return out, c.json(ctx, "GET", envPath(app, env)+"/errors/health", nil, &out)
}
