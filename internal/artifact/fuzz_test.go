package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// Fuzz input modes.
const (
	fuzzRaw    = iota // the bytes are the artifact
	fuzzGzip          // the bytes are a tar, gzipped before unpacking
	fuzzScript        // the bytes describe entries; see scriptArchive
	fuzzModes
)

// FuzzUnpack feeds Unpack hostile artifacts. It must never panic, never
// create anything beside the destination directory, and never leave a
// symlink in it that resolves outside.
func FuzzUnpack(f *testing.F) {
	src := f.TempDir()
	makeTree(f, src, tree...)
	var packed bytes.Buffer
	if _, err := Pack(src, &packed); err != nil {
		f.Fatal(err)
	}
	f.Add(packed.Bytes(), uint8(fuzzRaw))
	f.Add(tarBytes(f, reg("a/b", "x"), symlink("l", "a"), tdir("d")), uint8(fuzzGzip))
	for _, script := range []string{
		"0a/b\t\thello\n2l\ta\n0l/c\t\tthrough the link",
		"2self\t.\n2out\tself/../evil\n0out/x\t\tx",
		"0../evil\t\tx",
		"0/abs\t\tx",
		"5d\n0d/../../evil\t\tx",
		"2up\t..\n0up/evil\t\tx",
		"2f\ttarget\n0f\t\tthrough",
		"1hard\ta",
		"3null\n4sda\n6pipe",
		"2a/b/c\t../../..\n2x\ta/b/c/../y",
	} {
		f.Add([]byte(script), uint8(fuzzScript))
	}

	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var archive []byte
		switch mode % fuzzModes {
		case fuzzRaw:
			archive = data
		case fuzzGzip:
			archive = gzipBytes(t, data)
		case fuzzScript:
			archive = scriptArchive(t, data)
		}
		base, dest := sandbox(t)
		_ = unpack(bytes.NewReader(archive), dest, 1<<20) // errors are fine; escapes are not
		assertNothingBeside(t, base)
		assertLinksInside(t, dest)
	})
}

// scriptArchive builds a gzipped tar from lines of
// "<type><name>\t<linkname>\t<content>", where type is a digit picking the
// entry type: 0 file, 1 hard link, 2 symlink, 3 char device, 4 block device,
// 5 directory, 6 fifo; any other byte is used as the type flag as is. It
// lets the fuzzer steer names and link targets without having to forge tar
// checksums. Headers tar.Writer refuses are skipped.
func scriptArchive(t *testing.T, script []byte) []byte {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, line := range strings.Split(string(script), "\n") {
		if line == "" {
			continue
		}
		typ := line[0]
		if typ >= '0' && typ <= '6' {
			typ = []byte{tar.TypeReg, tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo}[typ-'0']
		}
		fields := strings.SplitN(line[1:], "\t", 3)
		for len(fields) < 3 {
			fields = append(fields, "")
		}
		hdr := &tar.Header{Name: fields[0], Linkname: fields[1], Typeflag: typ, Mode: 0o755, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(fields[2]))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			continue
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(fields[2])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return gzipBytes(t, raw.Bytes())
}

func tarBytes(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := gzip.NewReader(bytes.NewReader(tarGz(t, entries...)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
