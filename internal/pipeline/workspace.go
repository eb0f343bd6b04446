package pipeline

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// workspace is the directory of one run: the checkout, and a HOME and a
// TMPDIR of its own, so that runs never share state except through
// declared caches.
//
//	DATA/workspaces/<run>/src   the commit, checked out
//	DATA/workspaces/<run>/home  $HOME of every step
//	DATA/workspaces/<run>/tmp   $TMPDIR of every step
type workspace struct {
	root, src, home, tmp string
}

func newWorkspace(root string) workspace {
	return workspace{root: root, src: filepath.Join(root, "src"), home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp")}
}

// create makes an empty workspace, removing anything left at its place.
func (w workspace) create() error {
	if err := removeAll(w.root); err != nil {
		return err
	}
	for _, d := range []string{w.src, w.home, w.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// removeAll removes dir like os.RemoveAll, also when the tree holds
// read-only directories (Go's module cache makes them).
func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// baseEnv is what a step inherits from the control plane's environment
// when Options.BaseEnv is nil: PATH and LANG, nothing else (the control
// plane's environment may hold secrets).
func baseEnv(getenv func(string) string) []string {
	path := getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	env := []string{"PATH=" + path}
	if v := getenv("LANG"); v != "" {
		env = append(env, "LANG="+v)
	}
	return env
}

// stepEnv is the environment of one step: base, then the workspace's HOME
// and TMPDIR, then the step's own variables (in key order), then the
// run's SLIPWAY_* variables, each later one replacing an earlier variable
// of the same name.
func stepEnv(base []string, w workspace, own map[string]string, job Job, commit string) []string {
	var env []string
	index := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			env[i] = kv
			return
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	set("HOME=" + w.home)
	set("TMPDIR=" + w.tmp)
	for _, k := range slices.Sorted(maps.Keys(own)) {
		set(k + "=" + own[k])
	}
	set("SLIPWAY_RUN=" + job.ID)
	set("SLIPWAY_COMMIT=" + commit)
	set("SLIPWAY_BRANCH=" + job.Branch)
	set("SLIPWAY_TAG=" + job.Tag)
	return env
}

// staleWorkspaces picks the workspaces to remove: those not in use whose
// last change is older than keep.
func staleWorkspaces(entries []fs.DirEntry, inUse map[string]bool, now time.Time, keep time.Duration) []string {
	var out []string
	for _, e := range entries {
		if !e.IsDir() || inUse[e.Name()] {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < keep {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}
