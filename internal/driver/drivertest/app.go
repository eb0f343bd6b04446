package drivertest

import (
	"archive/tar"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed testdata/app/main.go
var appSource []byte

// Artifact is a release artifact the suite starts instances from.
type Artifact struct {
	// Path is the tar.gz file (InstanceSpec.Artifact).
	Path string
	// Command starts the test app from the unpacked artifact
	// (InstanceSpec.Command).
	Command string
}

// ArtifactFactory returns an artifact holding the test app of
// testdata/app/main.go, built for the platform the driver runs instances on.
type ArtifactFactory func(t *testing.T) Artifact

// BuildApp builds the test app with the go command for the current platform
// (CGO disabled, so the binary also runs in a minimal container), packs it
// as bin/app in a tar.gz under dir and returns the artifact.
func BuildApp(dir string) (Artifact, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("build test app: %w", err)
	}
	files := map[string][]byte{
		"go.mod":  []byte("module slipwaytestapp\n\ngo 1.22\n"),
		"main.go": appSource,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return Artifact{}, fmt.Errorf("build test app: %w", err)
		}
	}
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Artifact{}, fmt.Errorf("build test app: %w\n%s", err, out)
	}
	path := filepath.Join(dir, "app.tar.gz")
	if err := packApp(path, bin); err != nil {
		return Artifact{}, fmt.Errorf("build test app: %w", err)
	}
	return Artifact{Path: path, Command: "./bin/app"}, nil
}

// AppArtifact is the default ArtifactFactory: BuildApp in a temporary
// directory removed when the test ends.
func AppArtifact(t *testing.T) Artifact {
	t.Helper()
	a, err := BuildApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func packApp(path, bin string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	// Stored, not compressed: decompressing a few MB under the race
	// detector would cost a CPU second per instance.
	zw, err := gzip.NewWriterLevel(f, gzip.NoCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755}); err != nil {
		return err
	}
	b, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer b.Close()
	fi, err := b.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "bin/app", Mode: 0o755, Size: fi.Size()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, b); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
