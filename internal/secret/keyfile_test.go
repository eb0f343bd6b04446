package secret

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileCreatesOnFirstOpen(t *testing.T) {
	f := KeyFile{Path: filepath.Join(t.TempDir(), "data", "secrets.key")}
	k, fixed, created, err := f.Open("")
	if err != nil || !created || fixed != "" {
		t.Fatalf("Open = %v, %q, %v, %v", k, fixed, created, err)
	}
	fi, err := os.Stat(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", fi.Mode().Perm())
	}
	again, _, created, err := f.Open(k.Recipient())
	if err != nil || created || again.Recipient() != k.Recipient() {
		t.Fatalf("reopen = %v, %v, %v", again, created, err)
	}
}

func TestKeyFileRefusesLooseMode(t *testing.T) {
	f := KeyFile{Path: filepath.Join(t.TempDir(), "secrets.key")}
	k := mustGenerate(t)
	if err := WriteKeyFile(f.Path, k); err != nil {
		t.Fatal(err)
	}
	os.Chmod(f.Path, 0o644)
	if _, _, _, err := f.Open(k.Recipient()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open of a world-readable key = %v, want a chmod hint", err)
	}
}

// A store that expects a key never gets a fresh one: a lost key file is
// an error that says how to recover.
func TestKeyFileMissingIsAnError(t *testing.T) {
	f := KeyFile{Path: filepath.Join(t.TempDir(), "secrets.key")}
	_, _, _, err := f.Open("age1somethingrecorded")
	if err == nil || !strings.Contains(err.Error(), "restore the key file") {
		t.Fatalf("Open = %v", err)
	}
	if _, err := os.Stat(f.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Open created a key file although the store expects another key")
	}
}

// Every point where a rotation can stop leaves a state Open repairs.
func TestKeyFileRotationRecovery(t *testing.T) {
	cur, next := mustGenerate(t), mustGenerate(t)
	tests := []struct {
		name     string
		steps    func(f KeyFile) error
		recorded *Key // what the store records afterwards
		fixed    bool
	}{
		{"crash after begin, before commit", func(f KeyFile) error { return f.BeginRotation(cur, next) }, cur, false},
		{"crash after the store committed", func(f KeyFile) error { return f.BeginRotation(cur, next) }, next, true},
		{"aborted", func(f KeyFile) error {
			return errors.Join(f.BeginRotation(cur, next), f.AbortRotation())
		}, cur, false},
		{"committed", func(f KeyFile) error {
			return errors.Join(f.BeginRotation(cur, next), f.CommitRotation())
		}, next, false},
		{"key file replaced but old key still recorded", func(f KeyFile) error {
			if err := f.BeginRotation(cur, next); err != nil {
				return err
			}
			return os.Rename(f.newPath(), f.Path)
		}, cur, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := KeyFile{Path: filepath.Join(t.TempDir(), "secrets.key")}
			if err := WriteKeyFile(f.Path, cur); err != nil {
				t.Fatal(err)
			}
			if err := tt.steps(f); err != nil {
				t.Fatal(err)
			}
			k, fixed, _, err := f.Open(tt.recorded.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			if k.Recipient() != tt.recorded.Recipient() {
				t.Errorf("Open found key %s, want %s", k.Recipient(), tt.recorded.Recipient())
			}
			if (fixed != "") != tt.fixed {
				t.Errorf("fixed = %q, want a repair: %v", fixed, tt.fixed)
			}
			onDisk, err := ReadKeyFile(f.Path)
			if err != nil || onDisk.Recipient() != tt.recorded.Recipient() {
				t.Errorf("key file after Open holds %v, %v", onDisk, err)
			}
			for _, p := range []string{f.newPath(), f.oldPath()} {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s left behind", filepath.Base(p))
				}
			}
		})
	}
}
