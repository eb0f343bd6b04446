package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/artifact"
	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/rollout"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// MaxArtifactBytes bounds an uploaded artifact.
const MaxArtifactBytes = 2 << 30

var _ api.Service = (*ControlPlane)(nil)

func invalid(err error) error {
	var se *spec.Error
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w: %v", api.ErrInvalid, err)
}

// Plan implements api.Service.
func (cp *ControlPlane) Plan(ctx context.Context, app spec.App) (api.Plan, error) {
	if err := app.Validate(); err != nil {
		return api.Plan{}, invalid(err)
	}
	if err := cp.keepPreviews(ctx, &app); err != nil {
		return api.Plan{}, err
	}
	old, err := cp.store.App(ctx, app.Name)
	var oldp *spec.App
	switch {
	case err == nil:
		oldp = &old
	case !errors.Is(err, store.ErrNotFound):
		return api.Plan{}, err
	}
	changes := spec.Diff(oldp, &app)
	return api.Plan{App: app.Name, Create: oldp == nil, Changes: changes, Text: spec.FormatChanges(changes)}, nil
}

// Apply implements api.Service: it stores the spec in one transaction.
// Changes to run, health, replicas or config take effect with the next
// release of each environment (deploy, or `slipway config set`); a changed
// host moves the route at once.
func (cp *ControlPlane) Apply(ctx context.Context, app spec.App, actor string) (api.Plan, error) {
	p, err := cp.Plan(ctx, app)
	if err != nil || len(p.Changes) == 0 {
		return p, err
	}
	if err := cp.keepPreviews(ctx, &app); err != nil {
		return api.Plan{}, err
	}
	if err := cp.checkSpecChange(ctx, actor, app); err != nil {
		return api.Plan{}, err
	}
	if err := cp.store.ApplyApp(ctx, app, actor); err != nil {
		return api.Plan{}, err
	}
	cp.sourceApplied(ctx, app, actor)
	if err := cp.router.Publish(ctx); err != nil {
		cp.log.Error("publish routes after apply", "err", err)
	}
	return p, nil
}

// HasArtifact implements api.Service.
func (cp *ControlPlane) HasArtifact(ctx context.Context, digest string) (bool, error) {
	if !artifact.ValidDigest(digest) {
		return false, fmt.Errorf("%w: artifact digest %q must look like sha256:<64 hex digits>", api.ErrInvalid, digest)
	}
	ok, err := cp.store.HasArtifact(ctx, digest)
	if err != nil || !ok {
		return false, err
	}
	_, err = os.Stat(cp.artifactPath(digest))
	return err == nil, nil
}

// PutArtifact implements api.Service: content-addressed, verified.
func (cp *ControlPlane) PutArtifact(ctx context.Context, digest string, r io.Reader) (int64, error) {
	if !artifact.ValidDigest(digest) {
		return 0, fmt.Errorf("%w: artifact digest %q must look like sha256:<64 hex digits>", api.ErrInvalid, digest)
	}
	tmp, err := os.CreateTemp(filepath.Join(cp.opts.DataDir, "artifacts", "tmp"), "upload-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, MaxArtifactBytes+1))
	if err != nil {
		return 0, fmt.Errorf("receive artifact: %w", err)
	}
	if n > MaxArtifactBytes {
		return 0, fmt.Errorf("%w: artifact is larger than %d bytes", api.ErrInvalid, int64(MaxArtifactBytes))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return 0, fmt.Errorf("%w: artifact bytes hash to %s, not %s; the upload was corrupted or the digest is wrong", api.ErrInvalid, got, digest)
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), cp.artifactPath(digest)); err != nil {
		return 0, err
	}
	return n, cp.store.AddArtifact(ctx, digest, n)
}

// Deploy implements api.Service.
func (cp *ControlPlane) Deploy(ctx context.Context, req api.DeployRequest, actor string) (store.Rollout, error) {
	if err := req.Spec.Validate(); err != nil {
		return store.Rollout{}, invalid(err)
	}
	if _, ok := req.Spec.Environments[req.Env]; !ok {
		return store.Rollout{}, fmt.Errorf("%w: environment %q is not in slipway.yaml (it has %s)", api.ErrInvalid, req.Env, strings.Join(slices.Sorted(maps.Keys(req.Spec.Environments)), ", "))
	}
	if !artifact.ValidDigest(req.Artifact) {
		return store.Rollout{}, fmt.Errorf("%w: artifact digest %q must look like sha256:<64 hex digits>", api.ErrInvalid, req.Artifact)
	}
	if err := cp.keepPreviews(ctx, &req.Spec); err != nil {
		return store.Rollout{}, err
	}
	if err := cp.checkSpecChange(ctx, actor, req.Spec); err != nil {
		return store.Rollout{}, err
	}
	if err := cp.checkRequiresFrom(ctx, actor, req.Spec, req.Env, req.Artifact); err != nil {
		return store.Rollout{}, err
	}
	ro, err := cp.begin(ctx, store.NewRollout{App: req.Spec.Name, Env: req.Env, Artifact: req.Artifact, Spec: &req.Spec, Kind: "deploy", Source: "deploy", Actor: actor})
	if err == nil {
		cp.sourceApplied(ctx, req.Spec, actor)
	}
	return ro, err
}

// begin starts a rollout under the strategy of the environment in the spec
// the release pins (rollbacks: a flip to warm instances, else blue-green).
func (cp *ControlPlane) begin(ctx context.Context, nr store.NewRollout) (store.Rollout, error) {
	if nr.Strategy == "" {
		pinned := nr.PinSpec
		if pinned == nil {
			pinned = nr.Spec
		}
		if pinned == nil {
			stored, err := cp.store.App(ctx, nr.App)
			if err != nil {
				return store.Rollout{}, err
			}
			pinned = &stored
		}
		nr.Strategy = pinned.Environments[nr.Env].Rollout.Strategy
		if nr.Strategy == "" {
			nr.Strategy = spec.StrategyBlueGreen
		}
	}
	rel, ro, err := cp.store.BeginRollout(ctx, nr)
	if err != nil {
		return store.Rollout{}, err
	}
	cp.runRollout(ro, rel)
	return ro, nil
}

func (cp *ControlPlane) liveRelease(ctx context.Context, app, env string) (store.Release, error) {
	if _, err := cp.store.App(ctx, app); err != nil {
		return store.Release{}, err
	}
	n, err := cp.store.LiveRelease(ctx, app, env)
	if err != nil {
		return store.Release{}, err
	}
	if n == 0 {
		return store.Release{}, fmt.Errorf("%w: %s/%s has no live release yet; deploy to it first", api.ErrInvalid, app, env)
	}
	return cp.store.Release(ctx, app, env, n)
}

// Rollback implements api.Service: it rolls out an earlier release again,
// its artifact, spec and config as pinned. Nothing is rebuilt. If the
// release's instances are still warm it is a route flip; otherwise a
// blue-green rollout with no canary steps.
func (cp *ControlPlane) Rollback(ctx context.Context, app, env string, to int, actor string) (store.Rollout, error) {
	live, err := cp.liveRelease(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	rels, err := cp.store.Releases(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	previous, err := cp.store.PreviousLive(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	entries := make([]release.Entry, len(rels))
	for i, r := range rels {
		entries[i] = release.Entry{Number: r.Number, Status: r.Status}
	}
	target, err := release.RollbackTarget(entries, live.Number, previous, to)
	if err != nil {
		return store.Rollout{}, invalid(err)
	}
	strategy := spec.StrategyBlueGreen
	insts, err := cp.store.Instances(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	for _, in := range insts {
		if in.Release == target && in.Ready && !in.WarmUntil.IsZero() {
			strategy = rollout.StrategyFlip
		}
	}
	return cp.begin(ctx, store.NewRollout{App: app, Env: env, Existing: target, Kind: "rollback", Strategy: strategy,
		Actor: actor, Source: fmt.Sprintf("rollback from #%d to #%d", live.Number, target)})
}

// SetConfig implements api.Service: changes overrides and rolls out the
// live artifact with the new config, in one step.
func (cp *ControlPlane) SetConfig(ctx context.Context, app, env string, req api.ConfigRequest, actor string) (store.Rollout, error) {
	if len(req.Set) == 0 && len(req.Unset) == 0 {
		return store.Rollout{}, fmt.Errorf("%w: nothing to change; give KEY=VALUE pairs to set or keys to unset", api.ErrInvalid)
	}
	for k := range req.Set {
		if err := release.ValidateConfigKey(k); err != nil {
			return store.Rollout{}, invalid(err)
		}
	}
	live, err := cp.liveRelease(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return store.Rollout{}, err
	}
	overrides, err := cp.store.ConfigOverrides(ctx, app, env)
	if err != nil {
		return store.Rollout{}, err
	}
	for _, k := range req.Unset {
		if _, ok := overrides[k]; ok {
			continue
		}
		if _, ok := release.EffectiveConfig(stored, env, nil)[k]; ok {
			return store.Rollout{}, fmt.Errorf("%w: %s comes from slipway.yaml (environments.%s.config or run.env); remove it there and run `slipway apply`", api.ErrInvalid, k, env)
		}
		return store.Rollout{}, fmt.Errorf("%w: %s is not set in %s/%s", api.ErrInvalid, k, app, env)
	}
	return cp.begin(ctx, store.NewRollout{App: app, Env: env, Artifact: live.Artifact, PinSpec: &live.Spec,
		ConfigSet: req.Set, ConfigUnset: req.Unset, Actor: actor, Kind: "config", Source: "config " + describeConfig(req)})
}

func describeConfig(req api.ConfigRequest) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(req.Set)) {
		parts = append(parts, "set "+k)
	}
	for _, k := range req.Unset {
		parts = append(parts, "unset "+k)
	}
	return strings.Join(parts, ", ")
}

// Config implements api.Service.
func (cp *ControlPlane) Config(ctx context.Context, app, env string) ([]api.ConfigEntry, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return nil, err
	}
	if _, ok := stored.Environments[env]; !ok {
		return nil, fmt.Errorf("environment %q of app %s: %w", env, app, store.ErrNotFound)
	}
	overrides, err := cp.store.ConfigOverrides(ctx, app, env)
	if err != nil {
		return nil, err
	}
	eff := release.EffectiveConfig(stored, env, overrides)
	out := []api.ConfigEntry{}
	for _, k := range slices.Sorted(maps.Keys(eff)) {
		src := "spec"
		if _, ok := overrides[k]; ok {
			src = "override"
		}
		out = append(out, api.ConfigEntry{Key: k, Value: eff[k], Source: src})
	}
	return out, nil
}

// Releases implements api.Service.
func (cp *ControlPlane) Releases(ctx context.Context, app, env string) ([]store.Release, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return nil, err
	}
	if _, ok := stored.Environments[env]; !ok {
		return nil, fmt.Errorf("environment %q of app %s: %w", env, app, store.ErrNotFound)
	}
	return cp.store.Releases(ctx, app, env)
}

// Status implements api.Service.
func (cp *ControlPlane) Status(ctx context.Context, app, env string) (api.EnvStatus, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return api.EnvStatus{}, err
	}
	e, ok := stored.Environments[env]
	if !ok {
		return api.EnvStatus{}, fmt.Errorf("environment %q of app %s: %w", env, app, store.ErrNotFound)
	}
	st := api.EnvStatus{App: app, Env: env, Host: e.Host, URL: cp.URL(e.Host), Instances: []driver.Instance{}}
	if n, err := cp.store.LiveRelease(ctx, app, env); err == nil && n > 0 {
		if rel, err := cp.store.Release(ctx, app, env, n); err == nil {
			st.Live = &rel
		}
	}
	insts, err := cp.store.Instances(ctx, app, env)
	if err != nil {
		return st, err
	}
	for _, in := range insts {
		di, err := cp.driver.Status(ctx, in.ID)
		if err != nil {
			di = driver.Instance{ID: in.ID, App: app, Env: env, Release: in.Release, Addr: in.Addr, State: driver.StateStopped, LastExit: "unknown to the driver"}
		}
		st.Instances = append(st.Instances, di)
	}
	if ros, err := cp.store.Rollouts(ctx, app, env, false, 1); err == nil && len(ros) > 0 {
		st.Rollout = &ros[0]
	}
	return st, nil
}

// URL is how a user reaches host through the proxy.
func (cp *ControlPlane) URL(host string) string {
	_, port, err := net.SplitHostPort(cp.opts.ProxyListen)
	if err != nil || port == "80" {
		return "http://" + host + "/"
	}
	return "http://" + host + ":" + port + "/"
}

// Apps implements api.Service.
func (cp *ControlPlane) Apps(ctx context.Context) ([]api.AppSummary, error) {
	envs, err := cp.store.Environments(ctx)
	if err != nil {
		return nil, err
	}
	byApp := map[string]map[string]int{}
	names, err := cp.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		byApp[n] = map[string]int{}
	}
	for _, e := range envs {
		if byApp[e.App] != nil {
			byApp[e.App][e.Env] = e.LiveRelease
		}
	}
	out := []api.AppSummary{}
	for _, n := range names {
		out = append(out, api.AppSummary{Name: n, Environments: byApp[n]})
	}
	return out, nil
}

// Rollout implements api.Service.
func (cp *ControlPlane) Rollout(ctx context.Context, id int64) (store.Rollout, error) {
	return cp.store.Rollout(ctx, id)
}

// Events implements api.Service.
func (cp *ControlPlane) Events(ctx context.Context, limit int) ([]store.Event, error) {
	ev, err := cp.store.Events(ctx, limit)
	if ev == nil {
		ev = []store.Event{}
	}
	return ev, err
}
