// Package api is Slipway's JSON HTTP API: one route table, bearer-token
// authentication, errors mapped to HTTP status in one place, and the Client
// the CLI uses. docs/api.md documents it.
package api

import (
	"context"
	"errors"
	"io"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// ErrInvalid marks a request the server refuses because of what it says
// (HTTP 400). Wrap it: fmt.Errorf("%w: ...", api.ErrInvalid).
var ErrInvalid = errors.New("invalid request")

// ErrUnauthorized is returned for a missing or wrong token (HTTP 401).
var ErrUnauthorized = errors.New("missing or invalid API token")

// ErrForbidden is returned when the caller may not do what it asked (HTTP
// 403); nothing was changed. Wrap it with who, what and which role it needs.
var ErrForbidden = errors.New("forbidden")

// Action is what a request does; the server checks it against the caller's
// role for the app and environment it touches.
type Action string

const (
	ActRead    Action = "read"    // see state, logs, releases
	ActApply   Action = "apply"   // change an app's spec (plan is read)
	ActDeploy  Action = "deploy"  // deploy, rollback, config, rollout commands
	ActPromote Action = "promote" // promote a release into an environment
	ActApprove Action = "approve" // approve a pending promotion
	ActSecret  Action = "secret"  // set or unset secrets
	ActAdmin   Action = "admin"   // users, tokens, audit verification
)

// Principal is an authenticated caller.
type Principal struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Service is what the API serves; the control plane implements it.
type Service interface {
	ErrorService
	RunService
	TriggerService
	PromotionService
	SecretService
	AuthService
	// Authenticate maps a bearer token to the caller it belongs to.
	Authenticate(ctx context.Context, token string) (Principal, error)
	// Authorize returns nil if p may do action on (app, env) (either may be
	// empty for actions not tied to one), or an error wrapping
	// ErrForbidden that says what role it would need.
	Authorize(ctx context.Context, p Principal, action Action, app, env string) error
	Plan(ctx context.Context, app spec.App) (Plan, error)
	Apply(ctx context.Context, app spec.App, actor string) (Plan, error)
	HasArtifact(ctx context.Context, digest string) (bool, error)
	// PutArtifact stores r under digest after checking that the bytes
	// really hash to it.
	PutArtifact(ctx context.Context, digest string, r io.Reader) (int64, error)
	Deploy(ctx context.Context, req DeployRequest, actor string) (store.Rollout, error)
	// Promote deploys what from runs to to, or, where to needs approvals,
	// records a pending promotion.
	Promote(ctx context.Context, app, from, to, actor string) (PromoteResult, error)
	Rollback(ctx context.Context, app, env string, to int, actor string) (store.Rollout, error)
	SetConfig(ctx context.Context, app, env string, req ConfigRequest, actor string) (store.Rollout, error)
	Config(ctx context.Context, app, env string) ([]ConfigEntry, error)
	Releases(ctx context.Context, app, env string) ([]store.Release, error)
	Status(ctx context.Context, app, env string) (EnvStatus, error)
	Apps(ctx context.Context) ([]AppSummary, error)
	Rollout(ctx context.Context, id int64) (store.Rollout, error)
	Logs(ctx context.Context, app, env string, opts LogOptions, w io.Writer) error
	Events(ctx context.Context, limit int) ([]store.Event, error)
	// RolloutCommand sends promote, pause, resume or abort to the running
	// rollout of (app, env).
	RolloutCommand(ctx context.Context, app, env, command, actor string) (store.Rollout, error)
	// RolloutStatus shows the running rollout of (app, env), or the latest.
	RolloutStatus(ctx context.Context, app, env string) (RolloutStatus, error)
	// Rollouts lists the rollouts of (app, env), newest first.
	Rollouts(ctx context.Context, app, env string, limit int) ([]store.Rollout, error)
}

// RolloutStatus is a rollout with its plan and every decision taken.
type RolloutStatus struct {
	Rollout   store.Rollout    `json:"rollout"`
	Steps     []spec.Step      `json:"steps,omitempty"` // canary steps from the release's spec
	Deadline  string           `json:"progress_deadline"`
	Decisions []store.Decision `json:"decisions"`
}

// Plan is what apply would change, or did.
type Plan struct {
	App     string        `json:"app"`
	Create  bool          `json:"create"`
	Changes []spec.Change `json:"changes"`
	Text    string        `json:"text"` // rendered for humans
}

// DeployRequest deploys an uploaded artifact with a spec.
type DeployRequest struct {
	Env      string   `json:"env"`
	Artifact string   `json:"artifact"`
	Spec     spec.App `json:"spec"`
}

// ConfigRequest changes config overrides of an environment.
type ConfigRequest struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// ConfigEntry is one effective config value and where it comes from:
// "spec" (slipway.yaml) or "override" (`slipway config set`).
type ConfigEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// EnvStatus is the state of one (app, environment).
type EnvStatus struct {
	App       string            `json:"app"`
	Env       string            `json:"env"`
	Host      string            `json:"host"`
	URL       string            `json:"url"`
	Live      *store.Release    `json:"live,omitempty"`
	Instances []driver.Instance `json:"instances"`
	Rollout   *store.Rollout    `json:"rollout,omitempty"` // latest rollout
}

// AppSummary lists an app and the live release of each environment.
type AppSummary struct {
	Name         string         `json:"name"`
	Environments map[string]int `json:"environments"` // env -> live release (0: none)
}

// LogOptions select which logs to stream.
type LogOptions struct {
	Release int  // 0: the live release, or the latest if none is live
	Tail    int  // lines per instance; <= 0 means 100
	Follow  bool // keep streaming until the client goes away
}

// Error is the JSON body of every error answer.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code"` // not_found, conflict, invalid, unauthorized, internal
}
