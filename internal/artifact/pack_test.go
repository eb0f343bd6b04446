package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree is a build output with every kind of entry an artifact may hold.
var tree = []node{
	dir("bin"),
	execFile("bin/server", "#!/bin/sh\necho hi\n"),
	file("public/index.html", "<h1>hello</h1>"),
	file("public/empty.txt", ""),
	dir("public/uploads"), // empty directory
	file("public/css/site.css", "body{}"),
	link("public/home.html", "index.html"),
	link("current", "public"),
	link("public/css/server", "../../bin/server"),
	link("dangling", "not-built-yet"),
	file("deep/"+strings.Repeat("long-name-", 12)+"/file.txt", "beyond the 100-byte ustar name field"),
	file("unicode/héllo wörld.txt", "spaces and accents"),
}

func pack(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	digest, err := Pack(dir, &buf)
	if err != nil {
		t.Fatalf("Pack(%s): %v", dir, err)
	}
	return digest, buf.Bytes()
}

func TestPackDigestIsSHA256OfOutput(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, tree...)
	digest, out := pack(t, src)
	if !ValidDigest(digest) {
		t.Fatalf("Pack returned digest %q, not a valid digest", digest)
	}
	sum := sha256.Sum256(out)
	if want := "sha256:" + hex.EncodeToString(sum[:]); digest != want {
		t.Fatalf("Pack digest = %s, but the bytes it wrote hash to %s", digest, want)
	}
}

func TestPackIsDeterministic(t *testing.T) {
	a := t.TempDir()
	makeTree(t, a, tree...)
	digestA, outA := pack(t, a)

	if digest, out := pack(t, a); digest != digestA || !bytes.Equal(out, outA) {
		t.Fatalf("packing the same directory twice gave %s then %s", digestA, digest)
	}

	// The same tree created in reverse order, at other times, with other
	// owners and non-exec permission bits.
	b := t.TempDir()
	reversed := slices.Clone(tree)
	slices.Reverse(reversed)
	for i := range reversed {
		if reversed[i].kind == "file" && reversed[i].mode == 0o644 {
			reversed[i].mode = 0o600
		}
		if reversed[i].kind == "dir" {
			reversed[i].mode = 0o700
		}
	}
	makeTree(t, b, reversed...)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	err := filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if os.Getuid() == 0 {
			if err := os.Lchown(p, 1234, 5678); err != nil {
				return err
			}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if digestB, _ := pack(t, b); digestB != digestA {
		t.Errorf("same tree created differently packed to %s, want %s", digestB, digestA)
	}
}

func TestPackDigestChangesWithContent(t *testing.T) {
	base := []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), link("l", "a.txt")}
	src := t.TempDir()
	makeTree(t, src, base...)
	want, _ := pack(t, src)

	tests := []struct {
		name  string
		nodes []node
	}{
		{"content changed", []node{file("a.txt", "hellO"), execFile("run", "#!/bin/sh"), dir("d"), link("l", "a.txt")}},
		{"file renamed", []node{file("b.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), link("l", "a.txt")}},
		{"exec bit dropped", []node{file("a.txt", "hello"), file("run", "#!/bin/sh"), dir("d"), link("l", "a.txt")}},
		{"exec bit added", []node{execFile("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), link("l", "a.txt")}},
		{"empty dir added", []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), dir("e"), link("l", "a.txt")}},
		{"empty dir removed", []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), link("l", "a.txt")}},
		{"empty file added", []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), file("d/x", ""), link("l", "a.txt")}},
		{"symlink target changed", []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), link("l", "run")}},
		{"symlink became a copy", []node{file("a.txt", "hello"), execFile("run", "#!/bin/sh"), dir("d"), file("l", "hello")}},
		{"file moved into a dir", []node{file("d/a.txt", "hello"), execFile("run", "#!/bin/sh"), link("l", "a.txt")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			makeTree(t, dir, tt.nodes...)
			if got, _ := pack(t, dir); got == want {
				t.Errorf("digest %s did not change", got)
			}
		})
	}
}

func TestPackUnpackRoundTrip(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, tree...)
	_, out := pack(t, src)

	base, dest := sandbox(t)
	if err := Unpack(bytes.NewReader(out), dest); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	got, want := snapshot(t, dest), snapshot(t, src)
	if !slices.Equal(got, want) {
		t.Errorf("unpacked tree differs from the packed one\n got: %q\nwant: %q", got, want)
	}
	assertNothingBeside(t, base)

	// The unpacked tree is usable: the exec bit survived and the links work.
	if info, err := os.Stat(filepath.Join(dest, "current", "css", "server")); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("bin/server through two links: %v, %v; want an executable file", info, err)
	}

	// Repacking the unpacked tree gives the same artifact.
	if d1, d2 := digestOf(t, src), digestOf(t, dest); d1 != d2 {
		t.Errorf("repacking the unpacked tree gave %s, want %s", d2, d1)
	}
}

func digestOf(t testing.TB, dir string) string {
	d, _ := pack(t, dir)
	return d
}

func TestPackEmptyDirectory(t *testing.T) {
	src := t.TempDir()
	_, out := pack(t, src)
	_, dest := sandbox(t)
	if err := Unpack(bytes.NewReader(out), dest); err != nil {
		t.Fatalf("Unpack of an empty artifact: %v", err)
	}
	if got := snapshot(t, dest); len(got) != 0 {
		t.Errorf("empty artifact unpacked to %q", got)
	}
}

func TestPackFollowsSymlinkedRoot(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "build-1234")
	makeTree(t, real, tree...)
	if err := os.Symlink("build-1234", filepath.Join(base, "dist")); err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, real)
	if got := digestOf(t, filepath.Join(base, "dist")); got != want {
		t.Fatalf("packing a symlink to the build output gave %s, want the output's own digest %s", got, want)
	}
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // makes the bad entry
		wantErr string
	}{
		{
			name: "fifo",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "sub", "pipe"), 0o644); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			},
			wantErr: "sub/pipe is a named pipe",
		},
		{
			name: "socket",
			setup: func(t *testing.T, dir string) {
				l, err := net.Listen("unix", filepath.Join(dir, "sub", "sock"))
				if err != nil {
					t.Skipf("listen unix: %v", err)
				}
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				t.Cleanup(func() { l.Close() })
			},
			wantErr: "sub/sock is a socket",
		},
		{
			name: "character device",
			setup: func(t *testing.T, dir string) {
				// 1,3 is /dev/null.
				if err := syscall.Mknod(filepath.Join(dir, "sub", "null"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
					t.Skipf("mknod needs root: %v", err)
				}
			},
			wantErr: "sub/null is a character device",
		},
		{
			name:    "absolute symlink",
			setup:   func(t *testing.T, dir string) { makeTree(t, dir, link("sub/python", "/usr/bin/python3")) },
			wantErr: `sub/python: symlink to "/usr/bin/python3" may point outside`,
		},
		{
			name:    "symlink out of the tree",
			setup:   func(t *testing.T, dir string) { makeTree(t, dir, link("sub/secret", "../../etc/passwd")) },
			wantErr: `sub/secret: symlink to "../../etc/passwd" may point outside`,
		},
		{
			name:    "symlink climbing after descending",
			setup:   func(t *testing.T, dir string) { makeTree(t, dir, link("sub/x", "a/../b")) },
			wantErr: `sub/x: symlink to "a/../b" may point outside`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			makeTree(t, dir, file("sub/ok.txt", "fine"))
			tt.setup(t, dir)
			_, err := Pack(dir, new(bytes.Buffer))
			if err == nil {
				t.Fatal("Pack succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Pack error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestPackNotADirectory(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, file("f", "x"))
	if _, err := Pack(filepath.Join(dir, "f"), new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Pack of a file: %v, want a not a directory error", err)
	}
	if _, err := Pack(filepath.Join(dir, "missing"), new(bytes.Buffer)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Pack of a missing directory: %v, want fs.ErrNotExist", err)
	}
}

func TestValidDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		in   string
		want bool
	}{
		{"sha256:" + hex64, true},
		{"sha256:" + strings.Repeat("f", 64), true},
		{"", false},
		{"sha256:", false},
		{hex64, false},
		{"sha256:" + hex64[:63], false},
		{"sha256:" + hex64 + "0", false},
		{"sha256:" + strings.ToUpper(hex64), false},
		{"SHA256:" + hex64, false},
		{"sha512:" + hex64, false},
		{"sha256:" + hex64[:63] + "g", false},
		{" sha256:" + hex64, false},
		{"sha256:" + hex64 + "\n", false},
		{"sha256:../../" + hex64[:58], false},
	}
	for _, tt := range tests {
		if got := ValidDigest(tt.in); got != tt.want {
			t.Errorf("ValidDigest(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
