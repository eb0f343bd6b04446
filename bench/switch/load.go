package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// window is the outcome of a measured load run.
type window struct {
	requests, errors, retries int
	rps                       float64
	p50, p99                  time.Duration
	firstErr                  string
}

// measure runs concurrency closed-loop keep-alive clients against addr for
// warmup, then for duration recording every latency. mark, if set, is
// called as the measured part starts and as it ends (to read CPU
// counters). It returns early, with what it has, if ctx ends.
func measure(ctx context.Context, addr, host string, concurrency int, warmup, duration time.Duration, mark func(start bool)) window {
	var (
		mu       sync.Mutex
		all      []time.Duration
		w        window
		wg       sync.WaitGroup
		measured = time.Now().Add(warmup)
		end      = measured.Add(duration)
	)
	for range concurrency {
		wg.Go(func() {
			c := newClient(addr, host)
			defer c.close()
			lat := make([]time.Duration, 0, 1<<15)
			var errs, retries int
			var firstErr string
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(end) {
					break
				}
				status, _, retried, err := c.get()
				if err == nil && status != 200 {
					err = fmt.Errorf("status %d", status)
				}
				if start.Before(measured) {
					continue
				}
				if retried {
					retries++
				}
				if err != nil {
					if firstErr == "" {
						firstErr = err.Error()
					}
					errs++
					continue
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			all = append(all, lat...)
			w.errors += errs
			w.retries += retries
			if w.firstErr == "" {
				w.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	if mark != nil {
		sleepUntil(ctx, measured)
		mark(true)
		sleepUntil(ctx, end)
		mark(false)
	}
	wg.Wait()
	slices.Sort(all)
	w.requests = len(all)
	w.rps = float64(len(all)) / duration.Seconds()
	w.p50, w.p99 = percentile(all, 50), percentile(all, 99)
	return w
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// percentile of sorted durations; 0 for none.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

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
	c := newClient(addr, host)
	defer c.close()
	evs := make([]event, 0, 1<<16)
	for ctx.Err() == nil {
		start := time.Since(t.base)
		status, body, retried, err := c.get()
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
