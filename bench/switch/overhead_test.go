package main

import (
	"testing"
	"time"
)

func TestMedianRow(t *testing.T) {
	row := func(rps float64, cpu time.Duration, errs int) overheadRow {
		return overheadRow{target: "x", concurrency: 16, proxyCPU: cpu, w: window{rps: rps, errors: errs, requests: 10}}
	}
	got := medianRow([]overheadRow{row(300, 30, 1), row(100, 10, 0), row(200, 50, 2)})
	if got.w.rps != 200 || got.proxyCPU != 30 || got.proxyCPUMin != 10 || got.proxyCPUMax != 50 ||
		got.w.errors != 3 || got.w.requests != 30 || got.rounds != 3 {
		t.Errorf("got %+v", got)
	}
}
