package pipeline

import (
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
)

func TestLocalRepo(t *testing.T) {
	tests := []struct {
		repo  string
		path  string
		local bool
	}{
		{"/srv/git/hello", "/srv/git/hello", true},
		{"file:///srv/git/hello", "/srv/git/hello", true},
		{"relative/dir", "relative/dir", true},
		{"https://github.com/acme/hello.git", "", false},
		{"ssh://git@github.com/acme/hello.git", "", false},
		{"git@github.com:acme/hello.git", "", false},
		{"github.com:acme/hello.git", "", false},
		{"/srv/git/odd:name", "/srv/git/odd:name", true},
	}
	for _, tt := range tests {
		path, local := localRepo(tt.repo)
		if path != tt.path || local != tt.local {
			t.Errorf("localRepo(%q) = %q, %v; want %q, %v", tt.repo, path, local, tt.path, tt.local)
		}
	}
}

func TestRedacted(t *testing.T) {
	for repo, want := range map[string]string{
		"https://bob:s3cret@git.example.com/hello.git": "https://bob:xxxxx@git.example.com/hello.git",
		"https://ghp_t0ken@github.com/acme/hello.git":  "https://xxxxx@github.com/acme/hello.git",
		"http://bob@git.example.com/hello.git":         "http://xxxxx@git.example.com/hello.git",
		"ssh://git@github.com/acme/hello.git":          "ssh://git@github.com/acme/hello.git",
		"git@github.com:acme/hello.git":                "git@github.com:acme/hello.git",
		"/srv/git/hello":                               "/srv/git/hello",
	} {
		if got := Redacted(repo); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", repo, got, want)
		}
	}
}

func TestFileName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"build", "build"},
		{"go-vet_2", "go-vet_2"},
		{"setup.log", "setup_log-"},
		{"../../etc", "_etc-"},
		{"unit tests", "unit_tests-"},
		{"", "-"},
	}
	for _, tt := range tests {
		got := fileName(tt.name)
		if !strings.HasPrefix(got, tt.want) || (strings.HasSuffix(tt.want, "-") && len(got) != len(tt.want)+8) {
			t.Errorf("fileName(%q) = %q, want %q (plus a hash when not plain)", tt.name, got, tt.want)
		}
		if !filepath.IsLocal(got) || strings.ContainsAny(got, "/\\") {
			t.Errorf("fileName(%q) = %q is not a plain file name", tt.name, got)
		}
	}
	if fileName("a b") == fileName("a_b") || fileName("a/b") == fileName("a?b") {
		t.Error("different names share a file")
	}
	if got := LogFile(StepRef{"test", "unit"}); got != filepath.Join("test", "unit.log") {
		t.Errorf("LogFile = %q", got)
	}
}

func TestCachePath(t *testing.T) {
	w := newWorkspace("/data/workspaces/7")
	tests := []struct{ path, want string }{
		{"node_modules", "/data/workspaces/7/src/node_modules"},
		{".cache/deps/", "/data/workspaces/7/src/.cache/deps"},
		{"~/.cache/go-build", "/data/workspaces/7/home/.cache/go-build"},
		{"~/go/pkg/mod", "/data/workspaces/7/home/go/pkg/mod"},
		{"../outside", ""},
		{"/etc", ""},
		{"~/../src", ""},
		{"~/", ""},
		{".", ""},
	}
	for _, tt := range tests {
		got, err := cachePath(tt.path, w)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("cachePath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "go.sum"), []byte("a v1\n"), 0o644)
	key := func(path string, keys ...string) string {
		t.Helper()
		k, err := cacheKey(path, keys, src)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("~/.cache/go-build", "go.sum")
	if key("~/.cache/go-build", "go.sum") != base {
		t.Error("the same inputs give different keys")
	}
	if key("~/go/pkg/mod", "go.sum") == base {
		t.Error("the path is not part of the key")
	}
	if key("~/.cache/go-build", "go.sum", "missing") == base {
		t.Error("a missing key file does not change the key")
	}
	os.WriteFile(filepath.Join(src, "go.sum"), []byte("a v2\n"), 0o644)
	if key("~/.cache/go-build", "go.sum") == base {
		t.Error("a changed key file keeps the key")
	}
	if _, err := cacheKey("x", []string{"../go.sum"}, src); err == nil {
		t.Error("a key file outside the workspace was read")
	}
}

func TestStepEnv(t *testing.T) {
	w := newWorkspace("/ws/3")
	job := Job{ID: "3", Branch: "main"}
	got := stepEnv([]string{"PATH=/bin", "LANG=C", "HOME=/root"}, w, map[string]string{"LANG": "fr", "B": "2", "A": "1", "SLIPWAY_RUN": "spoof"}, job, "abc")
	want := []string{"PATH=/bin", "LANG=fr", "HOME=/ws/3/home", "TMPDIR=/ws/3/tmp", "A=1", "B=2", "SLIPWAY_RUN=3", "SLIPWAY_COMMIT=abc", "SLIPWAY_BRANCH=main", "SLIPWAY_TAG="}
	if !slices.Equal(got, want) {
		t.Errorf("stepEnv = %q\nwant %q", got, want)
	}
	base := baseEnv(func(k string) string { return map[string]string{"PATH": "/usr/bin", "SLIPWAY_TOKEN": "secret"}[k] })
	if !slices.Equal(base, []string{"PATH=/usr/bin"}) {
		t.Errorf("baseEnv = %q", base)
	}
	if base := baseEnv(func(string) string { return "" }); !slices.Equal(base, []string{"PATH=/usr/local/bin:/usr/bin:/bin"}) {
		t.Errorf("baseEnv without PATH = %q", base)
	}
}

type fakeEntry struct {
	name string
	dir  bool
	mod  time.Time
}

func (e fakeEntry) Name() string               { return e.name }
func (e fakeEntry) IsDir() bool                { return e.dir }
func (e fakeEntry) Type() fs.FileMode          { return 0 }
func (e fakeEntry) Info() (fs.FileInfo, error) { return e, nil }
func (e fakeEntry) Size() int64                { return 0 }
func (e fakeEntry) Mode() fs.FileMode          { return 0 }
func (e fakeEntry) ModTime() time.Time         { return e.mod }
func (e fakeEntry) Sys() any                   { return nil }

func TestStaleWorkspacesAndOldCaches(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	entries := []fs.DirEntry{
		fakeEntry{"1", true, now.Add(-3 * time.Hour)},
		fakeEntry{"2", true, now.Add(-2 * time.Hour)},
		fakeEntry{"3", true, now.Add(-10 * time.Minute)},
		fakeEntry{"4", false, now.Add(-5 * time.Hour)},
	}
	if got := staleWorkspaces(entries, map[string]bool{"2": true}, now, time.Hour); !slices.Equal(got, []string{"1"}) {
		t.Errorf("staleWorkspaces = %q, want [1] (2 is in use, 3 is recent, 4 is a file)", got)
	}
	caches := []fs.DirEntry{
		fakeEntry{"a.tar.gz", false, now.Add(-time.Hour)},
		fakeEntry{"b.tar.gz", false, now},
		fakeEntry{"c.tar.gz", false, now.Add(-2 * time.Hour)},
		fakeEntry{"saving-1", false, now.Add(-9 * time.Hour)},
	}
	if got := oldCaches(caches, 2); !slices.Equal(got, []string{"c.tar.gz"}) {
		t.Errorf("oldCaches = %q, want [c.tar.gz]", got)
	}
	if got := oldCaches(caches, 5); len(got) != 0 {
		t.Errorf("oldCaches keeping 5 = %q", got)
	}
}

func TestCheckStages(t *testing.T) {
	ok := []spec.Stage{stage("test", false, step("a", "true"))}
	if err := checkStages(ok); err != nil {
		t.Errorf("checkStages(valid) = %v", err)
	}
	for name, stages := range map[string][]spec.Stage{
		"none":            nil,
		"empty stage":     {stage("test", false)},
		"duplicate stage": {stage("test", false, step("a", "true")), stage("test", false, step("b", "true"))},
		"duplicate step":  {stage("test", false, step("a", "true"), step("a", "true"))},
		"no command":      {stage("test", false, step("a", ""))},
		"dir outside":     {stage("test", false, spec.PipelineStep{Name: "a", Run: "true", Dir: "../x"})},
	} {
		if err := checkStages(stages); err == nil {
			t.Errorf("checkStages(%s) accepted it", name)
		}
	}
}

// A remote repository is cloned over HTTP (git's own http-backend on
// loopback) and checked out at the exact commit.
func TestCheckoutOverHTTP(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git CLI for git http-backend")
	}
	repo := newRepo(t)
	app := pipelineApp(stage("build", false, step("compile", "mkdir dist && cat version.txt")))
	v1 := repo.commit("v1", map[string]string{"slipway.yaml": specJSON(t, app), "version.txt": "v1\n"})
	repo.commit("v2", map[string]string{"version.txt": "v2\n"})

	root := filepath.Dir(repo.dir)
	srv := httptest.NewServer(&cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	defer srv.Close()
	url := srv.URL + "/" + filepath.Base(repo.dir) + "/.git"
	if resp, err := http.Get(url + "/info/refs?service=git-upload-pack"); err != nil || resp.StatusCode != 200 {
		t.Skipf("git http-backend does not serve here: %v %v", resp, err)
	}

	f := newFixture(t, Options{})
	for _, revision := range []string{v1, "main"} {
		job := f.job(repo, revision)
		job.Repo = url
		res, _, err := f.run(t.Context(), job)
		if err != nil {
			t.Fatalf("run over HTTP at %s: %v\n%s", revision, err, readLog(t, job, SetupLog))
		}
		want := "v1"
		if revision == "main" {
			want = "v2"
		}
		if got := strings.TrimSpace(stepLog(t, job, "build", "compile")); got != want {
			t.Errorf("revision %s: version %q, want %q (commit %s)", revision, got, want, res.Commit)
		}
	}
}
