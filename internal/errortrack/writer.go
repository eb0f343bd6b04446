package errortrack

import (
	"context"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// Run writes queued events until ctx ends, then writes what is still
// queued, and prunes old events every hour. Its caller owns it.
func (t *Tracker) Run(ctx context.Context) {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	t.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			t.drain(context.WithoutCancel(ctx))
			return
		case <-prune.C:
			t.prune(ctx)
		case q := <-t.queue:
			t.writeBatch(ctx, q)
		}
	}
}

// drain writes what is queued, without waiting for more.
func (t *Tracker) drain(ctx context.Context) {
	for {
		select {
		case q := <-t.queue:
			t.writeBatch(ctx, q)
		default:
			return
		}
	}
}

// writeBatch writes first and whatever else is queued, up to BatchSize
// events, in one transaction.
func (t *Tracker) writeBatch(ctx context.Context, first queued) {
	events, sessions := first.events, first.sessions
	size, envelopes := first.size, int64(1)
more:
	for len(events) < t.opts.BatchSize {
		select {
		case q := <-t.queue:
			events = append(events, q.events...)
			sessions = append(sessions, q.sessions...)
			size += q.size
			envelopes++
		default:
			break more
		}
	}
	res, err := t.opts.Store.WriteErrors(ctx, events, sessions, t.opts.Samples)
	if err != nil && ctx.Err() == nil {
		// One retry: a transient failure (a busy disk) should not lose a batch.
		time.Sleep(100 * time.Millisecond)
		res, err = t.opts.Store.WriteErrors(ctx, events, sessions, t.opts.Samples)
	}
	t.queuedBytes.Add(-size)
	t.done.Add(envelopes)
	if err != nil {
		t.log.Error("error tracking: events lost", "events", len(events), "sessions", len(sessions), "err", err)
	} else {
		t.notify(res)
	}
	t.writtenMu.Lock()
	close(t.written)
	t.written = make(chan struct{})
	t.writtenMu.Unlock()
}

func (t *Tracker) notify(res store.ErrorWriteResult) {
	now := t.opts.Now()
	for id, n := range res.Events {
		t.spikes.add(id, now, n)
	}
	if t.opts.Notify == nil {
		return
	}
	for _, is := range res.New {
		t.opts.Notify(Notice{Kind: NoticeNewIssue, Issue: is})
	}
	for _, is := range res.Regressed {
		t.opts.Notify(Notice{Kind: NoticeRegression, Issue: is})
	}
	for _, sp := range t.spikes.check(now, res.Events) {
		t.opts.Notify(Notice{Kind: NoticeSpike, Issue: store.ErrorIssue{ID: sp.issue}, Events: sp.events, Baseline: sp.baseline})
	}
}

func (t *Tracker) prune(ctx context.Context) {
	cutoff := t.opts.Now().Add(-t.opts.Retention)
	events, issues, err := t.opts.Store.PruneErrors(ctx, cutoff)
	if err != nil {
		t.log.Error("error tracking: prune", "err", err)
		return
	}
	if events > 0 || issues > 0 {
		t.log.Info("error tracking: pruned", "events", events, "issues", issues, "before", cutoff)
	}
	t.spikes.forget(t.opts.Now())
}

// Flush waits until every event accepted before the call is written (or
// ctx ends): they are queryable once it returns. Events accepted during
// the call are not waited for, so it returns under sustained load too.
func (t *Tracker) Flush(ctx context.Context) error {
	// The queue is FIFO and enqueued counts only envelopes already in it,
	// so once done reaches this target every earlier one is written.
	target := t.enqueued.Load()
	for t.done.Load() < target {
		t.writtenMu.Lock()
		ch := t.written
		t.writtenMu.Unlock()
		if t.done.Load() >= target {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
