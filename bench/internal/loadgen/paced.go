package loadgen

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one request of a Paced load: when it was due, sent and
// answered in full (on the load's clock, see Paced.Now), the status (0
// when the request failed without an HTTP answer) and which version
// answered (an index into Paced.Versions; 0 when the body named none).
type Event struct {
	Due, Sent, Done time.Duration
	Status          int
	Version         uint16
}

// Paced is open-loop load at a fixed rate: request i is due at i/rate
// after the start, whatever happened to the earlier ones, and goes out on
// the first of a pool of keep-alive connections that is free. If all are
// busy it goes out late, and Late says by how much. Every answer is
// recorded with its timestamps and the version named in its body.
type Paced struct {
	base    time.Time
	rate    float64
	label   func(body []byte) []byte
	next    atomic.Int64 // the next request's number
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	retries atomic.Int64

	mu       sync.Mutex
	versions []string          // by index; versions[0] is ""
	index    map[string]uint16 // the inverse
	events   []Event           // of stopped workers
	late     time.Duration     // the largest delay of a request behind its due time
	lateN    int               // requests sent more than LateLimit behind
}

// LateLimit is the delay behind schedule that Late counts: a request
// sent that late says more about the load generator (or a stalled
// machine) than about the server.
const LateLimit = 50 * time.Millisecond

// StartPaced starts rate requests a second of GET / with Host host to
// addr over conns keep-alive connections, until ctx ends or Stop. label
// returns the version named in a body (nil for none); it must not keep
// the slice.
func StartPaced(ctx context.Context, addr, host string, rate float64, conns int, label func(body []byte) []byte) *Paced {
	ctx, cancel := context.WithCancel(ctx)
	p := &Paced{base: time.Now(), rate: rate, label: label, cancel: cancel,
		versions: []string{""}, index: map[string]uint16{"": 0}}
	for range conns {
		p.wg.Go(func() { p.worker(ctx, addr, host) })
	}
	return p
}

// Base is the wall-clock time of the load's clock zero: event times are
// durations since Base.
func (p *Paced) Base() time.Time { return p.base }

// Now is the time on the load's clock.
func (p *Paced) Now() time.Duration { return time.Since(p.base) }

// At converts a time on the load's clock to wall-clock time.
func (p *Paced) At(d time.Duration) time.Time { return p.base.Add(d) }

// Versions returns the versions seen so far, indexed by Event.Version.
func (p *Paced) Versions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.versions)
}

// Late returns the largest delay of a request behind its due time and
// how many were sent more than LateLimit behind.
func (p *Paced) Late() (worst time.Duration, over int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.late, p.lateN
}

// Retries counts requests sent again because the server had closed an
// idle keep-alive connection (see Client.Get).
func (p *Paced) Retries() int64 { return p.retries.Load() }

// Stop ends the load, waits for the requests in flight and returns every
// event, in order of completion.
func (p *Paced) Stop() []Event {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	slices.SortFunc(p.events, func(a, b Event) int { return int(a.Done - b.Done) })
	return p.events
}

func (p *Paced) worker(ctx context.Context, addr, host string) {
	c := NewClient(addr, host)
	defer c.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		evs   = make([]Event, 0, 1<<12)
		late  time.Duration
		lateN int
	)
	for {
		i := p.next.Add(1) - 1
		due := time.Duration(float64(i) * float64(time.Second) / p.rate)
		if wait := due - p.Now(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent := p.Now()
		if d := sent - due; d > late {
			late = d
		}
		if sent-due > LateLimit {
			lateN++
		}
		status, body, retried, err := c.Get()
		done := p.Now()
		if retried {
			p.retries.Add(1)
		}
		if err != nil {
			if ctx.Err() != nil {
				break // stopping; not the server's fault
			}
			status = 0
		}
		var v uint16
		if err == nil {
			v = p.intern(p.label(body))
		}
		evs = append(evs, Event{Due: due, Sent: sent, Done: done, Status: status, Version: v})
	}
	p.mu.Lock()
	p.events = append(p.events, evs...)
	p.late = max(p.late, late)
	p.lateN += lateN
	p.mu.Unlock()
}

// intern returns the index of version v, adding it if new.
func (p *Paced) intern(v []byte) uint16 {
	if len(v) == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i, ok := p.index[string(v)]; ok {
		return i
	}
	i := uint16(len(p.versions))
	p.versions = append(p.versions, string(v))
	p.index[string(v)] = i
	return i
}
