package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memStatus is what the benchmark reads from /proc/PID/status, in KiB.
type memStatus struct {
	RSS, HWM int // VmRSS, VmHWM (the peak RSS since the process started)
}

// parseStatus reads VmRSS and VmHWM from the text of /proc/PID/status.
func parseStatus(text string) (memStatus, error) {
	var m memStatus
	found := 0
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("malformed %s line %q", k, line)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return m, fmt.Errorf("malformed %s line %q", k, line)
		}
		if k == "VmRSS" {
			m.RSS = n
		} else {
			m.HWM = n
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("no VmRSS and VmHWM in the status")
	}
	return m, nil
}

// readStatus reads the memory of process pid.
func readStatus(pid int) (memStatus, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	return parseStatus(string(raw))
}

// point is one reading of the sampler: when, the server's RSS (KiB) and,
// every storedEvery, the events queryable through the API (-1 between).
type point struct {
	at     time.Duration // since the sampler started
	rssKiB int
	stored int64
}

// sampler reads a server's RSS every interval and asks how many events
// are queryable every storedEvery (rounded to intervals; a slow answer
// delays the next readings, it does not skip one), until stopped. It owns its goroutine:
// stop ends it and waits for it.
type sampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	points []point
	errs   []string
}

func startSampler(ctx context.Context, pid int, interval, storedEvery time.Duration, stored func(context.Context) (int64, int, error)) *sampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &sampler{cancel: cancel}
	s.wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		every := max(1, int(storedEvery/interval))
		for i := 0; ; i++ {
			p := point{at: time.Since(start), stored: -1}
			if m, err := readStatus(pid); err == nil {
				p.rssKiB = m.RSS
			} else {
				s.note(err)
			}
			if i%every == 0 {
				if n, _, err := stored(ctx); err == nil {
					p.stored = n
				} else if ctx.Err() == nil {
					s.note(err)
				}
			}
			s.mu.Lock()
			s.points = append(s.points, p)
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return s
}

func (s *sampler) note(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 3 {
		s.errs = append(s.errs, err.Error())
	}
}

// stop ends the sampling and returns the points and the first errors.
func (s *sampler) stop() ([]point, []string) {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points, s.errs
}

// parseCPUBusy reads the time all CPUs spent busy (user, nice, system,
// irq, softirq and steal: everything but idle and iowait) from the text
// of /proc/stat, whose counters are in USER_HZ ticks of 10 ms.
func parseCPUBusy(text string) (time.Duration, error) {
	line, _, _ := strings.Cut(text, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat line %q", line)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond, nil
}

// machineBusy is the CPU time the whole machine has been busy (0 if
// /proc/stat cannot be read).
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	d, _ := parseCPUBusy(string(raw))
	return d
}
