package rollout

import (
	"testing"

	"github.com/slipway-dev/slipway/internal/analysis"

	"github.com/slipway-dev/slipway/internal/store"
)

func TestNextBatch(t *testing.T) {
	tests := []struct {
		name                                             string
		oldReady, newReady, replicas, surge, unavailable int
		want                                             Batch
	}{
		{"first batch, surge 1", 3, 0, 3, 1, 0, Batch{Start: 1, Stop: 1}},
		{"middle batch", 2, 1, 3, 1, 0, Batch{Start: 1, Stop: 1}},
		{"last batch retires the rest", 1, 2, 3, 1, 0, Batch{Start: 1, Stop: 1}},
		{"done", 0, 3, 3, 1, 0, Batch{}},
		{"surge 2", 4, 0, 4, 2, 0, Batch{Start: 2, Stop: 2}},
		{"surge above replicas is capped", 2, 0, 2, 5, 0, Batch{Start: 2, Stop: 2}},
		{"max unavailable lets more old go", 3, 0, 3, 1, 1, Batch{Start: 1, Stop: 2}},
		{"after an unavailable batch", 1, 1, 3, 1, 1, Batch{Start: 2, Stop: 1}},
		{"unavailable is capped below replicas", 2, 0, 2, 1, 2, Batch{Start: 1, Stop: 2}},
		{"one replica", 1, 0, 1, 1, 0, Batch{Start: 1, Stop: 1}},
		{"resumed with extra old instances", 2, 3, 3, 1, 0, Batch{Start: 0, Stop: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextBatch(tt.oldReady, tt.newReady, tt.replicas, tt.surge, tt.unavailable)
			if got != tt.want {
				t.Fatalf("NextBatch(%d,%d,%d,%d,%d) = %+v, want %+v", tt.oldReady, tt.newReady, tt.replicas, tt.surge, tt.unavailable, got, tt.want)
			}
			// The invariants the batch must keep.
			total := tt.oldReady + tt.newReady + got.Start
			if total > max(tt.replicas+min(tt.surge, tt.replicas), tt.oldReady+tt.newReady) {
				t.Errorf("%d instances at once exceeds replicas+surge", total)
			}
			if after := total - got.Stop; after < tt.replicas-min(tt.unavailable, tt.replicas-1) {
				t.Errorf("only %d ready after the batch, below replicas-unavailable", after)
			}
		})
	}
	// Driving the planner to the end always converges to the new release.
	for replicas := 1; replicas <= 6; replicas++ {
		for surge := 1; surge <= 3; surge++ {
			for unavailable := 0; unavailable < replicas; unavailable++ {
				old, new := replicas, 0
				for steps := 0; ; steps++ {
					b := NextBatch(old, new, replicas, surge, unavailable)
					if b == (Batch{}) {
						break
					}
					if steps > 3*replicas {
						t.Fatalf("replicas %d surge %d unavailable %d: no convergence", replicas, surge, unavailable)
					}
					new += b.Start
					old -= b.Stop
					if old+new < replicas-unavailable {
						t.Fatalf("replicas %d surge %d unavailable %d: capacity fell to %d", replicas, surge, unavailable, old+new)
					}
				}
				if old != 0 || new != replicas {
					t.Fatalf("replicas %d surge %d unavailable %d: ended with old %d new %d", replicas, surge, unavailable, old, new)
				}
			}
		}
	}
}

func TestRecoveryAction(t *testing.T) {
	tests := []struct{ strategy, phase, want string }{
		{"blue-green", store.PhaseStarting, RecoverFail},
		{"blue-green", store.PhaseProgress, RecoverFail}, // waiting at a preview: never switched
		{"blue-green", store.PhaseSwitched, RecoverFinish},
		{"canary", store.PhaseStarting, RecoverFail},
		{"canary", store.PhaseProgress, RecoverAbort},
		{"canary", store.PhaseSwitched, RecoverFinish},
		{"rolling", store.PhaseStarting, RecoverFail},
		{"rolling", store.PhaseProgress, RecoverResume},
		{"rolling", store.PhaseSwitched, RecoverFinish},
		{"flip", store.PhaseStarting, RecoverFail},
		{"flip", store.PhaseSwitched, RecoverFinish},
		{"blue-green", store.PhaseReverting, RecoverFail}, // smoke failed: stop the new instances, fail
	}
	for _, tt := range tests {
		if got := RecoveryAction(tt.strategy, tt.phase); got != tt.want {
			t.Errorf("RecoveryAction(%s, %s) = %s, want %s", tt.strategy, tt.phase, got, tt.want)
		}
	}
}

func TestJudgedEnough(t *testing.T) {
	wait := analysis.CheckResult{Name: "latency-p99-vs-stable", Verdict: analysis.Wait}
	pass := analysis.CheckResult{Name: "error-rate", Verdict: analysis.Pass}
	tests := []struct {
		name string
		d    *analysis.Decision
		want bool
	}{
		{"no decision yet", nil, false},
		{"inconclusive with enough traffic", &analysis.Decision{Verdict: analysis.Wait, Checks: []analysis.CheckResult{pass, wait}}, true},
		{"not enough traffic", &analysis.Decision{Verdict: analysis.Wait, Checks: []analysis.CheckResult{{Name: analysis.CheckMinRequests, Verdict: analysis.Wait}}}, false},
		{"a failing check", &analysis.Decision{Verdict: analysis.Fail, Checks: []analysis.CheckResult{{Name: "error-rate", Verdict: analysis.Fail}}}, false},
	}
	for _, tt := range tests {
		if got := judgedEnough(tt.d); got != tt.want {
			t.Errorf("%s: judgedEnough = %v, want %v", tt.name, got, tt.want)
		}
	}
}
