package main

import (
	"testing"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
)

func TestMedianRow(t *testing.T) {
	row := func(rps float64, cpu time.Duration, errs int) overheadRow {
		return overheadRow{target: "x", concurrency: 16, proxyCPU: cpu, w: loadgen.Window{RPS: rps, Errors: errs, Requests: 10}}
	}
	got := medianRow([]overheadRow{row(300, 30, 1), row(100, 10, 0), row(200, 50, 2)})
	if got.w.RPS != 200 || got.proxyCPU != 30 || got.proxyCPUMin != 10 || got.proxyCPUMax != 50 ||
		got.w.Errors != 3 || got.w.Requests != 30 || got.rounds != 3 {
		t.Errorf("got %+v", got)
	}
}
