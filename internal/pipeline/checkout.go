package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrRevision is returned when the revision a run asks for is not in the
// repository.
var ErrRevision = errors.New("revision not found")

// scpLike matches git's user@host:path form of an SSH URL.
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:[^/\\]`)

// localRepo returns the directory of repo when it names a local
// repository (a path or a file:// URL) rather than a remote one.
func localRepo(repo string) (string, bool) {
	if p, ok := strings.CutPrefix(repo, "file://"); ok {
		return p, true
	}
	if strings.Contains(repo, "://") || (scpLike.MatchString(repo) && !strings.HasPrefix(repo, "/")) {
		return "", false
	}
	return repo, true
}

// CheckRepo refuses a repository no run could check out: none, one that
// starts with a dash (it would read as an option), or a local path that is
// not absolute.
func CheckRepo(repo string) error {
	switch path, local := localRepo(repo); {
	case repo == "":
		return errors.New("no repository: give a local path or a URL that git clone accepts")
	case strings.HasPrefix(repo, "-"):
		return fmt.Errorf("repository %q may not start with a dash", repo)
	case local && !filepath.IsAbs(path):
		return fmt.Errorf("repository %q: a local repository must be given by its absolute path", repo)
	}
	return nil
}

// Redacted returns repo with the credential of its URL, if any, replaced
// by "xxxxx", for logs and messages: the password, or over HTTP(S) a user
// name given without one, which is how tokens are often written
// (https://TOKEN@github.com/acme/hello.git). An SSH user (ssh://git@...)
// is no secret and stays.
func Redacted(repo string) string {
	u, err := url.Parse(repo)
	if err != nil || u.User == nil {
		return repo
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User("xxxxx")
		return u.String()
	}
	return repo
}

// checkout fills dir (which must not exist, or be empty) with a git
// working tree of repo at revision, and returns the full hash of the
// commit. A local repository is read in place and only the commit's tree
// is copied (the workspace is a shallow clone of depth 1); a remote one is
// cloned. With a branch (or tag) the workspace has that branch (tag)
// pointing at the commit, so `git rev-parse --abbrev-ref HEAD` names it;
// otherwise HEAD is detached.
func checkout(ctx context.Context, repo, revision, branch, tag, dir string, log io.Writer) (string, error) {
	if revision == "" {
		return "", fmt.Errorf("no revision to check out: give a commit hash, a branch or a tag")
	}
	var dst *git.Repository
	var hash plumbing.Hash
	if err := CheckRepo(repo); err != nil {
		return "", err
	}
	if path, ok := localRepo(repo); ok {
		src, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
		if err != nil {
			return "", fmt.Errorf("open git repository %s: %w", path, err)
		}
		if hash, err = resolve(src, revision, false); err != nil {
			return "", fmt.Errorf("%s in %s: %w", revision, repo, err)
		}
		fmt.Fprintf(log, "checking out %s (%s) from %s\n", hash, revision, path)
		if dst, err = git.PlainInit(dir, false); err != nil {
			return "", fmt.Errorf("create workspace repository: %w", err)
		}
		if err := copyCommit(ctx, src.Storer, dst.Storer, hash, log); err != nil {
			return "", fmt.Errorf("copy commit %s from %s: %w", hash, path, err)
		}
		if err := dst.Storer.SetShallow([]plumbing.Hash{hash}); err != nil {
			return "", err
		}
		if _, err := dst.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{path}}); err != nil {
			return "", err
		}
	} else {
		shown := Redacted(repo)
		fmt.Fprintf(log, "cloning %s\n", shown)
		var err error
		dst, err = git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{URL: repo, NoCheckout: true, Tags: git.AllTags})
		if err != nil {
			return "", fmt.Errorf("clone %s: %s", shown, strings.ReplaceAll(err.Error(), repo, shown))
		}
		if hash, err = resolve(dst, revision, true); err != nil {
			return "", fmt.Errorf("%s in %s: %w", revision, shown, err)
		}
		fmt.Fprintf(log, "checking out %s (%s)\n", hash, revision)
	}
	head := plumbing.NewHashReference(plumbing.HEAD, hash)
	if branch != "" && plumbing.NewBranchReferenceName(branch).Validate() == nil {
		name := plumbing.NewBranchReferenceName(branch)
		if err := dst.Storer.SetReference(plumbing.NewHashReference(name, hash)); err != nil {
			return "", err
		}
		head = plumbing.NewSymbolicReference(plumbing.HEAD, name)
	}
	if tag != "" && plumbing.NewTagReferenceName(tag).Validate() == nil {
		if err := dst.Storer.SetReference(plumbing.NewHashReference(plumbing.NewTagReferenceName(tag), hash)); err != nil {
			return "", err
		}
	}
	if err := dst.Storer.SetReference(head); err != nil {
		return "", err
	}
	wt, err := dst.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: hash, Mode: git.HardReset}); err != nil {
		return "", fmt.Errorf("check out %s: %w", hash, err)
	}
	if err := ctx.Err(); err != nil {
		return "", context.Cause(ctx)
	}
	return hash.String(), nil
}

// resolve finds the commit a revision names: a full or abbreviated hash,
// a branch, a tag, or anything else `git rev-parse` would take. In a fresh
// clone the branches are remote-tracking ones, tried as origin/<name>.
func resolve(r *git.Repository, revision string, cloned bool) (plumbing.Hash, error) {
	tries := []string{revision}
	if cloned {
		tries = append(tries, "origin/"+revision)
	}
	for _, t := range tries {
		h, err := r.ResolveRevision(plumbing.Revision(t))
		if err == nil && !h.IsZero() {
			return *h, nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: give a commit hash, branch or tag that exists in the repository", ErrRevision)
}

// copyCommit copies a commit and every tree and blob of its snapshot (not
// its history) from src to dst.
func copyCommit(ctx context.Context, src, dst storer.EncodedObjectStorer, hash plumbing.Hash, log io.Writer) error {
	obj, err := src.EncodedObject(plumbing.CommitObject, hash)
	if err != nil {
		return err
	}
	if _, err := dst.SetEncodedObject(obj); err != nil {
		return err
	}
	c, err := object.DecodeCommit(src, obj)
	if err != nil {
		return err
	}
	seen := map[plumbing.Hash]bool{}
	var copyTree func(h plumbing.Hash, path string) error
	copyTree = func(h plumbing.Hash, path string) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		obj, err := src.EncodedObject(plumbing.TreeObject, h)
		if err != nil {
			return err
		}
		if _, err := dst.SetEncodedObject(obj); err != nil {
			return err
		}
		tree, err := object.DecodeTree(src, obj)
		if err != nil {
			return err
		}
		for _, e := range tree.Entries {
			if seen[e.Hash] {
				continue
			}
			seen[e.Hash] = true
			switch e.Mode {
			case filemode.Dir:
				err = copyTree(e.Hash, path+e.Name+"/")
			case filemode.Submodule:
				fmt.Fprintf(log, "submodule %s%s is not checked out\n", path, e.Name)
			default:
				var blob plumbing.EncodedObject
				if blob, err = src.EncodedObject(plumbing.BlobObject, e.Hash); err == nil {
					_, err = dst.SetEncodedObject(blob)
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return copyTree(c.TreeHash, "")
}
