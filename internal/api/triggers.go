package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/trigger"
)

// TriggerService is the git trigger part of the API: push webhooks,
// polling on demand, webhook secrets, and the candidates pushes made.
type TriggerService interface {
	// Webhook handles one push webhook delivery for app. It verifies the
	// body's HMAC signature with the app's webhook secret first and
	// returns an error wrapping ErrUnauthorized, having started nothing,
	// when it is missing or wrong (also for an app that does not exist or
	// has no secret, so unsigned callers learn nothing), then one wrapping
	// store.ErrNotFound if the app has no source. A ping answers "pong";
	// a push goes through the app's rules like a polled one.
	Webhook(ctx context.Context, app string, h http.Header, body []byte) (WebhookResult, error)
	// SyncSource polls app's repository now and acts on what moved.
	SyncSource(ctx context.Context, app, actor string) (SyncResult, error)
	// SourceStatus shows what the trigger knows of app's repository.
	SourceStatus(ctx context.Context, app string) (SourceStatus, error)
	// WebhookSecret returns app's webhook secret, or with rotate replaces
	// it first. Callers must be admins.
	WebhookSecret(ctx context.Context, app, actor string, rotate bool) (WebhookInfo, error)
	// Candidates lists app's candidates, newest first.
	Candidates(ctx context.Context, app string) ([]store.Candidate, error)
	// PromoteCandidate deploys a candidate (named by its tag or its run
	// number) to to, through to's promotion rules: requires_from (its
	// artifact must have gone live there) and approvals (it waits for
	// them like any promotion).
	PromoteCandidate(ctx context.Context, app, candidate, to, actor string) (PromoteResult, error)
}

// RefEvent is one ref a poll or a webhook found moved or deleted, and
// what the trigger did about it.
type RefEvent struct {
	Ref     string `json:"ref"`
	Commit  string `json:"commit,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Run is the run it started (0: none).
	Run int64 `json:"run,omitempty"`
	// Did says what happened: "run 4 started", "no rule matches",
	// "already seen", "preview preview-x torn down".
	Did string `json:"did"`
}

// WebhookResult answers a webhook delivery.
type WebhookResult struct {
	// Status is "pong" (a ping), "accepted" (a push was acted on) or
	// "ignored" (an event that is not a push).
	Status string    `json:"status"`
	Event  *RefEvent `json:"event,omitempty"`
}

// SyncResult answers SyncSource.
type SyncResult struct {
	// Baseline is true when this poll was the first of the app's source
	// (or its repo changed): the refs were recorded and nothing started.
	Baseline bool       `json:"baseline"`
	Refs     int        `json:"refs"`
	Events   []RefEvent `json:"events"`
}

// SourceStatus is what the trigger knows of an app's repository.
type SourceStatus struct {
	App       string            `json:"app"`
	Repo      string            `json:"repo"`
	Poll      string            `json:"poll"`
	Baseline  bool              `json:"baseline"`
	PolledAt  *time.Time        `json:"polled_at,omitempty"`
	PollError string            `json:"poll_error,omitempty"`
	Refs      map[string]string `json:"refs"`
	Previews  []store.Preview   `json:"previews"`
	// WebhookPath is where the app's webhook is served on the API.
	WebhookPath string `json:"webhook_path"`
}

// WebhookInfo is an app's webhook: the path on the API server and the
// secret to configure in GitHub or Gitea.
type WebhookInfo struct {
	Path    string `json:"path"`
	Secret  string `json:"secret"`
	Rotated bool   `json:"rotated,omitempty"`
}

// WebhookPath is the path of app's push webhook.
func WebhookPath(app string) string { return "/v1/hooks/" + url.PathEscape(app) }

// CandidatePromoteRequest promotes a candidate.
type CandidatePromoteRequest struct {
	Candidate string `json:"candidate"`
	To        string `json:"to"`
}

func (h *Handler) triggerRoutes() {
	// No token: the signature authenticates the caller (TriggerService.Webhook).
	h.mux.HandleFunc("POST /v1/hooks/{app}", h.webhook)
	h.route("GET /v1/apps/{app}/source", ActRead, h.sourceStatus)
	h.route("POST /v1/apps/{app}/source/sync", ActDeploy, h.syncSource)
	h.route("GET /v1/apps/{app}/source/webhook", ActAdmin, h.webhookSecret)
	h.route("POST /v1/apps/{app}/source/webhook/rotate", ActAdmin, h.webhookSecret)
	h.route("GET /v1/apps/{app}/candidates", ActRead, h.candidates)
	h.route("POST /v1/apps/{app}/candidates/promote", ActRead, h.promoteCandidate) // checks ActPromote on the target itself
}

func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, trigger.MaxPayload))
	if err != nil {
		h.fail(w, r, fmt.Errorf("read the webhook payload: %w", err))
		return
	}
	res, err := h.svc.Webhook(r.Context(), r.PathValue("app"), r.Header, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if res.Status == "accepted" {
		code = http.StatusAccepted
	}
	writeJSON(w, code, res)
}

func (h *Handler) sourceStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.SourceStatus(r.Context(), r.PathValue("app"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, st)
}

func (h *Handler) syncSource(w http.ResponseWriter, r *http.Request) error {
	res, err := h.svc.SyncSource(r.Context(), r.PathValue("app"), actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, res)
}

func (h *Handler) webhookSecret(w http.ResponseWriter, r *http.Request) error {
	info, err := h.svc.WebhookSecret(r.Context(), r.PathValue("app"), actor(r), r.Method == http.MethodPost)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, info)
}

func (h *Handler) candidates(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.Candidates(r.Context(), r.PathValue("app"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, cs)
}

func (h *Handler) promoteCandidate(w http.ResponseWriter, r *http.Request) error {
	var req CandidatePromoteRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Candidate == "" || req.To == "" {
		return errInvalidf("promoting a candidate needs the candidate (its tag or run number) and the environment to deploy it to")
	}
	if err := h.authorize(r, ActPromote, r.PathValue("app"), req.To); err != nil {
		return err
	}
	res, err := h.svc.PromoteCandidate(r.Context(), r.PathValue("app"), req.Candidate, req.To, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, res)
}

func sourcePath(app string) string { return "/v1/apps/" + url.PathEscape(app) + "/source" }

// SyncSource polls app's repository now.
func (c *Client) SyncSource(ctx context.Context, app string) (SyncResult, error) {
	var out SyncResult
	return out, c.json(ctx, "POST", sourcePath(app)+"/sync", nil, &out)
}

// SourceStatus shows what the trigger knows of app's repository.
func (c *Client) SourceStatus(ctx context.Context, app string) (SourceStatus, error) {
	var out SourceStatus
	return out, c.json(ctx, "GET", sourcePath(app), nil, &out)
}

// WebhookSecret returns app's webhook (path and secret); rotate makes a
// new secret first.
func (c *Client) WebhookSecret(ctx context.Context, app string, rotate bool) (WebhookInfo, error) {
	var out WebhookInfo
	if rotate {
		return out, c.json(ctx, "POST", sourcePath(app)+"/webhook/rotate", nil, &out)
	}
	return out, c.json(ctx, "GET", sourcePath(app)+"/webhook", nil, &out)
}

// Candidates lists app's candidates, newest first.
func (c *Client) Candidates(ctx context.Context, app string) ([]store.Candidate, error) {
	var out []store.Candidate
	return out, c.json(ctx, "GET", "/v1/apps/"+url.PathEscape(app)+"/candidates", nil, &out)
}

// PromoteCandidate deploys a candidate to an environment, or records a
// promotion that waits for approvals.
func (c *Client) PromoteCandidate(ctx context.Context, app, candidate, to string) (PromoteResult, error) {
	var out PromoteResult
	return out, c.json(ctx, "POST", "/v1/apps/"+url.PathEscape(app)+"/candidates/promote", CandidatePromoteRequest{Candidate: candidate, To: to}, &out)
}
