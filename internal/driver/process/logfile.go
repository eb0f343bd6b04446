package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// maxLineOverrun is how far past its size limit a log file may grow to keep
// one line whole. A longer line is split across files.
const maxLineOverrun = 64 << 10

// rotatingFile is an append-only log file that rotates by size: when a
// write would take it past maxBytes, path is renamed to path.1 (path.1 to
// path.2, and so on; path.keep is dropped) and a new path is started.
// Rotation happens at line boundaries so that each line stays whole in one
// file, unless a single line is longer than maxBytes + maxLineOverrun.
// It is not safe for concurrent use.
type rotatingFile struct {
	path     string
	maxBytes int64
	keep     int

	f           *os.File
	size        int64
	atLineStart bool // the file is empty or ends with a newline
}

func openRotating(path string, maxBytes int64, keep int) (*rotatingFile, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("open log %s: size limit %d must be positive", path, maxBytes)
	}
	r := &rotatingFile{path: path, maxBytes: maxBytes, keep: max(keep, 0)}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	r.f, r.size, r.atLineStart = f, fi.Size(), true
	if r.size > 0 {
		last := make([]byte, 1)
		if rf, err := os.Open(r.path); err == nil {
			if _, err := rf.ReadAt(last, r.size-1); err == nil {
				r.atLineStart = last[0] == '\n'
			}
			rf.Close()
		}
	}
	return nil
}

// Write appends p, rotating first where needed. It always returns
// len(p) unless writing to the file fails.
func (r *rotatingFile) Write(p []byte) (int, error) {
	n := len(p)
	if r.f == nil {
		// A failed rotation left no file open; try again.
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	for len(p) > 0 {
		if r.size+int64(len(p)) <= r.maxBytes {
			return n, r.write(p)
		}
		// p does not fit: write what ends a line and fits, then rotate.
		cut := 0
		if room := r.maxBytes - r.size; room > 0 {
			cut = bytes.LastIndexByte(p[:room], '\n') + 1
		}
		if cut == 0 && (!r.atLineStart || r.size == 0) {
			// Finish the current line (or write a first line longer than
			// the limit) before rotating.
			cut = bytes.IndexByte(p, '\n') + 1
			if cut == 0 {
				room := r.maxBytes + maxLineOverrun - r.size
				if int64(len(p)) <= room {
					return n, r.write(p)
				}
				// No end in sight: split the line.
				cut = int(max(room, 0))
			}
		}
		if err := r.write(p[:cut]); err != nil {
			return n - len(p), err
		}
		p = p[cut:]
		if err := r.rotate(); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

func (r *rotatingFile) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	k, err := r.f.Write(p)
	r.size += int64(k)
	if k > 0 {
		r.atLineStart = p[k-1] == '\n'
	}
	if err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// rotate shifts path to path.1 and so on and starts a new path.
func (r *rotatingFile) rotate() error {
	if r.size == 0 {
		return nil
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	var err error
	if r.keep == 0 {
		err = os.Remove(r.path)
	} else {
		for i := r.keep - 1; i >= 1; i-- {
			if e := os.Rename(rotatedName(r.path, i), rotatedName(r.path, i+1)); e != nil && !errors.Is(e, fs.ErrNotExist) {
				err = e
			}
		}
		if e := os.Rename(r.path, rotatedName(r.path, 1)); e != nil {
			err = e
		}
	}
	r.f = nil
	if oerr := r.open(); oerr != nil {
		return oerr
	}
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	return nil
}

// Close closes the current file.
func (r *rotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}

// rotatedName is the name of the i-th most recent rotated file of path.
func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}
