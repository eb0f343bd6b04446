// Package results describes where and how a benchmark ran and formats its
// figures as Markdown, the way bench/RESULTS.md shows them.
package results

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine describes the machine and the moment, for the results.
func Machine() []string {
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return []string{
		"date: " + time.Now().Format("2006-01-02 15:04 MST"),
		fmt.Sprintf("machine: %d CPUs (nproc), %s, Linux %s, %s/%s", runtime.NumCPU(), model,
			strings.TrimSpace(string(kernel)), runtime.GOOS, runtime.GOARCH),
		"load average at start (1, 5, 15 min): " + LoadAverage(),
	}
}

// LoadAverage is the 1, 5 and 15 minute load averages, as /proc/loadavg
// gives them ("unknown" if it cannot be read).
func LoadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Table prints rows as a Markdown table with aligned columns; the first
// row is the header.
func Table(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", widths[i]-len([]rune(c))))
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	sep := make([]string, len(widths))
	for i, n := range widths {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, r := range rows[1:] {
		line(r)
	}
}

// Dur prints a duration in µs below 10 ms, in ms below 10 s, else
// rounded to the millisecond.
func Dur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Dur(-d)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// TrimUnit drops the unit of a formatted duration (for ranges).
func TrimUnit(s string) string {
	v, _, _ := strings.Cut(s, " ")
	return v
}

// Delta prints a signed difference.
func Delta(d time.Duration) string {
	if d < 0 {
		return Dur(d)
	}
	return "+" + Dur(d)
}

// MiB prints KiB as MiB.
func MiB(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// Never stands for an event that did not happen.
const Never = time.Duration(math.MinInt64)

// Stats are the p50 and max of some durations (Never ones are left out
// and counted).
type Stats struct {
	N, Missing int
	P50, Max   time.Duration
}

// StatsOf computes the Stats of ds.
func StatsOf(ds []time.Duration) Stats {
	var ok []time.Duration
	s := Stats{}
	for _, d := range ds {
		if d == Never {
			s.Missing++
			continue
		}
		ok = append(ok, d)
	}
	slices.Sort(ok)
	s.N = len(ok)
	if len(ok) > 0 {
		s.P50 = ok[(len(ok)-1)/2]
		s.Max = ok[len(ok)-1]
	}
	return s
}
