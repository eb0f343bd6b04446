package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the file holding the secrets key (DATA/secrets.key by
// default), outside the database. A key rotation uses two files next to
// it: PATH.new, the key being installed, and PATH.old, a copy of the key
// being replaced, kept until the store's re-encryption commits.
//
// A rotation is:
//
//  1. BeginRotation: write PATH.old (the current key) and PATH.new.
//  2. Re-encrypt every secret and record the new key's recipient in the
//     store, in one transaction.
//  3. CommitRotation: rename PATH.new over PATH, remove PATH.old.
//
// If the process dies anywhere in between, Open finds the file whose key
// matches the recipient the store records and puts it back at PATH.
type KeyFile struct {
	Path string
}

func (f KeyFile) newPath() string { return f.Path + ".new" }
func (f KeyFile) oldPath() string { return f.Path + ".old" }

// ReadKeyFile reads a key file. It refuses a file that others than its
// owner may read or write.
func ReadKeyFile(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read secrets key %s: its mode is %#o, so others may read it; run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets key: %w", err)
	}
	k, err := ParseKey(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteKeyFile writes k to path with mode 0600, atomically, and syncs the
// file and its directory.
func WriteKeyFile(path string, k *Key) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write secrets key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write secrets key: %w", err)
	}
	_, err = tmp.Write(k.Marshal())
	err = errors.Join(err, tmp.Chmod(0o600), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write secrets key %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open returns the key that the store's secrets are encrypted for.
// recorded is the recipient the store records, or "" if it records none
// (a new store): then the key file is read, or created when missing, and
// created reports the latter. With a recorded recipient, Open looks for
// the matching key in PATH, PATH.new and PATH.old, in that order; if it is
// not PATH, a rotation was interrupted and Open moves the matching file to
// PATH (fixed says so). Leftover PATH.new and PATH.old files are removed.
// It never creates a key when the store expects one.
func (f KeyFile) Open(recorded string) (k *Key, fixed string, created bool, err error) {
	if recorded == "" {
		k, err := ReadKeyFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			if k, err = Generate(); err != nil {
				return nil, "", false, err
			}
			if err := WriteKeyFile(f.Path, k); err != nil {
				return nil, "", false, err
			}
			return k, "", true, nil
		}
		return k, "", false, err
	}
	var problems []error
	for _, path := range []string{f.Path, f.newPath(), f.oldPath()} {
		k, err := ReadKeyFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if k.Recipient() != recorded {
			continue
		}
		if path != f.Path {
			if err := os.Rename(path, f.Path); err != nil {
				return nil, "", false, fmt.Errorf("install secrets key %s as %s: %w", path, f.Path, err)
			}
			if err := syncDir(filepath.Dir(f.Path)); err != nil {
				return nil, "", false, fmt.Errorf("install secrets key: %w", err)
			}
			fixed = fmt.Sprintf("an interrupted key rotation left the store's key in %s; moved it to %s", path, f.Path)
		}
		for _, stale := range []string{f.newPath(), f.oldPath()} {
			if err := os.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, "", false, fmt.Errorf("remove stale secrets key: %w", err)
			}
		}
		return k, fixed, false, nil
	}
	return nil, "", false, errors.Join(append([]error{fmt.Errorf("the store's secrets are encrypted for key %s, but %s (and any %s or %s) holds no such key; restore the key file from your backup (see docs/secrets.md)",
		recorded, f.Path, filepath.Base(f.newPath()), filepath.Base(f.oldPath()))}, problems...)...)
}

// BeginRotation writes PATH.old, a copy of the current key, and PATH.new,
// the next key.
func (f KeyFile) BeginRotation(current, next *Key) error {
	if err := WriteKeyFile(f.oldPath(), current); err != nil {
		return err
	}
	if err := WriteKeyFile(f.newPath(), next); err != nil {
		os.Remove(f.oldPath())
		return err
	}
	return nil
}

// CommitRotation installs PATH.new as PATH, atomically, then removes
// PATH.old. Call it once the store has committed the re-encryption.
func (f KeyFile) CommitRotation() error {
	if err := os.Rename(f.newPath(), f.Path); err != nil {
		return fmt.Errorf("install the new secrets key: %w", err)
	}
	if err := syncDir(filepath.Dir(f.Path)); err != nil {
		return fmt.Errorf("install the new secrets key: %w", err)
	}
	if err := os.Remove(f.oldPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the old secrets key %s: %w", f.oldPath(), err)
	}
	return nil
}

// AbortRotation removes PATH.new and PATH.old after the store's
// re-encryption failed: PATH keeps the key in use.
func (f KeyFile) AbortRotation() error {
	return errors.Join(ignoreNotExist(os.Remove(f.newPath())), ignoreNotExist(os.Remove(f.oldPath())))
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
