package process

import "time"

// Backoff is the restart policy of a crashed process: the first restart
// waits Initial, each following one twice as long as the one before, up to
// Max. A process that ran for at least Reset before crashing is considered
// to have been stable, and the next restart waits Initial again.
type Backoff struct {
	Initial time.Duration `json:"initial"`
	Max     time.Duration `json:"max"`
	Reset   time.Duration `json:"reset"`
}

// Defaults for zero fields of Backoff.
const (
	defaultBackoffInitial = 100 * time.Millisecond
	defaultBackoffMax     = 30 * time.Second
	defaultBackoffReset   = 10 * time.Second
)

// withDefaults fills zero fields with the defaults: 100ms, 30s and 10s.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = defaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = defaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Reset <= 0 {
		b.Reset = defaultBackoffReset
	}
	return b
}

// Next returns how long to wait before restarting a process that crashed
// after running for ran, given that the previous restart waited prev (zero
// if there was none).
func (b Backoff) Next(prev, ran time.Duration) time.Duration {
	if prev <= 0 || ran >= b.Reset {
		return b.Initial
	}
	if prev >= b.Max/2 {
		return b.Max
	}
	return max(prev*2, b.Initial)
}
