package errortrack

import (
	"sync"
	"time"
)

// Spike rule: an issue spikes when it has at least SpikeMinEvents events
// in a minute and at least SpikeFactor times its average per minute over
// the hour before. Each issue spikes at most once an hour.
const (
	SpikeMinEvents = 50
	SpikeFactor    = 10
)

// IsSpike applies the spike rule to a minute's events and the hour
// before's average per minute.
func IsSpike(events int64, baseline float64) bool {
	return events >= SpikeMinEvents && float64(events) >= SpikeFactor*baseline
}

// spikes counts each issue's events per minute over the last hour.
type spikes struct {
	mu       sync.Mutex
	issues   map[int64]*minutes
	notified map[int64]int64 // issue -> minute of its last spike notice
}

// minutes holds per-minute counts in a ring indexed by minute % len.
type minutes struct {
	counts [61]int64
	minute [61]int64 // which minute each slot holds
	last   int64     // newest minute with events
}

type spike struct {
	issue    int64
	events   int64
	baseline float64
}

func newSpikes() *spikes {
	return &spikes{issues: map[int64]*minutes{}, notified: map[int64]int64{}}
}

func (s *spikes) add(issue int64, now time.Time, n int64) {
	m := now.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.issues[issue]
	if r == nil {
		r = &minutes{}
		s.issues[issue] = r
	}
	i := m % int64(len(r.counts))
	if r.minute[i] != m {
		r.minute[i], r.counts[i] = m, 0
	}
	r.counts[i] += n
	r.last = m
}

// check returns the issues among touched that spike in the current
// minute and were not reported in the last hour.
func (s *spikes) check(now time.Time, touched map[int64]int64) []spike {
	m := now.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []spike
	for id := range touched {
		r := s.issues[id]
		if r == nil || r.last != m {
			continue
		}
		cur := r.counts[m%int64(len(r.counts))]
		var before int64
		for k := m - 60; k < m; k++ {
			if j := k % int64(len(r.counts)); r.minute[j] == k {
				before += r.counts[j]
			}
		}
		base := float64(before) / 60
		if last, ok := s.notified[id]; ok && m-last < 60 {
			continue
		}
		if IsSpike(cur, base) {
			s.notified[id] = m
			out = append(out, spike{issue: id, events: cur, baseline: base})
		}
	}
	return out
}

// forget drops issues quiet for over an hour.
func (s *spikes) forget(now time.Time) {
	m := now.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.issues {
		if m-r.last > 60 {
			delete(s.issues, id)
		}
	}
	for id, last := range s.notified {
		if m-last >= 60 {
			delete(s.notified, id)
		}
	}
}
