package process

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want procStat
		ok   bool
	}{
		{
			name: "plain",
			in:   "1234 (sh) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 2637824 200 18446744073709551615",
			want: procStat{State: 'S', PPID: 1, PGRP: 1234, StartTicks: 98765},
			ok:   true,
		},
		{
			name: "name with spaces and parens",
			in:   "42 (a) b (c)) Z 7 40 40 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0",
			want: procStat{State: 'Z', PPID: 7, PGRP: 40, StartTicks: 5},
			ok:   true,
		},
		{name: "no paren", in: "42 sh S 1 2 3", ok: false},
		{name: "too short", in: "42 (sh) S 1 2 3", ok: false},
		{name: "bad number", in: "1 (x) S a 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (sh) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 2637824"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b) // must not panic
	})
}

func TestSelfStat(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !st.live() || st.PPID != os.Getppid() || st.StartTicks == 0 {
		t.Errorf("own stat = %+v", st)
	}
	if !sameProcess(os.Getpid(), st.StartTicks) {
		t.Error("sameProcess(self) = false")
	}
	if sameProcess(os.Getpid(), st.StartTicks+1) {
		t.Error("sameProcess with another start time = true")
	}
}
