package pipeline

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ListRefs of a local repository lists branches and tags as git
// ls-remote does: an annotated tag by its tag object.
func TestListRefsLocal(t *testing.T) {
	r := newRepo(t)
	first := r.commit("one", map[string]string{"a.txt": "a"})
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("feature/x"), plumbing.NewHash(first))); err != nil {
		t.Fatal(err)
	}
	second := r.commit("two", map[string]string{"a.txt": "b"})
	r.tag("v1.0.0", first)
	annotated, err := r.repo.CreateTag("v2.0.0", plumbing.NewHash(second), &git.CreateTagOptions{Message: "two",
		Tagger: &object.Signature{Name: "Test", Email: "test@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{r.dir, "file://" + r.dir} {
		got, err := ListRefs(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"refs/heads/main": second, "refs/heads/feature/x": first,
			"refs/tags/v1.0.0": first, "refs/tags/v2.0.0": annotated.Hash().String()}
		if len(got) != len(want) {
			t.Fatalf("ListRefs(%s) = %v, want %v", repo, got, want)
		}
		for ref, h := range want {
			if got[ref] != h {
				t.Errorf("ListRefs(%s)[%s] = %s, want %s", repo, ref, got[ref], h)
			}
		}
	}
	if _, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command("git", "ls-remote", "--heads", "--tags", r.dir).Output()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := ListRefs(context.Background(), r.dir)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			h, ref, _ := strings.Cut(line, "\t")
			if strings.HasSuffix(ref, "^{}") {
				continue
			}
			if got[ref] != h {
				t.Errorf("git ls-remote says %s is %s, ListRefs %s", ref, h, got[ref])
			}
		}
	}
}

func TestListRefsErrors(t *testing.T) {
	for _, repo := range []string{"", "-x", "relative/path", t.TempDir()} {
		if _, err := ListRefs(context.Background(), repo); err == nil {
			t.Errorf("ListRefs(%q) did not fail", repo)
		}
	}
	if _, err := ListRefs(context.Background(), "https://user:hunter2@127.0.0.1:1/x.git"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("ListRefs of an unreachable URL with a password: %v", err)
	}
}
