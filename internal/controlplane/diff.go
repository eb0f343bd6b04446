package controlplane

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// appWithEnv returns app's stored spec, or an error wrapping
// store.ErrNotFound when app or its environment env does not exist.
func (cp *ControlPlane) appWithEnv(ctx context.Context, app, env string) (spec.App, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return stored, err
	}
	if _, ok := stored.Environments[env]; !ok {
		return stored, fmt.Errorf("environment %q of app %s: %w", env, app, store.ErrNotFound)
	}
	return stored, nil
}

// Diff implements api.Service.
func (cp *ControlPlane) Diff(ctx context.Context, app, a, b string) (release.Parity, error) {
	var states [2]release.EnvState
	for i, env := range []string{a, b} {
		stored, err := cp.appWithEnv(ctx, app, env)
		if err != nil {
			return release.Parity{}, err
		}
		if states[i], err = cp.envState(ctx, stored, env); err != nil {
			return release.Parity{}, err
		}
		if states[i].Commit, err = cp.commitOf(ctx, app, states[i].Artifact); err != nil {
			return release.Parity{}, err
		}
	}
	return release.Compare(app, states[0], states[1]), nil
}

// envState is what env runs: its live release, or, if none, what its next
// release would pin.
func (cp *ControlPlane) envState(ctx context.Context, stored spec.App, env string) (release.EnvState, error) {
	n, err := cp.store.LiveRelease(ctx, stored.Name, env)
	if err != nil {
		return release.EnvState{}, err
	}
	if n > 0 {
		rel, err := cp.store.Release(ctx, stored.Name, env, n)
		if err != nil {
			return release.EnvState{}, err
		}
		return release.EnvState{Env: env, Release: n, Artifact: rel.Artifact, Spec: rel.Spec, Config: rel.Config,
			Secrets: slices.Sorted(maps.Keys(rel.Secrets))}, nil
	}
	overrides, err := cp.store.ConfigOverrides(ctx, stored.Name, env)
	if err != nil {
		return release.EnvState{}, err
	}
	current, err := cp.store.Secrets(ctx, stored.Name, env)
	if err != nil {
		return release.EnvState{}, err
	}
	var names []string
	for _, v := range current {
		names = append(names, v.Key)
	}
	return release.EnvState{Env: env, Spec: stored, Config: release.EffectiveConfig(stored, env, overrides), Secrets: names}, nil
}

// commitOf is the commit the newest successful pipeline run that built
// artifact checked out, or "" when no run built it (a deploy from a
// workstation).
func (cp *ControlPlane) commitOf(ctx context.Context, app, artifact string) (string, error) {
	if artifact == "" {
		return "", nil
	}
	runs, err := cp.store.Runs(ctx, app, store.RunSucceeded, 1000)
	if err != nil {
		return "", err
	}
	for _, r := range runs {
		if r.Artifact == artifact && r.Commit != "" {
			return r.Commit, nil
		}
	}
	return "", nil
}
