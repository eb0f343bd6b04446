package process

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type entry struct {
	hdr  tar.Header
	body string
}

func makeTar(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func reg(name, body string, mode int64) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, body}
}

func TestUnpack(t *testing.T) {
	for _, gz := range []bool{true, false} {
		art := filepath.Join(t.TempDir(), "a.tar.gz")
		data := makeTar(t, gz,
			entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./bin/", Mode: 0o755}},
			reg("./bin/app", "#!/bin/sh\necho hi\n", 0o755),
			reg("conf/app.conf", "x=1\n", 0o640), // parent created implicitly
			entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "current", Linkname: "bin"}},
			entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "bin/app2", Linkname: "bin/app"}},
			entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo"}}, // skipped
		)
		if err := os.WriteFile(art, data, 0o600); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		if err := unpack(art, dest); err != nil {
			t.Fatalf("gzip %v: %v", gz, err)
		}
		fi, err := os.Stat(filepath.Join(dest, "bin/app"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("bin/app: %v, %v", fi, err)
		}
		if b, err := os.ReadFile(filepath.Join(dest, "current/app2")); err != nil || string(b) != "#!/bin/sh\necho hi\n" {
			t.Errorf("current/app2 = %q, %v", b, err)
		}
		if fi, err := os.Stat(filepath.Join(dest, "conf/app.conf")); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("conf/app.conf: %v, %v", fi, err)
		}
		if _, err := os.Lstat(filepath.Join(dest, "fifo")); err == nil {
			t.Error("a fifo was created")
		}
	}
}

func TestUnpackRejectsEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
	}{
		{"dot-dot", []entry{reg("../evil", "x", 0o644)}},
		{"absolute", []entry{reg("/tmp/evil", "x", 0o644)}},
		{"through a symlink", []entry{
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "out", Linkname: ".."}},
			reg("out/evil", "x", 0o644),
		}},
		{"through an absolute symlink", []entry{
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "out", Linkname: "/tmp"}},
			reg("out/evil", "x", 0o644),
		}},
		{"hard link outside", []entry{
			{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "passwd", Linkname: "../../etc/passwd"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "app")
			if err := os.Mkdir(dest, 0o700); err != nil {
				t.Fatal(err)
			}
			art := filepath.Join(t.TempDir(), "a.tar.gz")
			if err := os.WriteFile(art, makeTar(t, true, tt.entries...), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := unpack(art, dest); err == nil {
				t.Error("unpack succeeded")
			}
			assertNothingOutside(t, parent, dest)
		})
	}
}

// assertNothingOutside fails if parent holds anything but dest.
func assertNothingOutside(t *testing.T, parent, dest string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{filepath.Base(dest)}) {
		t.Errorf("unpacking created %q beside the destination", names)
	}
}

// FuzzUnpack checks that no archive makes unpack write outside its
// destination or panic.
func FuzzUnpack(f *testing.F) {
	f.Add(makeTar(f, true, reg("a/b", "x", 0o644)))
	f.Add(makeTar(f, false,
		entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "../.."}},
		reg("l/x", "x", 0o644)))
	f.Add(makeTar(f, false, entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "a"}}))
	f.Add([]byte("\x1f\x8b garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "app")
		if err := os.Mkdir(dest, 0o700); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		_ = extract(bytes.NewReader(data), root)
		assertNothingOutside(t, parent, dest)
	})
}
