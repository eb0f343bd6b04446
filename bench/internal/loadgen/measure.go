package loadgen

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Window is the outcome of a measured load run.
type Window struct {
	Requests, Errors, Retries int
	RPS                       float64
	P50, P99                  time.Duration
	FirstErr                  string
}

// Measure runs concurrency closed-loop keep-alive clients against addr for
// warmup, then for duration recording every latency. mark, if set, is
// called as the measured part starts and as it ends (to read CPU
// counters). It returns early, with what it has, if ctx ends.
func Measure(ctx context.Context, addr, host string, concurrency int, warmup, duration time.Duration, mark func(start bool)) Window {
	var (
		mu       sync.Mutex
		all      []time.Duration
		w        Window
		wg       sync.WaitGroup
		measured = time.Now().Add(warmup)
		end      = measured.Add(duration)
	)
	for range concurrency {
		wg.Go(func() {
			c := NewClient(addr, host)
			defer c.Close()
			lat := make([]time.Duration, 0, 1<<15)
			var errs, retries int
			var firstErr string
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(end) {
					break
				}
				status, _, retried, err := c.Get()
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
			w.Errors += errs
			w.Retries += retries
			if w.FirstErr == "" {
				w.FirstErr = firstErr
			}
			mu.Unlock()
		})
	}
	if mark != nil {
		SleepUntil(ctx, measured)
		mark(true)
		SleepUntil(ctx, end)
		mark(false)
	}
	wg.Wait()
	slices.Sort(all)
	w.Requests = len(all)
	w.RPS = float64(len(all)) / duration.Seconds()
	w.P50, w.P99 = Percentile(all, 50), Percentile(all, 99)
	return w
}

// SleepUntil sleeps until t or until ctx ends.
func SleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// Percentile of sorted durations; 0 for none.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
