package main

import (
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	text := "Name:\tslipway\nVmPeak:\t 1300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n"
	m, err := parseStatus(text)
	if err != nil || m.RSS != 40960 || m.HWM != 51234 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t12 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n", "VmHWM:\t1 MB\nVmRSS:\t1 kB\n"} {
		if _, err := parseStatus(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseCPUBusy(t *testing.T) {
	//          user nice system idle iowait irq softirq steal guest guest_nice
	text := "cpu  100 2 30 5000 40 5 6 7 0 0\ncpu0 50 1 15 2500 20 2 3 3 0 0\n"
	d, err := parseCPUBusy(text)
	if want := 150 * 10 * time.Millisecond; err != nil || d != want {
		t.Fatalf("busy %s (%v), want %s", d, err, want)
	}
	if _, err := parseCPUBusy("intr 1 2 3\n"); err == nil {
		t.Error("no error for a missing cpu line")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 51}, {99, 100}, {100, 100}, {0, 1}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
