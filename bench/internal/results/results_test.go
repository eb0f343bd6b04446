package results

import (
	"bytes"
	"testing"
	"time"
)

func TestStatsOf(t *testing.T) {
	s := StatsOf([]time.Duration{5, Never, 1, 3, 2})
	if s.N != 4 || s.Missing != 1 || s.P50 != 2 || s.Max != 5 {
		t.Errorf("got %+v", s)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	Table(&b, [][]string{{"a", "µs"}, {"long", "1"}})
	want := "| a    | µs |\n| ---- | -- |\n| long | 1  |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Nanosecond:   "1.5 µs",
		12 * time.Millisecond:    "12.0 ms",
		-2 * time.Millisecond:    "-2000.0 µs",
		12345 * time.Millisecond: "12.345s",
	} {
		if got := Dur(d); got != want {
			t.Errorf("Dur(%v) = %q, want %q", d, got, want)
		}
	}
}
