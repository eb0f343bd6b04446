package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// RunService is the pipeline part of the API: runs that check out one
// commit, test and build it into an artifact.
type RunService interface {
	// StartRun queues a run of req.App at req.Commit of req.Repo and
	// returns it.
	StartRun(ctx context.Context, req RunRequest) (store.Run, error)
	// Run returns one run with its steps.
	Run(ctx context.Context, id int64) (store.Run, error)
	// Runs lists runs newest first, of one app unless app is empty.
	Runs(ctx context.Context, app string, limit int) ([]store.Run, error)
	// RunLogs writes a run's logs to w: setup, each step in order,
	// finish. With follow it streams until the run has ended.
	RunLogs(ctx context.Context, id int64, follow bool, w io.Writer) error
	// CancelRun cancels a queued or running run and returns it ended.
	CancelRun(ctx context.Context, id int64, actor string) (store.Run, error)
	// RerunRun queues a new run of the same commit.
	RerunRun(ctx context.Context, id int64, actor string) (store.Run, error)
}

// RunRequest asks for a pipeline run of one commit.
type RunRequest struct {
	// App whose slipway.yaml the commit holds.
	App string `json:"app"`
	// Repo is an absolute local path, a file:// URL, or a URL git clone
	// accepts.
	Repo string `json:"repo"`
	// Commit is a full or short hash, a branch or a tag; the run records
	// the full hash it checked out.
	Commit string `json:"commit"`
	// Branch and Tag, if known, reach steps as SLIPWAY_BRANCH and
	// SLIPWAY_TAG.
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// SpecFile is slipway.yaml's path in the repository. Default
	// slipway.yaml.
	SpecFile string `json:"spec_file,omitempty"`
	// Trigger is what started the run (store.TriggerManual, ...); the API
	// sets manual.
	Trigger string `json:"-"`
	// Actor is who (or what) asked; the API sets the caller.
	Actor string `json:"-"`
}

func (h *Handler) runRoutes() {
	h.route("POST /v1/apps/{app}/runs", ActDeploy, h.startRun)
	h.route("GET /v1/apps/{app}/runs", ActRead, h.appRuns)
	h.route("GET /v1/runs", ActRead, h.allRuns)
	// The app of a run is known once it is read: these check it themselves.
	h.route("GET /v1/runs/{id}", ActRead, h.run)
	h.route("GET /v1/runs/{id}/logs", ActRead, h.runLogs)
	h.route("POST /v1/runs/{id}/cancel", ActRead, h.cancelRun)
	h.route("POST /v1/runs/{id}/rerun", ActRead, h.rerunRun)
}

func (h *Handler) startRun(w http.ResponseWriter, r *http.Request) error {
	var req RunRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.App != "" && req.App != r.PathValue("app") {
		return fmt.Errorf("%w: the body names app %q but the URL says %q", ErrInvalid, req.App, r.PathValue("app"))
	}
	req.App, req.Trigger, req.Actor = r.PathValue("app"), store.TriggerManual, actor(r)
	run, err := h.svc.StartRun(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, run)
}

func runLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%w: limit must be a number from 1 to 10000", ErrInvalid)
	}
	return n, nil
}

func (h *Handler) appRuns(w http.ResponseWriter, r *http.Request) error {
	limit, err := runLimit(r)
	if err != nil {
		return err
	}
	runs, err := h.svc.Runs(r.Context(), r.PathValue("app"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, runs)
}

// allRuns lists the runs of every app the caller may read.
func (h *Handler) allRuns(w http.ResponseWriter, r *http.Request) error {
	limit, err := runLimit(r)
	if err != nil {
		return err
	}
	runs, err := h.svc.Runs(r.Context(), "", limit)
	if err != nil {
		return err
	}
	visible := []store.Run{}
	for _, run := range runs {
		if h.authorize(r, ActRead, run.App, "") == nil {
			visible = append(visible, run)
		}
	}
	return writeJSON(w, 200, visible)
}

// runFor reads the run of the path's {id} and checks that the caller may
// do action on its app.
func (h *Handler) runFor(r *http.Request, action Action) (store.Run, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return store.Run{}, fmt.Errorf("%w: run id %q is not a number", ErrInvalid, r.PathValue("id"))
	}
	run, err := h.svc.Run(r.Context(), id)
	if err != nil {
		return run, err
	}
	return run, h.authorize(r, action, run.App, "")
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request) error {
	run, err := h.runFor(r, ActRead)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, run)
}

func (h *Handler) runLogs(w http.ResponseWriter, r *http.Request) error {
	run, err := h.runFor(r, ActRead)
	if err != nil {
		return err
	}
	follow := r.URL.Query().Get("follow") == "1" || r.URL.Query().Get("follow") == "true"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.f = f
	}
	return h.svc.RunLogs(r.Context(), run.ID, follow, fw)
}

func (h *Handler) cancelRun(w http.ResponseWriter, r *http.Request) error {
	run, err := h.runFor(r, ActDeploy)
	if err != nil {
		return err
	}
	if run, err = h.svc.CancelRun(r.Context(), run.ID, actor(r)); err != nil {
		return err
	}
	return writeJSON(w, 200, run)
}

func (h *Handler) rerunRun(w http.ResponseWriter, r *http.Request) error {
	run, err := h.runFor(r, ActDeploy)
	if err != nil {
		return err
	}
	if run, err = h.svc.RerunRun(r.Context(), run.ID, actor(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, run)
}

func runPath(id int64) string { return "/v1/runs/" + strconv.FormatInt(id, 10) }

// StartRun queues a pipeline run (req.Trigger and req.Actor are set by the
// server).
func (c *Client) StartRun(ctx context.Context, req RunRequest) (store.Run, error) {
	var out store.Run
	return out, c.json(ctx, "POST", "/v1/apps/"+url.PathEscape(req.App)+"/runs", req, &out)
}

// Run fetches a run with its steps.
func (c *Client) Run(ctx context.Context, id int64) (store.Run, error) {
	var out store.Run
	return out, c.json(ctx, "GET", runPath(id), nil, &out)
}

// Runs lists runs newest first, of app unless it is empty.
func (c *Client) Runs(ctx context.Context, app string) ([]store.Run, error) {
	path := "/v1/runs"
	if app != "" {
		path = "/v1/apps/" + url.PathEscape(app) + "/runs"
	}
	var out []store.Run
	return out, c.json(ctx, "GET", path, nil, &out)
}

// RunLogs writes a run's logs to w; with follow until the run ends.
func (c *Client) RunLogs(ctx context.Context, id int64, follow bool, w io.Writer) error {
	q := ""
	if follow {
		q = "?follow=1"
	}
	return c.do(ctx, "GET", runPath(id)+"/logs"+q, nil, "", w)
}

// CancelRun cancels a run and returns it as it ended.
func (c *Client) CancelRun(ctx context.Context, id int64) (store.Run, error) {
	var out store.Run
	return out, c.json(ctx, "POST", runPath(id)+"/cancel", nil, &out)
}

// RerunRun queues a new run of the same commit.
func (c *Client) RerunRun(ctx context.Context, id int64) (store.Run, error) {
	var out store.Run
	return out, c.json(ctx, "POST", runPath(id)+"/rerun", nil, &out)
}

// WaitRun polls until the run has ended.
func (c *Client) WaitRun(ctx context.Context, id int64, every time.Duration) (store.Run, error) {
	for {
		run, err := c.Run(ctx, id)
		if err != nil || run.Done() {
			return run, err
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-time.After(every):
		}
	}
}
