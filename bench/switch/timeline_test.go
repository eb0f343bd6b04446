package main

import (
	"testing"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/results"
)

func TestAnalyzeSwitches(t *testing.T) {
	ms := time.Millisecond
	ev := func(at time.Duration, tag uint8) event { return event{at: at * ms, tag: tag} }
	tests := []struct {
		name   string
		events []event
		marks  []switchMark
		end    time.Duration
		want   []switchTiming
	}{{
		name:   "clean switch",
		events: []event{ev(1, 1), ev(11, 1), ev(12, 2), ev(13, 2), ev(14, 2)},
		marks:  []switchMark{{at: 10 * ms, target: 2}},
		end:    20 * ms,
		want:   []switchTiming{{firstNew: 2 * ms, allNew: 2 * ms, settled: true, oldAfter: 1}},
	}, {
		name:   "old version answers after the new one",
		events: []event{ev(11, 2), ev(12, 1), ev(13, 2), ev(14, 2), ev(15, 2)},
		marks:  []switchMark{{at: 10 * ms, target: 2}},
		end:    20 * ms,
		want:   []switchTiming{{firstNew: 1 * ms, allNew: 3 * ms, settled: true, oldAfter: 1}},
	}, {
		name:   "too few responses after the last old one",
		events: []event{ev(11, 1), ev(12, 1), ev(13, 2), ev(14, 2)},
		marks:  []switchMark{{at: 10 * ms, target: 2}},
		end:    20 * ms,
		want:   []switchTiming{{firstNew: 3 * ms, allNew: 3 * ms, settled: false, oldAfter: 2}},
	}, {
		name:   "never switched",
		events: []event{ev(11, 1), ev(12, 1)},
		marks:  []switchMark{{at: 10 * ms, target: 2}},
		end:    20 * ms,
		want:   []switchTiming{{firstNew: results.Never, allNew: results.Never, oldAfter: 2}},
	}, {
		name:   "windows end at the next switch",
		events: []event{ev(11, 2), ev(12, 2), ev(13, 2), ev(21, 2), ev(22, 1), ev(23, 1), ev(24, 1)},
		marks:  []switchMark{{at: 10 * ms, target: 2}, {at: 20 * ms, target: 1}},
		end:    30 * ms,
		want: []switchTiming{
			{firstNew: 1 * ms, allNew: 1 * ms, settled: true},
			{firstNew: 2 * ms, allNew: 2 * ms, settled: true, oldAfter: 1},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := analyzeSwitches(tt.events, tt.marks, tt.end, 3)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d timings, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("switch %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDisturbed(t *testing.T) {
	ms := time.Millisecond
	marks := []switchMark{{at: 10 * ms, target: 2}, {at: 20 * ms, target: 1}, {at: 30 * ms, target: 2}}
	timings := []switchTiming{{allNew: 2 * ms}, {allNew: results.Never}, {allNew: 1 * ms}}
	stalls := []stall{{at: 13 * ms, length: ms}, {at: 25 * ms, length: ms}, {at: 29 * ms, length: 2 * ms}}
	// Switch 1 is done at 12ms, before the first stall; switch 2 never
	// settles, so its window runs to 30ms and holds two stalls; switch 3
	// overlaps the stall that runs from 29 to 31ms.
	if got := disturbed(marks, timings, stalls, 40*ms); got != 2 {
		t.Errorf("disturbed = %d, want 2", got)
	}
}
