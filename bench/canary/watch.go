package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// checkNames are the analysis checks of canaryRollout, as the judge names
// them in its verdicts.
var checkNames = []string{"min-requests", "error-rate", "error-rate-increase", "latency-p50-vs-stable", "latency-p99-vs-stable"}

// checkWatch follows an app's running rollouts through the API, every
// period, and records for each rollout and each analysis check the last
// time the rollout's message said the analysis was still waiting for that
// check: when the analysis passes, that is within a period of the moment
// the check passed.
type checkWatch struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	last  map[int64]map[string]time.Time // rollout → check → last seen waiting
}

func watchChecks(ctx context.Context, c *api.Client, app string, every time.Duration) *checkWatch {
	w := &checkWatch{stopc: make(chan struct{}), last: map[int64]map[string]time.Time{}}
	w.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.stopc:
				return
			case <-t.C:
			}
			st, err := c.RolloutStatus(ctx, app, env)
			if err != nil || st.Rollout.State != store.RolloutRunning {
				continue
			}
			now := time.Now()
			waiting := waitingChecks(st.Rollout.Message)
			if len(waiting) == 0 {
				continue
			}
			w.mu.Lock()
			m := w.last[st.Rollout.ID]
			if m == nil {
				m = map[string]time.Time{}
				w.last[st.Rollout.ID] = m
			}
			for _, name := range waiting {
				m[name] = now
			}
			w.mu.Unlock()
		}
	})
	return w
}

// stop ends the watch and waits for it.
func (w *checkWatch) stop() {
	close(w.stopc)
	w.wg.Wait()
}

// lastWaiting returns, for rollout id, the last time each check was seen
// waiting (checks never seen waiting are absent).
func (w *checkWatch) lastWaiting(id int64) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[id]
}

// waitingChecks returns the checks a rollout message says the analysis
// waits for. The executor writes "...; analysis: wait: waiting for NAME:
// DETAIL; NAME: DETAIL"; the names are checkNames.
func waitingChecks(msg string) []string {
	_, list, ok := strings.Cut(msg, "analysis: wait: waiting for ")
	if !ok {
		return nil
	}
	list = "; " + list
	var out []string
	for _, name := range checkNames {
		if strings.Contains(list, "; "+name+": ") {
			out = append(out, name)
		}
	}
	return out
}
