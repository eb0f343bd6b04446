package process

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTailStart(t *testing.T) {
	tests := []struct {
		content   string
		n         int
		wantStart int64
		wantLines int
	}{
		{"", 3, 0, 0},
		{"a\nb\nc\n", 0, 0, 0},
		{"a\nb\nc\n", 1, 4, 1},
		{"a\nb\nc\n", 2, 2, 2},
		{"a\nb\nc\n", 3, 0, 3},
		{"a\nb\nc\n", 5, 0, 3},
		{"a\nb\nc", 1, 4, 1},   // a last line without newline counts
		{"a\nb\nc", 2, 2, 2},   //
		{"\n\n", 1, 1, 1},      // empty lines count
		{"only", 2, 0, 1},      //
		{"x\n", 1, 0, 1},       //
		{"a\n\nb\n", 2, 2, 2},  //
		{"a\n\nb\n", 3, 0, 3},  //
		{"abc\n", 10, 0, 1},    //
		{"ab\ncd\n", 1, 3, 1},  //
		{"ab\ncd\n", 2, 0, 2},  //
		{"ab\ncd\n", -1, 0, 0}, // n <= 0: everything
	}
	for _, tt := range tests {
		start, lines, err := tailStart(strings.NewReader(tt.content), int64(len(tt.content)), tt.n)
		if err != nil || start != tt.wantStart || lines != tt.wantLines {
			t.Errorf("tailStart(%q, %d) = %d, %d, %v; want %d, %d", tt.content, tt.n, start, lines, err, tt.wantStart, tt.wantLines)
		}
	}
}

func TestTailStartLongFile(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	s := b.String()
	start, lines, err := tailStart(strings.NewReader(s), int64(len(s)), 3)
	if err != nil || lines != 3 || s[start:] != "line 19997\nline 19998\nline 19999\n" {
		t.Errorf("tailStart = %d, %d, %v: %q", start, lines, err, s[start:])
	}
}

// writeRotated writes lines "line 0" to "line n-1" through a rotatingFile.
func writeRotated(t *testing.T, path string, maxBytes int64, keep, n int) {
	t.Helper()
	r, err := openRotating(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range n {
		fmt.Fprintf(r, "line %d\n", i)
	}
}

func lines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestReadLogsTailAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	writeRotated(t, path, 21, 3, 20)
	files := readLogFiles(t, path)
	if len(files) != 4 {
		t.Fatalf("%d files, want 4", len(files))
	}
	kept := strings.SplitAfter(strings.Join(files, ""), "\n")
	kept = kept[:len(kept)-1] // after the last newline
	if kept[len(kept)-1] != "line 19\n" || len(kept) > 12 {
		t.Fatalf("unexpected log files %q", files)
	}
	last := func(n int) string { return strings.Join(kept[max(len(kept)-n, 0):], "") }
	for _, tail := range []int{1, 2, 3, 4, 5, 8, len(kept), 100, 0} {
		want := last(tail)
		if tail == 0 {
			want = last(len(kept))
		}
		var buf bytes.Buffer
		if err := readLogs(context.Background(), path, tail, false, time.Millisecond, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("tail %d = %q, want %q", tail, buf.String(), want)
		}
	}
}

func TestReadLogsMissing(t *testing.T) {
	var buf bytes.Buffer
	path := filepath.Join(t.TempDir(), "current.log")
	if err := readLogs(context.Background(), path, 10, false, time.Millisecond, &buf); err != nil || buf.Len() != 0 {
		t.Errorf("readLogs of a missing log = %q, %v; want empty, nil", buf.String(), err)
	}
}

// The follower, checking between writes, sees every line once and in
// order, however many rotations happened in between (up to keep).
func TestFollowerAcrossRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	r, err := openRotating(path, 21, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	f := &follower{path: path, w: &buf}
	defer f.close()
	next := 0
	write := func(n int) {
		for range n {
			fmt.Fprintf(r, "line %d\n", next)
			next++
		}
	}
	step := func() {
		if err := f.check(); err != nil {
			t.Fatal(err)
		}
		if err := f.copy(); err != nil {
			t.Fatal(err)
		}
	}
	step()
	for _, n := range []int{1, 2, 1, 4, 9, 0, 3, 12} {
		write(n)
		step()
		if want := lines(0, next); buf.String() != want {
			t.Fatalf("after %d lines followed %q, want %q", next, buf.String(), want)
		}
	}
}

func TestFollowStartsBeforeTheLogExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf syncBuffer
	done := make(chan error, 1)
	go func() { done <- readLogs(ctx, path, 0, true, time.Millisecond, &buf) }()
	writeRotated(t, path, 1000, 1, 3)
	deadline := time.Now().Add(5 * time.Second)
	for buf.String() != lines(0, 3) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("readLogs: %v", err)
	}
	if buf.String() != lines(0, 3) {
		t.Errorf("followed %q, want %q", buf.String(), lines(0, 3))
	}
}

func TestFollowRewindsAfterTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	if err := os.WriteFile(path, []byte("old old old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cur, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{path: path, cur: cur, off: 12, w: &buf}
	defer f.close()
	if err := os.WriteFile(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	if err := f.copy(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "new\n" {
		t.Errorf("followed %q after truncation, want %q", buf.String(), "new\n")
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
