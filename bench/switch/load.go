package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
)

// traffic is continuous closed-loop load that records, for every
// response, when it completed and which version answered, so that switches
// can be timed afterwards (see analyzeSwitches).
type traffic struct {
	base     time.Time
	classify func(body []byte) uint8
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	seen    [8]atomic.Int64 // responses by tag
	sent    atomic.Int64
	failed  atomic.Int64
	retries atomic.Int64

	mu       sync.Mutex
	events   []event
	firstErr []string
	stalls   []stall // of the load generator itself
}

// stall is a time the load generator itself was not running: a 1 ms sleep
// that overslept by more than stallMin. Outliers that coincide with one
// are the machine's, not the proxy's.
type stall struct{ at, length time.Duration }

const stallMin = 50 * time.Millisecond

// startTraffic starts concurrency clients against addr; classify maps a
// response body to a tag (1..7; 0 for unknown). Stop it with stop.
func startTraffic(ctx context.Context, addr, host string, concurrency int, classify func([]byte) uint8) *traffic {
	ctx, cancel := context.WithCancel(ctx)
	t := &traffic{base: time.Now(), classify: classify, cancel: cancel}
	for range concurrency {
		t.wg.Go(func() { t.worker(ctx, addr, host) })
	}
	t.wg.Go(func() { t.watchStalls(ctx) })
	return t
}

func (t *traffic) watchStalls(ctx context.Context) {
	for ctx.Err() == nil {
		start := t.now()
		time.Sleep(time.Millisecond)
		if over := t.now() - start - time.Millisecond; over > stallMin {
			t.mu.Lock()
			t.stalls = append(t.stalls, stall{at: start, length: over})
			t.mu.Unlock()
		}
	}
}

// longestStall returns the load generator's longest stall, if any.
func (t *traffic) longestStall() (s stall, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, x := range t.stalls {
		if x.length > s.length {
			s = x
		}
	}
	return s, len(t.stalls)
}

// now is the time since the traffic started, the clock of its events.
func (t *traffic) now() time.Duration { return time.Since(t.base) }

func (t *traffic) worker(ctx context.Context, addr, host string) {
	c := loadgen.NewClient(addr, host)
	defer c.Close()
	evs := make([]event, 0, 1<<16)
	for ctx.Err() == nil {
		start := time.Since(t.base)
		status, body, retried, err := c.Get()
		at := time.Since(t.base)
		t.sent.Add(1)
		if retried {
			t.retries.Add(1)
		}
		if err == nil && status != 200 {
			err = fmt.Errorf("status %d: %.100q", status, body)
		}
		if err != nil {
			if ctx.Err() != nil {
				break // stopping; not the server's fault
			}
			t.failed.Add(1)
			t.mu.Lock()
			if len(t.firstErr) < 5 {
				t.firstErr = append(t.firstErr, fmt.Sprintf("at %s: %v", at.Round(time.Millisecond), err))
			}
			t.mu.Unlock()
			time.Sleep(time.Millisecond) // no hot loop against a dead address
			continue
		}
		tag := t.classify(body)
		t.seen[tag&7].Add(1)
		evs = append(evs, event{at: at, lat: at - start, tag: tag})
	}
	t.mu.Lock()
	t.events = append(t.events, evs...)
	t.mu.Unlock()
}

// stop ends the traffic, waits for its clients and returns every response
// in order of completion.
func (t *traffic) stop() []event {
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.SortFunc(t.events, func(a, b event) int { return int(a.at - b.at) })
	return t.events
}

// waitSeen waits until at least n more responses tagged tag than before
// have arrived, or timeout.
func (t *traffic) waitSeen(ctx context.Context, tag uint8, before int64, n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for t.seen[tag].Load()-before < n {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}
