package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/secret"
	"github.com/slipway-dev/slipway/internal/store"
)

// SecretsKeyFile is the default name of the secrets key file inside the
// data dir.
const SecretsKeyFile = "secrets.key"

// keyring holds the key that encrypts secrets at rest. Sealing a value and
// storing it, or reading ciphertexts and opening them, happen under a read
// lock; a key rotation takes the write lock, so no ciphertext is ever made
// or read with a key the store no longer uses.
type keyring struct {
	mu   sync.RWMutex
	file secret.KeyFile
	key  *secret.Key
}

// openSecrets loads the secrets key (creating it on first start), checks it
// is the one the store's ciphertexts need, finishes a key rotation a crash
// interrupted, and gives the executor the secrets of each release.
func (cp *ControlPlane) openSecrets(ctx context.Context) error {
	path := cp.opts.SecretsKey
	if path == "" {
		path = filepath.Join(cp.opts.DataDir, SecretsKeyFile)
	}
	recorded, err := cp.store.SecretsKey(ctx)
	if err != nil {
		return fmt.Errorf("open secrets: %w", err)
	}
	file := secret.KeyFile{Path: path}
	key, fixed, created, err := file.Open(recorded)
	if err != nil {
		return fmt.Errorf("open secrets: %w", err)
	}
	if fixed != "" {
		cp.log.Warn("finished an interrupted secrets key rotation", "detail", fixed)
	}
	if created {
		cp.log.Info("created the secrets key; back it up apart from the database", "path", path, "recipient", key.Recipient())
	}
	if recorded == "" {
		if err := cp.store.InitSecretsKey(ctx, key.Recipient()); err != nil {
			return fmt.Errorf("open secrets: %w", err)
		}
	}
	cp.secrets = &keyring{file: file, key: key}
	cp.exec.Secrets = cp.releaseSecrets
	return nil
}

// releaseSecrets decrypts the secret versions rel pins: as environment
// variables, or as files where the release's spec says so
// (environments.<env>.secret_files). Errors name secrets, never values.
func (cp *ControlPlane) releaseSecrets(ctx context.Context, rel store.Release) (map[string]string, map[string]driver.File, error) {
	if len(rel.Secrets) == 0 {
		return nil, nil, nil
	}
	cp.secrets.mu.RLock()
	defer cp.secrets.mu.RUnlock()
	cts, err := cp.store.SecretCiphertexts(ctx, rel.App, rel.Env, rel.Secrets)
	if err != nil {
		return nil, nil, err
	}
	paths := rel.Spec.Environments[rel.Env].SecretFiles
	env, files := map[string]string{}, map[string]driver.File{}
	for _, name := range slices.Sorted(maps.Keys(cts)) {
		value, err := cp.secrets.key.Open(secret.Label(rel.App, rel.Env, name), cts[name])
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s version %d: %w", name, rel.Secrets[name], err)
		}
		if p, ok := paths[name]; ok {
			files[p] = driver.File{Name: name, Data: value}
		} else {
			env[name] = string(value)
			clear(value)
		}
	}
	return env, files, nil
}

// Secrets implements api.Service.
func (cp *ControlPlane) Secrets(ctx context.Context, app, env string) ([]api.SecretEntry, error) {
	stored, err := cp.appWithEnv(ctx, app, env)
	if err != nil {
		return nil, err
	}
	current, err := cp.store.Secrets(ctx, app, env)
	if err != nil {
		return nil, err
	}
	var pinned map[string]int
	if n, err := cp.store.LiveRelease(ctx, app, env); err != nil {
		return nil, err
	} else if n > 0 {
		rel, err := cp.store.Release(ctx, app, env, n)
		if err != nil {
			return nil, err
		}
		pinned = rel.Secrets
	}
	out := []api.SecretEntry{}
	for _, v := range current {
		out = append(out, api.SecretEntry{Name: v.Key, Version: v.Version, LiveVersion: pinned[v.Key],
			File: stored.Environments[env].SecretFiles[v.Key], CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt})
	}
	return out, nil
}

// SetSecrets implements api.Service. Like `config set`, a change to an
// environment with a live release rolls out the live artifact again as a
// new release pinning the new versions.
func (cp *ControlPlane) SetSecrets(ctx context.Context, app, env string, req api.SecretRequest, actor string) (api.SecretChange, error) {
	if len(req.Set) == 0 && len(req.Unset) == 0 {
		return api.SecretChange{}, fmt.Errorf("%w: nothing to change; give NAME=VALUE pairs to set or names to unset", api.ErrInvalid)
	}
	for name, value := range req.Set {
		if err := secret.ValidateName(name); err != nil {
			return api.SecretChange{}, invalid(err)
		}
		if err := secret.ValidateValue(name, value); err != nil {
			return api.SecretChange{}, invalid(err)
		}
		if slices.Contains(req.Unset, name) {
			return api.SecretChange{}, fmt.Errorf("%w: secret %s is both set and unset", api.ErrInvalid, name)
		}
	}
	stored, err := cp.appWithEnv(ctx, app, env)
	if err != nil {
		return api.SecretChange{}, err
	}
	current, err := cp.store.Secrets(ctx, app, env)
	if err != nil {
		return api.SecretChange{}, err
	}
	for _, name := range req.Unset {
		if !slices.ContainsFunc(current, func(v store.SecretVersion) bool { return v.Key == name }) {
			return api.SecretChange{}, fmt.Errorf("%w: %s is not a secret of %s/%s (see `slipway secret list %s --env %s`)", api.ErrInvalid, name, app, env, app, env)
		}
	}
	overrides, err := cp.store.ConfigOverrides(ctx, app, env)
	if err != nil {
		return api.SecretChange{}, err
	}
	config := release.EffectiveConfig(stored, env, overrides)
	var shadowed []string
	for _, name := range slices.Sorted(maps.Keys(req.Set)) {
		if _, ok := config[name]; ok {
			shadowed = append(shadowed, name)
		}
	}
	live, err := cp.store.LiveRelease(ctx, app, env)
	if err != nil {
		return api.SecretChange{}, err
	}
	ro, err := cp.changeSecrets(ctx, app, env, live, req, actor)
	if err != nil {
		return api.SecretChange{}, err
	}
	list, err := cp.Secrets(ctx, app, env)
	if err != nil {
		return api.SecretChange{}, err
	}
	return api.SecretChange{Rollout: ro, Secrets: list, ShadowedConfig: shadowed}, nil
}

// changeSecrets seals the new values and stores them: with a rollout of
// live (its artifact and spec) when live > 0, otherwise alone.
func (cp *ControlPlane) changeSecrets(ctx context.Context, app, env string, live int, req api.SecretRequest, actor string) (*store.Rollout, error) {
	cp.secrets.mu.RLock()
	defer cp.secrets.mu.RUnlock()
	sealed := make(map[string][]byte, len(req.Set))
	for name, value := range req.Set {
		ct, err := cp.secrets.key.Seal(secret.Label(app, env, name), []byte(value))
		if err != nil {
			return nil, err
		}
		sealed[name] = ct
	}
	if live == 0 {
		_, err := cp.store.ChangeSecrets(ctx, app, env, sealed, req.Unset, actor)
		return nil, err
	}
	rel, err := cp.store.Release(ctx, app, env, live)
	if err != nil {
		return nil, err
	}
	ro, err := cp.begin(ctx, store.NewRollout{App: app, Env: env, Artifact: rel.Artifact, PinSpec: &rel.Spec,
		SecretSet: sealed, SecretUnset: req.Unset, Actor: actor, Kind: "secret", Source: "secret " + describeSecrets(req)})
	if err != nil {
		return nil, err
	}
	return &ro, nil
}

func describeSecrets(req api.SecretRequest) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(req.Set)) {
		parts = append(parts, "set "+k)
	}
	for _, k := range req.Unset {
		parts = append(parts, "unset "+k)
	}
	return strings.Join(parts, ", ")
}

// RotateSecretsKey implements api.Service. The old key is kept as
// PATH.old until the store commits the re-encryption; a crash in between
// is repaired at the next start (secret.KeyFile.Open).
func (cp *ControlPlane) RotateSecretsKey(ctx context.Context, actor string) (api.KeyRotation, error) {
	cp.secrets.mu.Lock()
	defer cp.secrets.mu.Unlock()
	cur := cp.secrets.key
	next, err := secret.Generate()
	if err != nil {
		return api.KeyRotation{}, err
	}
	if err := cp.secrets.file.BeginRotation(cur, next); err != nil {
		return api.KeyRotation{}, fmt.Errorf("rotate the secrets key: %w", err)
	}
	n, err := cp.store.ReencryptSecrets(ctx, next.Recipient(), actor, func(v store.SecretVersion, ct []byte) ([]byte, error) {
		label := secret.Label(v.App, v.Env, v.Key)
		value, err := cur.Open(label, ct)
		if err != nil {
			return nil, err
		}
		defer clear(value)
		return next.Seal(label, value)
	})
	if err != nil {
		if aerr := cp.secrets.file.AbortRotation(); aerr != nil {
			cp.log.Error("remove the files of a failed key rotation", "err", aerr)
		}
		return api.KeyRotation{}, fmt.Errorf("rotate the secrets key: %w; nothing changed, the old key stays in use", err)
	}
	cp.secrets.key = next
	res := api.KeyRotation{Recipient: next.Recipient(), Reencrypted: n}
	if err := cp.secrets.file.CommitRotation(); err != nil {
		cp.log.Error("the secrets were re-encrypted but the new key file could not be installed", "err", err, "recipient", next.Recipient())
		return res, errors.Join(fmt.Errorf("the secrets are re-encrypted for key %s and this server uses it, but installing %s failed; see the recovery steps in docs/secrets.md before restarting", next.Recipient(), cp.secrets.file.Path), err)
	}
	cp.log.Info("rotated the secrets key", "recipient", next.Recipient(), "reencrypted", n, "actor", actor)
	return res, nil
}
