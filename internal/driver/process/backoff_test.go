package process

import (
	"testing"
	"time"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Reset: 10 * time.Second}
	ms := time.Millisecond
	tests := []struct {
		name      string
		prev, ran time.Duration
		want      time.Duration
	}{
		{"first crash", 0, 0, 100 * ms},
		{"first crash after a long run", 0, time.Hour, 100 * ms},
		{"doubles", 100 * ms, 50 * ms, 200 * ms},
		{"doubles again", 200 * ms, 0, 400 * ms},
		{"caps at max", 20 * time.Second, 0, 30 * time.Second},
		{"stays at max", 30 * time.Second, 0, 30 * time.Second},
		{"just below reset keeps doubling", 400 * ms, 10*time.Second - 1, 800 * ms},
		{"stable run resets", 30 * time.Second, 10 * time.Second, 100 * ms},
		{"prev below initial grows to initial", 10 * ms, 0, 100 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Next(tt.prev, tt.ran); got != tt.want {
				t.Errorf("Next(%v, %v) = %v, want %v", tt.prev, tt.ran, got, tt.want)
			}
		})
	}
}

func TestBackoffWithDefaults(t *testing.T) {
	want := Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Reset: 10 * time.Second}
	if got := (Backoff{}).withDefaults(); got != want {
		t.Errorf("zero Backoff with defaults = %+v, want %+v", got, want)
	}
	got := Backoff{Initial: time.Second, Max: time.Millisecond}.withDefaults()
	if got.Max != time.Second {
		t.Errorf("Max below Initial: got Max %v, want it raised to Initial", got.Max)
	}
}
