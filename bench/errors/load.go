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

// window is the outcome of one closed-loop load run.
type window struct {
	clients    int
	gzipped    bool
	start, end time.Time       // first send, last answer
	statuses   map[int]int     // answers by HTTP status; 0 counts requests without an answer
	firstErr   string          // the first answer other than 200, or error
	lat        []time.Duration // every answer's latency, sorted
	wireBytes  int64           // request bytes sent (headers and body)
	eventBytes int64           // event JSON in the requests sent
}

// sent is how many requests went out.
func (w window) sent() int {
	n := 0
	for _, c := range w.statuses {
		n += c
	}
	return n
}

// other counts answers that are neither 200, 429 nor 503, and requests
// without an answer.
func (w window) other() int {
	return w.sent() - w.statuses[200] - w.statuses[429] - w.statuses[503]
}

// rate is the 200 answers per second over the window.
func (w window) rate() float64 {
	d := w.end.Sub(w.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(w.statuses[200]) / d
}

// ids makes event ids unique across a run: a random prefix and a counter.
type ids struct {
	prefix [8]byte
	n      atomic.Uint64
}

// drive runs clients closed-loop keep-alive clients against addr for d,
// each sending reqs in turn (client i sends i, i+clients, ...), event ids
// stamped afresh into uncompressed bodies. It returns early, with what it
// has, if ctx ends.
func drive(ctx context.Context, addr string, reqs []request, clients int, gzipped bool, d time.Duration, id *ids) window {
	w := window{clients: clients, gzipped: gzipped, statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	w.start = time.Now()
	deadline := w.start.Add(d)
	for c := range clients {
		wg.Go(func() {
			cl := loadgen.NewClient(addr, addr)
			defer cl.Close()
			statuses := map[int]int{}
			lat := make([]time.Duration, 0, 1<<14)
			var firstErr string
			var wire, events int64
			var buf []byte
			for i := c; ctx.Err() == nil; i += clients {
				r := reqs[i%len(reqs)]
				raw := r.raw
				if len(r.idAt) > 0 {
					buf = append(buf[:0], r.raw...)
					r.stamp(buf, id.prefix, id.n.Add(1))
					raw = buf
				}
				start := time.Now()
				if !start.Before(deadline) {
					break
				}
				status, body, err := cl.Send(raw)
				lat = append(lat, time.Since(start))
				wire += int64(len(raw))
				events += int64(r.eventLen)
				statuses[status]++
				if firstErr == "" && (err != nil || status != 200) {
					firstErr = fmt.Sprintf("status %d: %.200s %v", status, body, err)
				}
				if err != nil {
					time.Sleep(time.Millisecond) // no hot loop against a dead server
				}
			}
			end := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for s, n := range statuses {
				w.statuses[s] += n
			}
			w.lat = append(w.lat, lat...)
			w.wireBytes += wire
			w.eventBytes += events
			if w.firstErr == "" {
				w.firstErr = firstErr
			}
			if end.After(w.end) {
				w.end = end
			}
		})
	}
	wg.Wait()
	slices.Sort(w.lat)
	return w
}

// percentile of sorted durations; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p/100))]
}
