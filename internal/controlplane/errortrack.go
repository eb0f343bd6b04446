package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// openErrors opens the error tracker's database and the tracker, and
// wires it into the executor: instances get SENTRY_* and the judge the
// error checks.
func (cp *ControlPlane) openErrors(ctx context.Context) error {
	es, err := store.OpenErrorsSQLite(ctx, filepath.Join(cp.opts.DataDir, "errors.db"))
	if err != nil {
		return err
	}
	cp.errStore = es
	o := cp.opts.Errors
	o.Store, o.Logger, o.Notify = es, cp.log, cp.errorNotice
	cp.errors = errortrack.New(o)
	if err := cp.errors.Load(ctx); err != nil {
		es.Close()
		return err
	}
	cp.exec.Checkers = cp.errorCheckers
	cp.exec.Environ = cp.instanceEnviron
	return nil
}

// errorCheckers are the judge's error checks for a canary's settings.
func (cp *ControlPlane) errorCheckers(a spec.Analysis) []analysis.Checker {
	cfg := errortrack.CheckConfig{MaxNewIssues: 0, MinEvents: 1, MaxEventsPerRequestIncrease: -1}
	if e := a.Errors; e != nil {
		if e.MaxNewIssues != nil {
			cfg.MaxNewIssues = *e.MaxNewIssues
		}
		if e.MinEvents > 0 {
			cfg.MinEvents = int64(e.MinEvents)
		}
		if e.MaxEventsPerRequestIncrease != nil {
			cfg.MaxEventsPerRequestIncrease = *e.MaxEventsPerRequestIncrease
		}
	}
	return cp.errors.Checkers(cfg)
}

// instanceEnviron is a release's config plus SENTRY_DSN, SENTRY_RELEASE
// and SENTRY_ENVIRONMENT, so the app's Sentry SDK reports to Slipway
// with nothing to configure. Keys the config sets win (a team keeping
// its own Sentry sets SENTRY_DSN).
func (cp *ControlPlane) instanceEnviron(ctx context.Context, rel store.Release) (map[string]string, error) {
	env := maps.Clone(rel.Config)
	if env == nil {
		env = map[string]string{}
	}
	if cp.opts.PublicURL == "" {
		return env, nil
	}
	p, err := cp.errors.Project(ctx, rel.App, rel.Env)
	if err != nil {
		return nil, err
	}
	dsn, err := errortrack.ProjectDSN(p, cp.opts.PublicURL)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]string{
		"SENTRY_DSN":         dsn,
		"SENTRY_RELEASE":     errortrack.ReleaseName(rel.App, rel.Number),
		"SENTRY_ENVIRONMENT": rel.Env,
	} {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	return env, nil
}

// errorNotice records what the tracker reports in the event log, where
// `slipway audit` and notification hooks read it.
func (cp *ControlPlane) errorNotice(n errortrack.Notice) {
	ctx := context.WithoutCancel(cp.ctx)
	is := n.Issue
	if is.App == "" { // spikes name only the issue
		full, err := cp.errStore.ErrorIssue(ctx, is.ID)
		if err != nil {
			cp.log.Warn("error notice", "issue", is.ID, "err", err)
			return
		}
		is = full
	}
	var detail string
	switch n.Kind {
	case errortrack.NoticeNewIssue:
		detail = fmt.Sprintf("new issue %d %q in %s", is.ID, is.Title, releaseOrNone(is.FirstRelease))
	case errortrack.NoticeRegression:
		detail = fmt.Sprintf("issue %d %q came back in %s after it was resolved", is.ID, is.Title, releaseOrNone(is.LastRelease))
	case errortrack.NoticeSpike:
		detail = fmt.Sprintf("issue %d %q: %d events in the last minute, %.1f per minute in the hour before", is.ID, is.Title, n.Events, n.Baseline)
	}
	cp.log.Info("error tracking", "event", n.Kind, "app", is.App, "env", is.Env, "issue", is.ID)
	if err := cp.store.RecordEvent(ctx, store.Entry{Actor: "errortrack", Action: "error." + n.Kind, App: is.App, Env: is.Env,
		Target: "issue " + strconv.FormatInt(is.ID, 10), Detail: detail}); err != nil {
		cp.log.Warn("record error notice", "err", err)
	}
}

func releaseOrNone(r string) string {
	if r == "" {
		return "an event without a release"
	}
	return r
}

// ingestHandler sends Sentry's ingest paths ([prefix]/api/{project}/
// envelope/ or store/) to the tracker and everything else to the API.
func (cp *ControlPlane) ingestHandler(apiHandler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") && errortrack.IsIngestPath(r.URL.Path) {
			cp.errors.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

// ErrorIssues implements api.ErrorService.
func (cp *ControlPlane) ErrorIssues(ctx context.Context, app, env string, release int, status string, limit int) ([]store.ErrorIssue, error) {
	if _, err := cp.appWithEnv(ctx, app, env); err != nil {
		return nil, err
	}
	p, err := cp.errStore.ErrorProjectOf(ctx, app, env)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f := store.IssueFilter{ProjectID: p.ID, Status: status, Limit: limit}
	if release > 0 {
		f.Release = errortrack.ReleaseName(app, release)
	}
	return cp.errStore.ErrorIssues(ctx, f)
}

// ErrorIssue implements api.ErrorService.
func (cp *ControlPlane) ErrorIssue(ctx context.Context, id int64, events int) (api.IssueDetail, error) {
	is, err := cp.errStore.ErrorIssue(ctx, id)
	if err != nil {
		return api.IssueDetail{}, err
	}
	d := api.IssueDetail{Issue: is, Events: []api.IssueEvent{}}
	if events == 0 {
		return d, nil
	}
	evs, err := cp.errStore.ErrorEvents(ctx, id, events)
	if err != nil {
		return d, err
	}
	for _, e := range evs {
		raw, err := cp.errors.Decompress(e.Payload)
		if err != nil {
			return d, err
		}
		d.Events = append(d.Events, api.IssueEvent{StoredEvent: e, Event: raw})
	}
	return d, nil
}

// SetIssueStatus implements api.ErrorService.
func (cp *ControlPlane) SetIssueStatus(ctx context.Context, id int64, req api.IssueStatusRequest, actor string) (store.ErrorIssue, error) {
	switch req.Status {
	case store.IssueUnresolved, store.IssueResolved, store.IssueIgnored:
	default:
		return store.ErrorIssue{}, fmt.Errorf("%w: status %q is not one of unresolved, resolved, ignored", api.ErrInvalid, req.Status)
	}
	if req.InNextRelease && req.Status != store.IssueResolved {
		return store.ErrorIssue{}, fmt.Errorf("%w: in_next_release goes with status resolved only", api.ErrInvalid)
	}
	is, err := cp.errStore.SetIssueStatus(ctx, id, req.Status, req.InNextRelease)
	if err != nil {
		return is, err
	}
	detail := fmt.Sprintf("issue %d %q", is.ID, is.Title)
	if is.ResolvedIn != "" {
		detail += " (in the release after " + is.ResolvedIn + ")"
	}
	if err := cp.store.RecordEvent(ctx, store.Entry{Actor: actor, Action: "error." + req.Status, App: is.App, Env: is.Env,
		Target: "issue " + strconv.FormatInt(is.ID, 10), Detail: detail}); err != nil {
		cp.log.Warn("record issue status", "err", err)
	}
	return is, nil
}

// ErrorsDSN implements api.ErrorService.
func (cp *ControlPlane) ErrorsDSN(ctx context.Context, app, env string) (api.DSNInfo, error) {
	if _, err := cp.appWithEnv(ctx, app, env); err != nil {
		return api.DSNInfo{}, err
	}
	if cp.opts.PublicURL == "" {
		return api.DSNInfo{}, fmt.Errorf("%w: this server has no public URL for DSNs; start it with --public-url", api.ErrInvalid)
	}
	p, err := cp.errors.Project(ctx, app, env)
	if err != nil {
		return api.DSNInfo{}, err
	}
	dsn, err := errortrack.ProjectDSN(p, cp.opts.PublicURL)
	return api.DSNInfo{App: app, Env: env, DSN: dsn, Project: p.ID}, err
}

// ReleaseHealth implements api.ErrorService.
func (cp *ControlPlane) ReleaseHealth(ctx context.Context, app, env string) ([]store.ReleaseHealth, error) {
	if _, err := cp.appWithEnv(ctx, app, env); err != nil {
		return nil, err
	}
	p, err := cp.errStore.ErrorProjectOf(ctx, app, env)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return cp.errStore.ReleaseHealth(ctx, p.ID)
}

// Errors exposes the error tracker (for tests and benchmarks).
func (cp *ControlPlane) Errors() *errortrack.Tracker { return cp.errors }
