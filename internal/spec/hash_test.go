package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestConfigHash(t *testing.T) {
	empty := sha256.Sum256(nil)
	tests := []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"nil", nil, hex.EncodeToString(empty[:])},
		{"empty", map[string]string{}, hex.EncodeToString(empty[:])},
		// Pinned: hashes are stored in releases, so the encoding must not drift.
		// printf '1:A=0:\n8:GREETING=5:hello\n' | sha256sum
		{"pinned", map[string]string{"GREETING": "hello", "A": ""}, "f28f6926f1f18afade01f5f09893377075a61beb4d64146ccf51b1a6385231a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConfigHash(tt.config); got != tt.want {
				t.Errorf("ConfigHash = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestConfigHashDistinguishes(t *testing.T) {
	// Each pair would collide under a naive "k=v\n" joining.
	pairs := [][2]map[string]string{
		{{"A": "1\nB=2"}, {"A": "1", "B": "2"}},
		{{"A": "=B"}, {"A=": "B"}},
		{{"A": ""}, {}},
		{{"A": "1"}, {"A": "2"}},
		{{"A": "1"}, {"B": "1"}},
	}
	for _, p := range pairs {
		if ConfigHash(p[0]) == ConfigHash(p[1]) {
			t.Errorf("%q and %q hash alike", p[0], p[1])
		}
	}
	a := map[string]string{"X": "1", "Y": "2", "Z": "3"}
	for range 10 {
		if ConfigHash(a) != ConfigHash(map[string]string{"Z": "3", "Y": "2", "X": "1"}) {
			t.Fatal("hash depends on map order")
		}
	}
}

func TestShortHash(t *testing.T) {
	h := ConfigHash(map[string]string{"A": "1"})
	if got := ShortHash(h); len(got) != ShortHashLen || got != h[:ShortHashLen] {
		t.Errorf("ShortHash(%s) = %s", h, got)
	}
	if got := ShortHash("abc"); got != "abc" {
		t.Errorf("ShortHash(abc) = %s", got)
	}
}
