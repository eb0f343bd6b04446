package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadSampler reads the machine's 1-minute load average at a fixed period,
// so that the report can say how busy the (shared) machine was during
// each part.
type loadSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	vals  []float64
}

func startLoadSampler(every time.Duration) *loadSampler {
	s := &loadSampler{stopc: make(chan struct{})}
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s
}

func (s *loadSampler) sample() {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.vals = append(s.vals, v)
	s.mu.Unlock()
}

// stop ends the sampling and waits for it.
func (s *loadSampler) stop() {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	s.wg.Wait()
}

// mark returns a position to measure from with since.
func (s *loadSampler) mark() int {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.vals) - 1
}

// loadRange is the lowest and highest 1-minute load average sampled over
// a period.
type loadRange struct{ lo, hi float64 }

func (l loadRange) String() string {
	if l.lo == l.hi {
		return fmt.Sprintf("%.1f", l.lo)
	}
	return fmt.Sprintf("%.1f–%.1f", l.lo, l.hi)
}

// since returns the range of the samples from mark on, this moment
// included.
func (s *loadSampler) since(mark int) loadRange {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	mark = max(mark, 0)
	if mark >= len(s.vals) {
		return loadRange{}
	}
	r := loadRange{lo: s.vals[mark], hi: s.vals[mark]}
	for _, v := range s.vals[mark:] {
		r.lo, r.hi = min(r.lo, v), max(r.hi, v)
	}
	return r
}
