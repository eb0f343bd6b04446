package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// MaxJSONBody bounds request bodies other than artifact uploads.
const MaxJSONBody = 4 << 20

// Handler serves the API.
type Handler struct {
	svc Service
	log *slog.Logger
	mux *http.ServeMux
}

type actorKey struct{}

// NewHandler builds the route table.
func NewHandler(svc Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /v1/healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	h.route("POST /v1/plan", ActRead, h.plan)
	h.route("POST /v1/apply", ActApply, h.apply)
	h.route("HEAD /v1/artifacts/{digest}", ActRead, h.hasArtifact)
	h.route("PUT /v1/artifacts/{digest}", ActDeploy, h.putArtifact)
	h.route("GET /v1/apps", ActRead, h.apps)
	h.route("POST /v1/apps/{app}/envs/{env}/deploy", ActDeploy, h.deploy)
	h.route("POST /v1/apps/{app}/promote", ActRead, h.promote) // checks ActPromote on the target itself
	h.route("POST /v1/apps/{app}/envs/{env}/rollback", ActDeploy, h.rollback)
	h.route("GET /v1/apps/{app}/envs/{env}/releases", ActRead, h.releases)
	h.route("GET /v1/apps/{app}/envs/{env}/status", ActRead, h.status)
	h.route("GET /v1/apps/{app}/envs/{env}/config", ActRead, h.config)
	h.route("POST /v1/apps/{app}/envs/{env}/config", ActDeploy, h.setConfig)
	h.route("GET /v1/apps/{app}/envs/{env}/logs", ActRead, h.logs)
	h.route("GET /v1/rollouts/{id}", ActRead, h.rollout)
	h.route("GET /v1/apps/{app}/envs/{env}/rollouts", ActRead, h.rollouts)
	h.route("GET /v1/apps/{app}/envs/{env}/rollout", ActRead, h.rolloutStatus)
	h.route("POST /v1/apps/{app}/envs/{env}/rollout/{command}", ActDeploy, h.rolloutCommand)
	h.route("GET /v1/events", ActRead, h.events)
	h.promotionRoutes()
	h.secretRoutes()
	h.authRoutes()
	h.runRoutes()
	h.triggerRoutes()
	h.errorRoutes()
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// route registers an endpoint that needs a valid token and permission for
// action on the {app} and {env} of its path (when it has them). Handlers
// whose target environment is in the body check it themselves with
// h.authorize.
func (h *Handler) route(pattern string, action Action, fn func(w http.ResponseWriter, r *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			h.fail(w, r, fmt.Errorf("%w: send it as `Authorization: Bearer <token>`", ErrUnauthorized))
			return
		}
		p, err := h.svc.Authenticate(r.Context(), token)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), actorKey{}, p))
		if err := h.authorize(r, action, r.PathValue("app"), r.PathValue("env")); err != nil {
			h.fail(w, r, err)
			return
		}
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// authorize checks the caller's permission for action on (app, env).
func (h *Handler) authorize(r *http.Request, action Action, app, env string) error {
	return h.svc.Authorize(r.Context(), principal(r), action, app, env)
}

func principal(r *http.Request) Principal {
	p, _ := r.Context().Value(actorKey{}).(Principal)
	return p
}

func actor(r *http.Request) string { return principal(r).Name }

// status is the one place errors become HTTP status codes.
func status(err error) (int, string) {
	var specErr *spec.Error
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrEnvInUse), errors.Is(err, store.ErrHostTaken):
		return http.StatusConflict, "conflict"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrInvalid), errors.As(err, &specErr):
		return http.StatusBadRequest, "invalid"
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "too_large"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, kind := status(err)
	if code == http.StatusInternalServerError {
		h.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, code, Error{Error: err.Error(), Code: kind})
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body: %v", ErrInvalid, err)
	}
	return nil
}

func (h *Handler) plan(w http.ResponseWriter, r *http.Request) error {
	var app spec.App
	if err := readJSON(r, &app); err != nil {
		return err
	}
	p, err := h.svc.Plan(r.Context(), app)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, p)
}

func (h *Handler) apply(w http.ResponseWriter, r *http.Request) error {
	var app spec.App
	if err := readJSON(r, &app); err != nil {
		return err
	}
	p, err := h.svc.Apply(r.Context(), app, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, p)
}

func (h *Handler) hasArtifact(w http.ResponseWriter, r *http.Request) error {
	ok, err := h.svc.HasArtifact(r.Context(), r.PathValue("digest"))
	if err != nil {
		return err
	}
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) putArtifact(w http.ResponseWriter, r *http.Request) error {
	n, err := h.svc.PutArtifact(r.Context(), r.PathValue("digest"), r.Body)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"digest": r.PathValue("digest"), "size": n})
}

func (h *Handler) apps(w http.ResponseWriter, r *http.Request) error {
	apps, err := h.svc.Apps(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, apps)
}

func (h *Handler) deploy(w http.ResponseWriter, r *http.Request) error {
	var req DeployRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Spec.Name != r.PathValue("app") {
		return fmt.Errorf("%w: the spec names app %q but the URL says %q", ErrInvalid, req.Spec.Name, r.PathValue("app"))
	}
	req.Env = r.PathValue("env")
	ro, err := h.svc.Deploy(r.Context(), req, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, ro)
}

func (h *Handler) promote(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := h.authorize(r, ActPromote, r.PathValue("app"), req.To); err != nil {
		return err
	}
	res, err := h.svc.Promote(r.Context(), r.PathValue("app"), req.From, req.To, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, res)
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		To int `json:"to"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ro, err := h.svc.Rollback(r.Context(), r.PathValue("app"), r.PathValue("env"), req.To, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, ro)
}

func (h *Handler) releases(w http.ResponseWriter, r *http.Request) error {
	rels, err := h.svc.Releases(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	if rels == nil {
		rels = []store.Release{}
	}
	return writeJSON(w, 200, rels)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.Status(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, st)
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request) error {
	entries, err := h.svc.Config(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, entries)
}

func (h *Handler) setConfig(w http.ResponseWriter, r *http.Request) error {
	var req ConfigRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ro, err := h.svc.SetConfig(r.Context(), r.PathValue("app"), r.PathValue("env"), req, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, ro)
}

func (h *Handler) logs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var opts LogOptions
	var err error
	if v := q.Get("tail"); v != "" {
		if opts.Tail, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: tail=%q is not a number", ErrInvalid, v)
		}
	}
	if v := q.Get("release"); v != "" {
		if opts.Release, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: release=%q is not a number", ErrInvalid, v)
		}
	}
	opts.Follow = q.Get("follow") == "1" || q.Get("follow") == "true"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.f = f
	}
	return h.svc.Logs(r.Context(), r.PathValue("app"), r.PathValue("env"), opts, fw)
}

type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

func (h *Handler) rollout(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: rollout id %q is not a number", ErrInvalid, r.PathValue("id"))
	}
	ro, err := h.svc.Rollout(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ro)
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("%w: limit must be a number from 1 to 10000", ErrInvalid)
		}
		limit = n
	}
	ev, err := h.svc.Events(r.Context(), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ev)
}

func (h *Handler) rollouts(w http.ResponseWriter, r *http.Request) error {
	ros, err := h.svc.Rollouts(r.Context(), r.PathValue("app"), r.PathValue("env"), 100)
	if err != nil {
		return err
	}
	if ros == nil {
		ros = []store.Rollout{}
	}
	return writeJSON(w, 200, ros)
}

func (h *Handler) rolloutStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.RolloutStatus(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, st)
}

func (h *Handler) rolloutCommand(w http.ResponseWriter, r *http.Request) error {
	ro, err := h.svc.RolloutCommand(r.Context(), r.PathValue("app"), r.PathValue("env"), r.PathValue("command"), actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, ro)
}

func errInvalidf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}
