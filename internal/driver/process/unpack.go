package process

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// unpack extracts the tar.gz (or plain tar) artifact into the existing
// directory dest. Every file operation goes through an os.Root, so no entry
// can write outside dest, whether by an absolute name, "..", or a symbolic
// link in the archive; an entry that tries fails the unpacking. Entries
// other than directories, regular files and links are skipped.
func unpack(artifact, dest string) error {
	f, err := os.Open(artifact)
	if err != nil {
		return fmt.Errorf("unpack artifact: %w", err)
	}
	defer f.Close()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("unpack artifact: %w", err)
	}
	defer root.Close()
	if err := extract(f, root); err != nil {
		return fmt.Errorf("unpack artifact %s: %w", artifact, err)
	}
	return nil
}

func extract(r io.Reader, root *os.Root) error {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := extractEntry(tr, hdr, root); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
}

func extractEntry(tr *tar.Reader, hdr *tar.Header, root *os.Root) error {
	name := path.Clean(hdr.Name)
	if name == "." || name == "/" {
		return nil
	}
	if !filepath.IsLocal(name) {
		return errors.New("path leaves the artifact")
	}
	name = filepath.FromSlash(name)
	mode := os.FileMode(hdr.Mode) & os.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, mode|0o700)
	case tar.TypeReg:
		if err := mkParent(root, name); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err = errors.Join(err, f.Close()); err != nil {
			return err
		}
		return root.Chmod(name, mode)
	case tar.TypeSymlink:
		if err := mkParent(root, name); err != nil {
			return err
		}
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target := path.Clean(hdr.Linkname)
		if !filepath.IsLocal(target) {
			return errors.New("hard link leaves the artifact")
		}
		if err := mkParent(root, name); err != nil {
			return err
		}
		return root.Link(filepath.FromSlash(target), name)
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if dir := filepath.Dir(name); dir != "." {
		return root.MkdirAll(dir, 0o755)
	}
	return nil
}
