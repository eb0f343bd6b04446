package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ListRefs lists the branches and tags of repo, like `git ls-remote
// --heads --tags`: full ref name (refs/heads/main, refs/tags/v1.0.0) ->
// hash, an annotated tag's being the hash of the tag object. Nothing is
// fetched or checked out. A local repository (a path or file:// URL) is
// read in place, in pure Go like a run's checkout; a remote one is asked
// for its refs. An empty repository has none.
func ListRefs(ctx context.Context, repo string) (map[string]string, error) {
	if err := CheckRepo(repo); err != nil {
		return nil, err
	}
	out := map[string]string{}
	keep := func(ref *plumbing.Reference) {
		if ref.Type() == plumbing.HashReference && (ref.Name().IsBranch() || ref.Name().IsTag()) {
			out[ref.Name().String()] = ref.Hash().String()
		}
	}
	if path, ok := localRepo(repo); ok {
		r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
		if err != nil {
			return nil, fmt.Errorf("open git repository %s: %w", path, err)
		}
		iter, err := r.References()
		if err != nil {
			return nil, fmt.Errorf("list the refs of %s: %w", path, err)
		}
		defer iter.Close()
		for {
			ref, err := iter.Next()
			if err != nil {
				break
			}
			keep(ref)
		}
		return out, ctx.Err()
	}
	shown := Redacted(repo)
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{repo}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the refs of %s: %s", shown, strings.ReplaceAll(err.Error(), repo, shown))
	}
	for _, ref := range refs {
		keep(ref)
	}
	return out, nil
}
