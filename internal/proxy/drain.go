package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrDrainIncomplete is wrapped by the error Drain returns when requests
// were still in flight as its context ended.
var ErrDrainIncomplete = errors.New("drain incomplete")

// drainPoll is how often Drain looks at in-flight counts.
const drainPoll = 5 * time.Millisecond

// Drain waits until no request is in flight to the backends with these
// IDs, then closes their idle connections. Call it after a SetTable that
// removed them and before stopping them: requests routed to them before
// the switch finish, and none is routed to them after. IDs the proxy no
// longer knows count as drained.
//
// It returns 0 and nil when all are drained, or the number of requests
// still in flight and an error wrapping ErrDrainIncomplete and the cause
// of ctx's end. Long-lived requests (websockets, streams) are counted
// until they end, so bound ctx.
func (p *Proxy) Drain(ctx context.Context, ids []string) (remaining int, err error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	p.mu.Lock()
	for id := range want {
		if b := p.backends[id]; b != nil {
			p.log.Warn("draining a backend that is still in the routing table; remove it from the table first",
				b.logAttrs()...)
		}
	}
	p.mu.Unlock()

	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		n := p.inflightOf(want)
		if n == 0 {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("%w: %d requests still in flight to %d backends: %w",
				ErrDrainIncomplete, n, len(ids), context.Cause(ctx))
		case <-t.C:
		}
	}
}

// inflightOf sums the in-flight requests of the backends with these IDs,
// both in the table and retiring. Backends still in the table that have
// none get their idle connections closed.
func (p *Proxy) inflightOf(ids map[string]bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for b := range p.retiring {
		if ids[b.id] {
			n += b.inflight.Load()
		}
	}
	var idle []*backend
	for id := range ids {
		if b := p.backends[id]; b != nil {
			in := b.inflight.Load()
			n += in
			if in == 0 {
				idle = append(idle, b)
			}
		}
	}
	if n == 0 {
		for _, b := range idle {
			b.transport.CloseIdleConnections()
		}
	}
	return int(n)
}
