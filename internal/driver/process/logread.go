package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// readLogs writes the log at path, preceded by its rotated files, to w: the
// last tail lines (all when tail <= 0), then, if follow, what is appended
// until ctx ends, polling every poll. Following survives rotation: the
// rest of the old file and any files rotated after it are written before
// switching to the new one. A log that does not exist yet reads as empty.
func readLogs(ctx context.Context, path string, tail int, follow bool, poll time.Duration, w io.Writer) error {
	cur, err := os.Open(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f := &follower{path: path, cur: cur, w: w}
	defer f.close()
	var size int64
	if cur != nil {
		fi, err := cur.Stat()
		if err != nil {
			return err
		}
		size = fi.Size()
	}
	if err := writeTail(path, cur, size, tail, w); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	f.off = size
	return f.run(ctx, poll)
}

// writeTail writes the last tail lines of the log whose current file is
// cur (nil if none) of size, reading older lines from rotated files.
func writeTail(path string, cur *os.File, size int64, tail int, w io.Writer) error {
	type segment struct {
		r          io.ReaderAt
		start, end int64
	}
	var segs []segment // newest first
	need := tail
	if cur != nil {
		start, n, err := tailStart(cur, size, tail)
		if err != nil {
			return err
		}
		segs = append(segs, segment{cur, start, size})
		need -= n
	}
	if tail <= 0 || need > 0 {
		for _, name := range slices.Backward(rotatedFiles(path)) {
			f, err := os.Open(name)
			if err != nil {
				continue // rotated away meanwhile
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			start, n, err := tailStart(f, fi.Size(), need)
			if err != nil {
				return err
			}
			segs = append(segs, segment{f, start, fi.Size()})
			need -= n
			if tail > 0 && need <= 0 {
				break
			}
		}
	}
	for _, s := range slices.Backward(segs) {
		if _, err := io.Copy(w, io.NewSectionReader(s.r, s.start, s.end-s.start)); err != nil {
			return err
		}
	}
	return nil
}

// tailStart returns the offset at which the last n lines of the first size
// bytes of r begin, and how many lines that is (fewer than n if r has
// fewer). A final line without a newline counts. n <= 0 means all lines.
func tailStart(r io.ReaderAt, size int64, n int) (start int64, lines int, err error) {
	if size == 0 {
		return 0, 0, nil
	}
	if n <= 0 {
		return 0, 0, nil
	}
	buf := make([]byte, 32<<10)
	end := size
	// A newline ending the last line does not start another one.
	if _, err := r.ReadAt(buf[:1], size-1); err != nil {
		return 0, 0, err
	}
	if buf[0] == '\n' {
		end--
	}
	for end > 0 {
		chunk := min(int64(len(buf)), end)
		b := buf[:chunk]
		if _, err := r.ReadAt(b, end-chunk); err != nil {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] == '\n' {
				lines++
				if lines == n {
					return end - chunk + int64(i) + 1, lines, nil
				}
			}
		}
		end -= chunk
	}
	return 0, lines + 1, nil
}

// rotatedFiles returns the existing rotated files of path, oldest first.
func rotatedFiles(path string) []string {
	matches, _ := filepath.Glob(path + ".*")
	type rotated struct {
		name string
		n    int
	}
	var rs []rotated
	for _, m := range matches {
		n, err := strconv.Atoi(strings.TrimPrefix(m, path+"."))
		if err == nil && n > 0 {
			rs = append(rs, rotated{m, n})
		}
	}
	slices.SortFunc(rs, func(a, b rotated) int { return b.n - a.n })
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.name
	}
	return names
}

// follower copies what is appended to a rotating log.
type follower struct {
	path string
	cur  *os.File // the file being followed, nil until it exists
	off  int64    // how much of cur was copied
	w    io.Writer
}

func (f *follower) run(ctx context.Context, poll time.Duration) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := f.copy(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := f.check(); err != nil {
			return err
		}
	}
}

func (f *follower) close() {
	if f.cur != nil {
		f.cur.Close()
	}
}

// copy writes what cur has beyond off.
func (f *follower) copy() error {
	if f.cur == nil {
		return nil
	}
	n, err := io.Copy(f.w, io.NewSectionReader(f.cur, f.off, 1<<62))
	f.off += n
	return err
}

// check switches to a new file if the log was rotated, or rewinds if it
// was truncated.
func (f *follower) check() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil // not created yet, or between rotation steps
	}
	if f.cur == nil {
		f.cur, err = os.Open(f.path)
		f.off = 0
		return ignoreNotExist(err)
	}
	old, err := f.cur.Stat()
	if err != nil {
		return err
	}
	if os.SameFile(fi, old) {
		if fi.Size() < f.off {
			f.off = 0
		}
		return nil
	}
	// Rotated: finish the old file, then the files rotated after it.
	if err := f.copy(); err != nil {
		return err
	}
	rotated := rotatedFiles(f.path)
	next := 0
	for i, name := range rotated {
		if fi, err := os.Stat(name); err == nil && os.SameFile(fi, old) {
			next = i + 1
		}
	}
	for _, name := range rotated[next:] {
		if err := copyFile(f.w, name); err != nil {
			return err
		}
	}
	f.cur.Close()
	f.cur, f.off = nil, 0
	f.cur, err = os.Open(f.path)
	if err != nil {
		f.cur = nil
		return ignoreNotExist(err)
	}
	return nil
}

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return ignoreNotExist(err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}
