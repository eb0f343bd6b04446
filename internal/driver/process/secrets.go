package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/driver"
)

// Secrets reach an instance without being written to spec.json:
//
//   - The driver writes the secret environment and every value to redact
//     to secrets.json in the instance directory (mode 0600, in a 0700
//     directory), and the secret files into app/ (mode 0400).
//   - The shim reads secrets.json and deletes it before it starts the
//     process; it keeps the values in memory for restarts and for
//     redacting the process's output.
//
// So a value is on disk in clear only for the moments between Start and
// the shim's start, and in the secret files the app asked for. A shim that
// dies takes the values with it: the control plane replaces the instance,
// delivering the secrets again.
const secretsName = "secrets.json"

func (d instanceDir) secrets() string { return filepath.Join(string(d), secretsName) }

// handoff is secrets.json.
type handoff struct {
	Env    map[string]string `json:"env,omitempty"`
	Redact []secretValue     `json:"redact,omitempty"`
}

// checkSecrets reports a secret the driver cannot deliver. Errors name
// secrets and paths, never values.
func checkSecrets(spec driver.InstanceSpec) error {
	for k, v := range spec.SecretEnv {
		if k == "PORT" {
			return errors.New("secret PORT: the port is set by the driver")
		}
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("secret environment variable name %q: must be non-empty without '=' or NUL", k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("secret %s: value contains NUL, which an environment variable cannot carry", k)
		}
	}
	for path, f := range spec.Files {
		if !filepath.IsLocal(path) || strings.ContainsRune(path, 0) {
			return fmt.Errorf("secret file %q (secret %s): the path must be relative and stay inside the working directory", path, f.Name)
		}
	}
	return nil
}

// secretNames lists the secrets of spec, for spec.json: names only.
func secretNames(spec driver.InstanceSpec) []string {
	names := slices.Collect(maps.Keys(spec.SecretEnv))
	for _, f := range spec.Files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// writeSecrets writes the secret files into the app directory and the
// hand-off file for the shim.
func writeSecrets(dir instanceDir, spec driver.InstanceSpec) error {
	if len(spec.Files) > 0 {
		if err := writeSecretFiles(dir.app(), spec.Files); err != nil {
			return err
		}
	}
	h := handoff{Env: spec.SecretEnv}
	for _, k := range slices.Sorted(maps.Keys(spec.SecretEnv)) {
		h.Redact = append(h.Redact, secretValue{Name: k, Value: spec.SecretEnv[k]})
	}
	for _, p := range slices.Sorted(maps.Keys(spec.Files)) {
		h.Redact = append(h.Redact, secretValue{Name: spec.Files[p].Name, Value: string(spec.Files[p].Data)})
	}
	if len(h.Redact) == 0 {
		return nil
	}
	return writeJSON(dir.secrets(), h, 0o600)
}

// writeSecretFiles writes each file under appDir with mode 0400, replacing
// whatever the artifact has there. os.Root keeps every write inside
// appDir, whatever symlinks the artifact holds.
func writeSecretFiles(appDir string, files map[string]driver.File) error {
	root, err := os.OpenRoot(appDir)
	if err != nil {
		return fmt.Errorf("write secret files: %w", err)
	}
	defer root.Close()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := writeSecretFile(root, filepath.Clean(p), files[p].Data); err != nil {
			return fmt.Errorf("write secret file %s (secret %s): %w", p, files[p].Name, err)
		}
	}
	return nil
}

func writeSecretFile(root *os.Root, path string, data []byte) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := root.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := root.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Chmod(0o400), f.Close())
}

// takeSecrets reads and deletes the hand-off file. An instance with
// secrets (named in spec.json) must have one.
func takeSecrets(dir instanceDir, cfg instanceConfig) (handoff, error) {
	var h handoff
	if len(cfg.Secrets) == 0 {
		return h, nil
	}
	raw, err := os.ReadFile(dir.secrets())
	if err != nil {
		return h, fmt.Errorf("read the secrets the driver handed over: %w", err)
	}
	defer clear(raw)
	if err := os.Remove(dir.secrets()); err != nil {
		return h, fmt.Errorf("remove the secrets hand-off file: %w", err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		// The JSON error may quote the file: do not pass it on.
		return handoff{}, fmt.Errorf("read the secrets the driver handed over: %s is not valid JSON", secretsName)
	}
	return h, nil
}

// withSecrets returns env with the secret variables set, replacing
// variables of the same name.
func withSecrets(env []string, secrets map[string]string) []string {
	if len(secrets) == 0 {
		return env
	}
	out := slices.Clone(env)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		kv := k + "=" + secrets[k]
		if i, ok := index[k]; ok {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}
