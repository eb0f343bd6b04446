package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/artifact"
	"github.com/slipway-dev/slipway/internal/spec"
)

// DefaultCacheKeep is how many saved caches are kept per cache path.
const DefaultCacheKeep = 3

// cache is one declared cache of a run, resolved against its workspace.
//
//	DATA/caches/<app>/<path id>/<key>.tar.gz
//
// where <path id> is a hash of the cache's path as written, and <key> a
// hash of that path and the contents of its key files.
type cache struct {
	path    string // as written in slipway.yaml
	dir     string // where it lives in the workspace
	group   string // directory of the saved versions of this path
	file    string // the saved version for this key
	restore bool   // restored from an exact key match
}

// resolveCaches places the spec's caches in workspace w and computes
// their keys from the key files in the checkout.
func resolveCaches(root, app string, decl []spec.Cache, w workspace) ([]cache, error) {
	var out []cache
	for _, c := range decl {
		dir, err := cachePath(c.Path, w)
		if err != nil {
			return nil, err
		}
		key, err := cacheKey(c.Path, c.Key, w.src)
		if err != nil {
			return nil, err
		}
		pathID := sha256.Sum256([]byte(c.Path))
		group := filepath.Join(root, fileName(app), hex.EncodeToString(pathID[:8]))
		out = append(out, cache{path: c.Path, dir: dir, group: group, file: filepath.Join(group, key+".tar.gz")})
	}
	return out, nil
}

// cachePath resolves a cache's path: ~/x under the run's HOME, anything
// else under the checkout; neither may lead outside.
func cachePath(p string, w workspace) (string, error) {
	base, rel := w.src, p
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		base, rel = w.home, rest
	}
	rel = filepath.Clean(rel)
	if !filepath.IsLocal(rel) || rel == "." {
		return "", fmt.Errorf("cache path %q must be a directory inside the workspace, or under ~/", p)
	}
	return filepath.Join(base, rel), nil
}

// cacheKey hashes a cache's path with the names and contents of its key
// files (a missing key file counts as one with no content, marked so).
func cacheKey(path string, keys []string, src string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "path %q\n", path)
	for _, k := range keys {
		if !filepath.IsLocal(k) {
			return "", fmt.Errorf("cache %s: key file %q must be inside the workspace", path, k)
		}
		raw, err := os.ReadFile(filepath.Join(src, k))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(h, "missing %q\n", k)
		case err != nil:
			return "", fmt.Errorf("cache %s: read key file %s: %w", path, k, err)
		default:
			fmt.Fprintf(h, "file %q %d\n", k, len(raw))
			h.Write(raw)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// restoreCache unpacks the saved version for c's key into its directory,
// unless there is none or the checkout already has files there.
func restoreCache(c *cache, log io.Writer, now time.Time) {
	f, err := os.Open(c.file)
	if err != nil {
		fmt.Fprintf(log, "cache %s: nothing saved for this key yet\n", c.path)
		return
	}
	defer f.Close()
	if entries, err := os.ReadDir(c.dir); err == nil && len(entries) > 0 {
		fmt.Fprintf(log, "cache %s: not restored, the checkout already has files there\n", c.path)
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		fmt.Fprintf(log, "cache %s: not restored: %v\n", c.path, err)
		return
	}
	if err := artifact.Unpack(f, c.dir); err != nil {
		fmt.Fprintf(log, "cache %s: not restored: %v\n", c.path, err)
		removeAll(c.dir)
		return
	}
	os.Chtimes(c.file, now, now) // recently used: kept longest
	c.restore = true
	fmt.Fprintf(log, "cache %s: restored\n", c.path)
}

// saveCache packs c's directory as the version for its key and keeps the
// keep most recently used versions of its path. A cache restored from
// the same key is not saved again.
func saveCache(c cache, keep int, log io.Writer) error {
	if c.restore {
		fmt.Fprintf(log, "cache %s: unchanged key, not saved again\n", c.path)
		return nil
	}
	if info, err := os.Stat(c.dir); err != nil || !info.IsDir() {
		fmt.Fprintf(log, "cache %s: no such directory after the run, nothing to save\n", c.path)
		return nil
	}
	if err := os.MkdirAll(c.group, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.group, "saving-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := artifact.Pack(c.dir, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("cache %s: %w", c.path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		return err
	}
	fmt.Fprintf(log, "cache %s: saved\n", c.path)
	entries, err := os.ReadDir(c.group)
	if err != nil {
		return err
	}
	for _, name := range oldCaches(entries, keep) {
		os.Remove(filepath.Join(c.group, name))
	}
	return nil
}

// oldCaches picks the saved versions beyond the keep most recently used.
func oldCaches(entries []fs.DirEntry, keep int) []string {
	type version struct {
		name string
		used time.Time
	}
	var vs []version
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".tar.gz") {
			vs = append(vs, version{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(vs, func(a, b version) int {
		if c := b.used.Compare(a.used); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i, v := range vs {
		if i >= keep {
			out = append(out, v.name)
		}
	}
	return out
}
