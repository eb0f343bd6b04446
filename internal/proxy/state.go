package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadTable reads the table saved at path; ok is false if there is none.
func loadTable(path string) (t Table, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Table{}, false, nil
	}
	if err != nil {
		return Table{}, false, fmt.Errorf("read state file: %w", err)
	}
	t, err = decodeTable(bytes.NewReader(data))
	if err != nil {
		return Table{}, false, fmt.Errorf("state file %s: %w; fix or delete it to start with an empty table", path, err)
	}
	return t, true, nil
}

// saveTable writes t to path so that a crash leaves either the old file
// or the new one: a temporary file in the same directory is written,
// synced and renamed over path, and the directory is synced.
func saveTable(path string, t Table) (err error) {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("encode table: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create state file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod state file: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close state file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// Persist the rename; not every file system supports it.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
