// Package artifact packs a build's output directory into an immutable,
// content-addressed artifact (a deterministic tar.gz named by its sha256)
// and unpacks it safely.
package artifact

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// MaxUnpackedBytes bounds the total size Unpack will write, so a hostile or
// corrupt artifact cannot fill the disk.
const MaxUnpackedBytes = 4 << 30

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d has the form sha256:<64 lowercase hex>.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// Pack writes dir as a deterministic tar.gz to w and returns its digest
// ("sha256:<hex>"). Entries are sorted, owners and times are zeroed, and only
// regular files, directories and symlinks are allowed, so the same tree
// always gives the same digest. dir may itself be a symlink to the tree.
// Symlinks that Unpack would refuse (absolute, or leading out of dir) are
// refused here already.
func Pack(dir string, w io.Writer) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("pack %s: not a directory", dir)
	}
	// WalkDir does not follow a symlinked root; walk what it points to.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	var paths []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	sort.Strings(paths)
	h := sha256.New()
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(w, h), gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for _, p := range paths {
		if err := addEntry(tw, root, p); err != nil {
			return "", fmt.Errorf("pack %s: %w", dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func addEntry(tw *tar.Writer, root, p string) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	hdr := &tar.Header{Name: rel, Format: tar.FormatPAX}
	switch mode := info.Mode(); {
	case mode.IsDir():
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, rel+"/", 0o755
	case mode.IsRegular():
		hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, info.Size(), 0o644
		if mode&0o111 != 0 {
			hdr.Mode = 0o755
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !linkInside(rel, target) {
			return fmt.Errorf("%s: symlink to %q may point outside the artifact (it is absolute, climbs above the directory, or has \"..\" after a name), so it could not be unpacked; use a relative link that stays inside the build output, or copy its target in", rel, target)
		}
		hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
	default:
		return fmt.Errorf("%s is a %s; only regular files, directories and symlinks can be in an artifact, so remove it from the build output", rel, describeType(mode))
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}

func describeType(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe (fifo)"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "device"
	case mode&fs.ModeIrregular != 0:
		return "irregular file"
	}
	return "file of type " + mode.Type().String()
}

// linkInside reports whether a symlink at name (slash-separated, relative
// to the root) with target linkname resolves inside the root, whatever other
// symlinks the tree holds. Besides the lexical check, ".." may only lead the
// target: in "a/../b" the kernel resolves "a" first, and if "a" is itself a
// symlink (say to "."), ".." climbs above where the lexical path suggests.
// Leading ".." is safe because they walk up from the link's own directory,
// whose components Unpack makes sure are real directories.
func linkInside(name, linkname string) bool {
	if linkname == "" || path.IsAbs(linkname) {
		return false
	}
	descended := false
	for _, part := range strings.Split(linkname, "/") {
		switch part {
		case "", ".":
		case "..":
			if descended {
				return false
			}
		default:
			descended = true
		}
	}
	dest := path.Clean(path.Join(path.Dir(name), linkname))
	return dest != ".." && !strings.HasPrefix(dest, "../")
}

// ErrUnsafePath is returned by Unpack for an entry that would land outside
// the destination directory.
var ErrUnsafePath = errors.New("artifact entry escapes the destination")

// Unpack extracts the tar.gz in r into dir, which must exist. It refuses
// absolute paths, "..", symlinks that could point outside dir (absolute,
// climbing above it, or with ".." after a name), writes through a symlink
// an earlier entry planted, entry types other than files, directories and
// symlinks, and more than MaxUnpackedBytes of content.
func Unpack(r io.Reader, dir string) error {
	return unpack(r, dir, MaxUnpackedBytes)
}

// unpack is Unpack with the size limit as a parameter.
func unpack(r io.Reader, dir string, limit int64) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		name := path.Clean(hdr.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unpack %q: %w", hdr.Name, ErrUnsafePath)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := noSymlinkParents(dir, name); err != nil {
			return fmt.Errorf("unpack %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
		case tar.TypeReg:
			// Compare before adding: a forged size near MaxInt64 would
			// overflow the sum and slip past the limit.
			if hdr.Size > limit-total {
				return fmt.Errorf("unpack: artifact is larger than %d bytes unpacked", limit)
			}
			total += hdr.Size
			if err := writeFile(target, tr, hdr); err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if !linkInside(name, hdr.Linkname) {
				return fmt.Errorf("unpack %q -> %q: %w", hdr.Name, hdr.Linkname, ErrUnsafePath)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
		default:
			return fmt.Errorf("unpack %q: unsupported entry type %q", hdr.Name, hdr.Typeflag)
		}
	}
}

func writeFile(target string, r io.Reader, hdr *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, fs.FileMode(hdr.Mode)&0o755|0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, hdr.Size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// noSymlinkParents refuses an entry whose parent directories include a
// symlink planted by an earlier entry, which could redirect the write.
func noSymlinkParents(root, name string) error {
	parts := strings.Split(name, "/")
	p := root
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return ErrUnsafePath
		}
	}
	return nil
}
