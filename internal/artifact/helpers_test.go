package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// node is one entry of a test tree, created by makeTree.
type node struct {
	path    string // slash-separated, relative to the tree root
	kind    string // "file", "dir", "link"
	content string // file content, or link target
	mode    fs.FileMode
}

func file(p, content string) node { return node{path: p, kind: "file", content: content, mode: 0o644} }
func execFile(p, content string) node {
	return node{path: p, kind: "file", content: content, mode: 0o755}
}
func dir(p string) node          { return node{path: p, kind: "dir", mode: 0o755} }
func link(p, target string) node { return node{path: p, kind: "link", content: target} }

// makeTree creates nodes under root in the order given.
func makeTree(t testing.TB, root string, nodes ...node) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(root, filepath.FromSlash(n.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch n.kind {
		case "file":
			err = os.WriteFile(p, []byte(n.content), n.mode)
			if err == nil {
				err = os.Chmod(p, n.mode) // WriteFile's mode is filtered by umask
			}
		case "dir":
			err = os.MkdirAll(p, n.mode)
			if err == nil {
				err = os.Chmod(p, n.mode)
			}
		case "link":
			err = os.Symlink(n.content, p)
		default:
			t.Fatalf("unknown node kind %q", n.kind)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes every entry under root, one line each, sorted:
// "path/ dir", "path file 0644 content" or "path -> target".
func snapshot(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			out = append(out, rel+"/ dir")
		case mode.IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, rel+" file "+mode.Perm().String()+" "+string(b))
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, rel+" -> "+target)
		default:
			out = append(out, rel+" "+mode.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// entry is one header of a hand-built archive.
type entry struct {
	name string
	typ  byte
	body string // content of a regular file
	link string // Linkname
	mode int64
}

func reg(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}
func tdir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}

// tarGz builds a gzipped tar of entries, headers exactly as given, so tests
// can build archives Pack would never write.
func tarGz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox returns an empty destination directory inside a fresh parent, and
// the parent, so a test can check that nothing appears beside dest.
func sandbox(t testing.TB) (base, dest string) {
	t.Helper()
	base = t.TempDir()
	dest = filepath.Join(base, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	return base, dest
}

// assertNothingBeside fails if base holds anything but dest.
func assertNothingBeside(t testing.TB, base string) {
	t.Helper()
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "dest" {
		t.Fatalf("unpack wrote outside the destination: %s holds %v, want only [dest]", base, names)
	}
}

// assertLinksInside fails if any symlink under dest resolves, or would
// resolve once the missing parts of its target are created, outside dest.
func assertLinksInside(t testing.TB, dest string) {
	t.Helper()
	realDest, err := filepath.EvalSymlinks(dest)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(realDest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		got, ok := resolve(p)
		if !ok {
			return nil // a loop points nowhere
		}
		if got != realDest && !strings.HasPrefix(got, realDest+string(filepath.Separator)) {
			target, _ := os.Readlink(p)
			t.Errorf("symlink %s -> %q resolves to %s, outside %s", p, target, got, realDest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// resolve follows p component by component the way the kernel does,
// including ".." after a symlink, which lexical cleaning gets wrong. Once a
// component is missing the rest is applied lexically. ok is false for a
// symlink loop.
func resolve(p string) (string, bool) {
	queue := strings.Split(p, "/")
	cur := "/"
	missing := false
	for hops := 0; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		if missing {
			cur = next
			continue
		}
		info, err := os.Lstat(next)
		if err != nil {
			missing = true
			cur = next
			continue
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", false
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", false
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		queue = append(strings.Split(target, "/"), queue...)
	}
	return cur, true
}
