package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const value = "hunter2-correct-horse-battery-staple"

func mustGenerate(t *testing.T) *Key {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustGenerate(t)
	label := Label("hello", "staging", "DB_PASSWORD")
	for _, v := range []string{value, "x", "multi\nline\nvalue\n", strings.Repeat("é", MaxValueBytes/2)} {
		ct, err := k.Seal(label, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) >= 8 && bytes.Contains(ct, []byte(v)) {
			t.Fatalf("ciphertext contains the value in clear")
		}
		got, err := k.Open(label, ct)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != v {
			t.Fatalf("Open = %q, want %q", got, v)
		}
	}
	// Two seals of one value differ: nothing tells equal values apart.
	a, _ := k.Seal(label, []byte(value))
	b, _ := k.Seal(label, []byte(value))
	if bytes.Equal(a, b) {
		t.Error("sealing the same value twice gave the same ciphertext")
	}
}

func TestOpenFailsClearlyWithoutTheValue(t *testing.T) {
	k, other := mustGenerate(t), mustGenerate(t)
	label := Label("hello", "production", "API_KEY")
	ct, err := k.Seal(label, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(ct)
	corrupt[len(corrupt)-5] ^= 0x40
	tests := []struct {
		name  string
		key   *Key
		label string
		ct    []byte
		want  error
	}{
		{"wrong key", other, label, ct, ErrDecrypt},
		{"corrupted payload", k, label, corrupt, ErrDecrypt},
		{"truncated", k, label, ct[:len(ct)/2], ErrDecrypt},
		{"garbage", k, label, []byte("not age at all"), ErrDecrypt},
		{"empty", k, label, nil, ErrDecrypt},
		{"another app", k, Label("other", "production", "API_KEY"), ct, ErrMismatch},
		{"another env", k, Label("hello", "staging", "API_KEY"), ct, ErrMismatch},
		{"another name", k, Label("hello", "production", "API_KEY2"), ct, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.label, tt.ct)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned %d bytes with an error", len(got))
			}
			if strings.Contains(err.Error(), value) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the value: %v", err)
			}
			if !strings.Contains(err.Error(), tt.label) {
				t.Errorf("error %q does not name the secret %s", err, tt.label)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	k := mustGenerate(t)
	back, err := ParseKey(k.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if back.Recipient() != k.Recipient() || !strings.HasPrefix(k.Recipient(), "age1") {
		t.Fatalf("recipient %s after parse, want %s", back.Recipient(), k.Recipient())
	}
	for _, bad := range []string{"", "# only a comment\n", "AGE-SECRET-KEY-1NOTAKEY\n", string(k.Marshal()) + string(mustGenerate(t).Marshal())} {
		if _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "AGE-SECRET-KEY-1") && strings.Contains(bad, "AGE-SECRET-KEY-1") && strings.Contains(err.Error(), bad) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
}

func TestValidateNameAndValue(t *testing.T) {
	for _, ok := range []string{"DB_PASSWORD", "_X", "a1"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "PORT", "1X", "A-B", "A=B", "SLIPWAY_TOKEN", "É"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) = nil", bad)
		}
	}
	if err := ValidateValue("K", value); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "a\x00b", "\xff\xfe", strings.Repeat("x", MaxValueBytes+1)} {
		err := ValidateValue("K", bad)
		if err == nil {
			t.Errorf("ValidateValue(%.20q) = nil", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error leaks the value: %v", err)
		}
	}
}
