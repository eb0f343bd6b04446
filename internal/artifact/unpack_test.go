package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnpackRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		unsafe  bool     // error wraps ErrUnsafePath
		wantErr string   // substring of the error
		absent  []string // paths under dest that must not exist afterwards
	}{
		{
			name:    "parent traversal",
			entries: []entry{reg("../evil", "x")},
			unsafe:  true,
		},
		{
			name:    "traversal hidden in the middle",
			entries: []entry{reg("a/b/../../../evil", "x")},
			unsafe:  true,
		},
		{
			name:    "bare ..",
			entries: []entry{tdir("..")},
			unsafe:  true,
		},
		{
			name:    "absolute path",
			entries: []entry{reg("/tmp/evil", "x")},
			unsafe:  true,
		},
		{
			name:    "absolute symlink",
			entries: []entry{symlink("passwd", "/etc/passwd")},
			unsafe:  true,
			absent:  []string{"passwd"},
		},
		{
			name:    "symlink to the parent",
			entries: []entry{symlink("up", "..")},
			unsafe:  true,
			absent:  []string{"up"},
		},
		{
			name:    "nested symlink climbing out",
			entries: []entry{tdir("a/b"), symlink("a/b/up", "../../../evil")},
			unsafe:  true,
			absent:  []string{"a/b/up"},
		},
		{
			name:    "empty symlink target",
			entries: []entry{symlink("l", "")},
			unsafe:  true,
		},
		{
			// "self" is the destination itself; "self/.." is its parent even
			// though "self/../evil" cleans to "evil".
			name:    "symlink climbing through another symlink",
			entries: []entry{symlink("self", "."), symlink("out", "self/../evil")},
			unsafe:  true,
			absent:  []string{"out"},
		},
		{
			name:    "symlink climbing through a directory it descends",
			entries: []entry{tdir("a"), symlink("l", "a/../x")},
			unsafe:  true,
			absent:  []string{"l"},
		},
		{
			name:    "file written through a symlinked directory",
			entries: []entry{tdir("real"), symlink("l", "real"), reg("l/planted", "x")},
			unsafe:  true,
			absent:  []string{"real/planted"},
		},
		{
			name:    "directory made through a symlinked directory",
			entries: []entry{tdir("real"), symlink("l", "real"), tdir("l/sub")},
			unsafe:  true,
			absent:  []string{"real/sub"},
		},
		{
			name:    "symlink made through a symlinked directory",
			entries: []entry{tdir("real"), symlink("l", "real"), symlink("l/x", "y")},
			unsafe:  true,
			absent:  []string{"real/x"},
		},
		{
			name:    "file written through a deeper symlinked directory",
			entries: []entry{tdir("a/real"), symlink("a/l", "real"), reg("a/l/b/planted", "x")},
			unsafe:  true,
			absent:  []string{"a/real/b"},
		},
		{
			name:    "file replacing a symlink",
			entries: []entry{symlink("f", "target"), reg("f", "written through the link")},
			absent:  []string{"target"},
		},
		{
			name:    "file written twice",
			entries: []entry{reg("f", "first"), reg("f", "second")},
		},
		{
			name:    "hard link",
			entries: []entry{reg("f", "x"), {name: "h", typ: tar.TypeLink, link: "f"}},
			wantErr: "unsupported entry type",
			absent:  []string{"h"},
		},
		{
			name:    "character device",
			entries: []entry{{name: "null", typ: tar.TypeChar, mode: 0o666}},
			wantErr: "unsupported entry type",
			absent:  []string{"null"},
		},
		{
			name:    "block device",
			entries: []entry{{name: "sda", typ: tar.TypeBlock, mode: 0o666}},
			wantErr: "unsupported entry type",
			absent:  []string{"sda"},
		},
		{
			name:    "fifo",
			entries: []entry{{name: "pipe", typ: tar.TypeFifo, mode: 0o666}},
			wantErr: "unsupported entry type",
			absent:  []string{"pipe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, dest := sandbox(t)
			err := Unpack(bytes.NewReader(tarGz(t, tt.entries...)), dest)
			if err == nil {
				t.Fatalf("Unpack succeeded, want an error; unpacked %q", snapshot(t, dest))
			}
			if got := errors.Is(err, ErrUnsafePath); got != tt.unsafe {
				t.Errorf("errors.Is(%v, ErrUnsafePath) = %v, want %v", err, got, tt.unsafe)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			for _, p := range tt.absent {
				if _, err := os.Lstat(filepath.Join(dest, p)); err == nil {
					t.Errorf("%s exists after the refused unpack", p)
				}
			}
			assertNothingBeside(t, base)
			assertLinksInside(t, dest)
		})
	}
}

func TestUnpackAcceptsSafeLinks(t *testing.T) {
	_, dest := sandbox(t)
	entries := []entry{
		tdir("app/lib"),
		reg("app/lib/v1.so", "lib"),
		symlink("app/lib/current.so", "v1.so"),
		symlink("app/lib/same.so", "./v1.so"),
		symlink("app/up.so", "../app/lib/v1.so"),
		symlink("self", "."),
		symlink("app/root", ".."),
		symlink("later", "app/not-yet"),
	}
	if err := Unpack(bytes.NewReader(tarGz(t, entries...)), dest); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dest, "app", "root", "self", "app", "up.so"))
	if err != nil || string(b) != "lib" {
		t.Errorf("reading through the links: %q, %v; want %q", b, err, "lib")
	}
	assertLinksInside(t, dest)
}

func TestUnpackModes(t *testing.T) {
	_, dest := sandbox(t)
	entries := []entry{
		{name: "plain", typ: tar.TypeReg, body: "p", mode: 0o644},
		{name: "exec", typ: tar.TypeReg, body: "e", mode: 0o755},
		{name: "setuid", typ: tar.TypeReg, body: "s", mode: 0o4755},
		{name: "world-writable", typ: tar.TypeReg, body: "w", mode: 0o666},
		{name: "unreadable", typ: tar.TypeReg, body: "u", mode: 0},
	}
	if err := Unpack(bytes.NewReader(tarGz(t, entries...)), dest); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"exec file -rwxr-xr-x e",
		"plain file -rw-r--r-- p",
		"setuid file -rwxr-xr-x s",
		"unreadable file -rw------- u",
		"world-writable file -rw-r--r-- w",
	}
	if got := snapshot(t, dest); !slices.Equal(got, want) {
		t.Errorf("unpacked modes\n got: %q\nwant: %q", got, want)
	}
}

func TestUnpackSizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		sizes   []int
		limit   int64
		wantErr bool
	}{
		{"one file at the limit", []int{100}, 100, false},
		{"files adding up to the limit", []int{40, 60}, 100, false},
		{"one file over the limit", []int{101}, 100, true},
		{"files adding up to one byte over", []int{40, 60, 1}, 100, true},
		{"empty files do not count", []int{0, 0, 100, 0}, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var entries []entry
			for i, n := range tt.sizes {
				entries = append(entries, reg(string(rune('a'+i)), strings.Repeat("x", n)))
			}
			_, dest := sandbox(t)
			err := unpack(bytes.NewReader(tarGz(t, entries...)), dest, tt.limit)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
					t.Fatalf("unpack = %v, want a too large error", err)
				}
				// The file that crosses the limit is not written at all.
				if _, err := os.Stat(filepath.Join(dest, string(rune('a'+len(tt.sizes)-1)))); err == nil {
					t.Error("the file over the limit was written")
				}
				return
			}
			if err != nil {
				t.Fatalf("unpack = %v, want success", err)
			}
		})
	}
}

// A header may claim any size up to MaxInt64; the check must not overflow.
func TestUnpackSizeLimitForgedHugeSize(t *testing.T) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: "small", Typeflag: tar.TypeReg, Mode: 0o644, Size: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: math.MaxInt64 - 5}); err != nil {
		t.Fatal(err)
	}
	// Far more data than the limit follows, compressing to little: without
	// a working limit it all lands on disk. The archive is never finished.
	raw.Write(make([]byte, 1<<20))

	var gzBuf bytes.Buffer
	gz := gzip.NewWriter(&gzBuf)
	if _, err := gz.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}

	_, dest := sandbox(t)
	err := unpack(&gzBuf, dest, 1000)
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("unpack = %v, want a too large error", err)
	}
	if info, err := os.Stat(filepath.Join(dest, "huge")); err == nil {
		t.Errorf("huge was written (%d bytes)", info.Size())
	}
}

func TestUnpackUsesMaxUnpackedBytes(t *testing.T) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: MaxUnpackedBytes + 1}); err != nil {
		t.Fatal(err)
	}
	var gzBuf bytes.Buffer
	gz := gzip.NewWriter(&gzBuf)
	gz.Write(raw.Bytes())
	gz.Close()
	_, dest := sandbox(t)
	if err := Unpack(&gzBuf, dest); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Unpack of a %d byte file = %v, want a too large error", int64(MaxUnpackedBytes+1), err)
	}
}

func TestUnpackCorrupt(t *testing.T) {
	good := tarGz(t, reg("a", strings.Repeat("hello ", 100)), reg("b", "bye"))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty input", nil},
		{"not gzip", []byte("PK\x03\x04 this is a zip")},
		{"gzip of garbage", gzipBytes(t, []byte(strings.Repeat("garbage", 100)))},
		{"truncated", good[:len(good)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, dest := sandbox(t)
			if err := Unpack(bytes.NewReader(tt.data), dest); err == nil {
				t.Errorf("Unpack succeeded on %s", tt.name)
			}
			assertNothingBeside(t, base)
		})
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
