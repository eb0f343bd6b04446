package process

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readLogFiles returns the contents of path's rotated files, oldest first,
// then of path.
func readLogFiles(t *testing.T, path string) []string {
	t.Helper()
	var got []string
	for _, name := range append(rotatedFiles(path), path) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	return got
}

func TestRotatingFile(t *testing.T) {
	long := strings.Repeat("y", 30)
	tests := []struct {
		name   string
		max    int64
		keep   int
		writes []string
		want   []string // oldest first
	}{
		{
			name:   "fits",
			max:    20,
			keep:   2,
			writes: []string{"a\n", "b\n"},
			want:   []string{"a\nb\n"},
		},
		{
			name:   "rotates at a line boundary inside a write",
			max:    10,
			keep:   2,
			writes: []string{"1111\n2222\n3333\n"},
			want:   []string{"1111\n2222\n", "3333\n"},
		},
		{
			name:   "keeps only keep rotated files",
			max:    5,
			keep:   2,
			writes: []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n"},
			want:   []string{"bbbb\n", "cccc\n", "dddd\n"},
		},
		{
			name:   "finishes a line split across writes before rotating",
			max:    10,
			keep:   3,
			writes: []string{"123456", "789", "abc\nxy\n"},
			want:   []string{"123456789abc\n", "xy\n"},
		},
		{
			name:   "a line longer than the limit stays whole",
			max:    10,
			keep:   3,
			writes: []string{"ab\n", long + "\n", "cd\n"},
			want:   []string{"ab\n", long + "\n", "cd\n"},
		},
		{
			name:   "keep zero drops old output",
			max:    5,
			keep:   0,
			writes: []string{"aaaa\n", "bbbb\n"},
			want:   []string{"bbbb\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "current.log")
			r, err := openRotating(path, tt.max, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.writes {
				if n, err := r.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readLogFiles(t, path); !slices.Equal(got, tt.want) {
				t.Errorf("files = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRotatingFileSplitsEndlessLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	r, err := openRotating(path, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	chunk := []byte(strings.Repeat("z", 16<<10))
	for range 6 { // 96 KiB without a newline
		if _, err := r.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	for _, content := range readLogFiles(t, path) {
		if len(content) > 10+maxLineOverrun {
			t.Errorf("a file has %d bytes, more than the limit plus %d", len(content), maxLineOverrun)
		}
	}
}

func TestRotatingFileReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "current.log")
	if err := os.WriteFile(path, []byte("12345678\npartial"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := openRotating(path, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The file ends mid-line: the rest of that line stays with it.
	if _, err := r.Write([]byte(" line\nnext line\n")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	want := []string{"12345678\npartial line\n", "next line\n"}
	if got := readLogFiles(t, path); !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
}
