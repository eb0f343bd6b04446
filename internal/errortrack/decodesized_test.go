package errortrack

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// sameDecode fails unless DecodeSized with size gives what Decode gives.
func sameDecode(t *testing.T, enc string, in []byte, limit, size int64) {
	t.Helper()
	want, werr := Decode(enc, bytes.NewReader(in), limit)
	got, gerr := DecodeSized(enc, bytes.NewReader(in), limit, size)
	if !bytes.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) || errors.Is(gerr, ErrTooLarge) != errors.Is(werr, ErrTooLarge) {
		t.Fatalf("%q, %d bytes in, limit %d, size %d: got %d bytes, %v; Decode %d bytes, %v", enc, len(in), limit, size, len(got), gerr, len(want), werr)
	}
}

// TestDecodeSizedMatchesDecode checks that the size only sizes the
// buffer: whatever it says, right or wrong, the result is Decode's.
func TestDecodeSizedMatchesDecode(t *testing.T) {
	for _, n := range []int{0, 1, 100, 6000, 64<<10 - 1, 64 << 10, 64<<10 + 1, 300000} {
		body := bytes.Repeat([]byte(`{"a":"0123456789"}`), n/18+1)[:n]
		for _, enc := range []string{"", "gzip", "deflate", "br", "zstd"} {
			in := body
			if enc != "" {
				in = compress(t, compressorFor(enc), body)
			}
			m := int64(len(in))
			for _, size := range []int64{-1, 0, 1, m - 1, m, m + 1, 2 * m, int64(n), MaxEnvelopeSize} {
				for _, limit := range []int64{int64(n), int64(n) - 1, MaxEnvelopeSize} {
					if limit > 0 {
						sameDecode(t, enc, in, limit, size)
					}
				}
			}
		}
	}
}

// TestDecodeSizedBuffer checks the buffer a body of a known size is read
// into: its size, plus one byte to see the end, in one allocation when
// it is under 64 KiB; doubled from 64 KiB and then made to fit when it
// is larger.
func TestDecodeSizedBuffer(t *testing.T) {
	for _, tt := range []struct{ n, wantCap int }{
		{0, 1},
		{6000, 6001},
		{64<<10 - 1, 64 << 10},
		{300000, 300001},
		{1 << 20, 1<<20 + 1},
	} {
		body := bytes.Repeat([]byte("x"), tt.n)
		out, err := DecodeSized("", bytes.NewReader(body), MaxEnvelopeSize, int64(tt.n))
		if err != nil || len(out) != tt.n || cap(out) != tt.wantCap {
			t.Errorf("%d bytes: got %d bytes in a buffer of %d, %v; want a buffer of %d", tt.n, len(out), cap(out), err, tt.wantCap)
		}
	}
	// The reader, Decode's error recorder, and one buffer.
	body := make([]byte, 6000)
	if allocs := testing.AllocsPerRun(10, func() {
		DecodeSized("", bytes.NewReader(body), MaxEnvelopeSize, 6000)
	}); allocs > 3 {
		t.Errorf("%v allocations for a 6000-byte body of known size", allocs)
	}
}

// TestDecodeSizedDoesNotTrustTheSize checks that a size claiming more
// than comes costs no more than 64 KiB.
func TestDecodeSizedDoesNotTrustTheSize(t *testing.T) {
	for _, enc := range []string{"", "gzip"} {
		in := []byte(`{}`)
		if enc != "" {
			in = compress(t, compressorFor(enc), in)
		}
		out, err := DecodeSized(enc, bytes.NewReader(in), MaxEnvelopeSize, MaxEnvelopeSize)
		if err != nil || string(out) != `{}` || cap(out) > maxInitialBuffer {
			t.Errorf("%q: got %q in a buffer of %d, %v", enc, out, cap(out), err)
		}
	}
}

func FuzzDecodeSizedMatchesDecode(f *testing.F) {
	seeds := seedEnvelopes(f)
	for i, enc := range fuzzEncodings {
		for _, b := range seeds[:3] {
			in := b
			if enc != "" {
				in = compress(f, compressorFor(enc), b)
			}
			f.Add(uint8(i), in, int64(len(in)))
			f.Add(uint8(i), in, int64(len(b)))
		}
	}
	f.Add(uint8(0), []byte("{}"), int64(MaxEnvelopeSize))
	f.Add(uint8(1), compress(f, "gzip", make([]byte, 1<<20)), int64(10))
	f.Fuzz(func(t *testing.T, which uint8, in []byte, size int64) {
		const limit = 64 << 10
		sameDecode(t, fuzzEncodings[int(which)%len(fuzzEncodings)], in, limit, size)
	})
}
