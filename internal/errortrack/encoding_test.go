package errortrack

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// compress encodes b as a Content-Encoding would, favouring speed.
func compress(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	case "zlib":
		w, _ = zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	case "flate":
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	case "br":
		w = brotli.NewWriterLevel(&buf, brotli.BestSpeed)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		t.Fatalf("no compressor %q", enc)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	body := []byte(strings.Repeat(`{"type":"event"}`+"\n", 1000))
	tests := []struct {
		encoding string
		in       []byte
	}{
		{"", body},
		{"identity", body},
		{"gzip", compress(t, "gzip", body)},
		{" GZip ", compress(t, "gzip", body)},
		{"x-gzip", compress(t, "gzip", body)},
		{"deflate", compress(t, "zlib", body)},
		{"deflate", compress(t, "flate", body)},
		{"br", compress(t, "br", body)},
		{"zstd", compress(t, "zstd", body)},
	}
	for _, tt := range tests {
		t.Run(tt.encoding, func(t *testing.T) {
			got, err := Decode(tt.encoding, bytes.NewReader(tt.in), int64(len(body)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("got %d bytes, want the %d of the body", len(got), len(body))
			}
			// One byte over the limit is too large, without reading it all.
			_, err = Decode(tt.encoding, bytes.NewReader(tt.in), int64(len(body)-1))
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("limit one under the size: err = %v, want ErrTooLarge", err)
			}
		})
	}
}

// compressorFor names the compressor for a Content-Encoding.
func compressorFor(enc string) string {
	if enc == "deflate" {
		return "zlib"
	}
	return enc
}

func TestDecodeEmpty(t *testing.T) {
	for _, enc := range []string{"", "gzip", "deflate", "br", "zstd"} {
		var in []byte
		if enc != "" {
			in = compress(t, compressorFor(enc), nil)
		}
		got, err := Decode(enc, bytes.NewReader(in), 10)
		if err != nil || len(got) != 0 {
			t.Errorf("%q: got %q, %v; want nothing", enc, got, err)
		}
	}
}

// TestDecodeBomb checks that a body decompressing far beyond the limit is
// refused after allocating about the limit (growing its buffer, plus the
// decoder's window), not what it would expand to.
func TestDecodeBomb(t *testing.T) {
	zeros := make([]byte, 48<<20)
	const limit = 1 << 20
	for _, enc := range []string{"gzip", "deflate", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			bomb := compress(t, compressorFor(enc), zeros)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(enc, bytes.NewReader(bomb), limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("err = %v, want ErrTooLarge", err)
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d compressed bytes, %d allocated", enc, len(bomb), allocated)
			if allocated > 3*limit+12<<20 {
				t.Errorf("decoding allocated %d bytes for a limit of %d", allocated, limit)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	body := []byte(`{"a":1}`)
	gz := compress(t, "gzip", body)
	tests := []struct {
		encoding string
		in       []byte
		reason   string
	}{
		{"compress", body, `unsupported Content-Encoding "compress"`},
		{"gzip, br", body, `unsupported Content-Encoding "gzip, br"`},
		{"gzip", body, "gzip body is corrupt"},
		{"gzip", gz[:len(gz)-4], "gzip body is corrupt: it ends early"},
		{"gzip", nil, "gzip body is corrupt: it ends early"},
		{"gzip", append(bytes.Clone(gz), "junk!"...), "gzip body is corrupt"},
		{"deflate", body, "deflate body is corrupt"},
		{"deflate", compress(t, "zlib", body)[:6], "deflate body is corrupt"},
		{"br", body, "br body is corrupt"},
		{"zstd", body, "zstd body is corrupt"},
		{"zstd", compress(t, "zstd", body)[:10], "zstd body is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.encoding, func(t *testing.T) {
			_, err := Decode(tt.encoding, bytes.NewReader(tt.in), 1000)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}
}

// TestDecodeReadError checks a failing body is reported as such, not as
// corrupt data.
func TestDecodeReadError(t *testing.T) {
	boom := errors.New("connection reset")
	gz := compress(t, "gzip", bytes.Repeat([]byte("x"), 10000))
	for _, enc := range []string{"", "gzip"} {
		in := io.MultiReader(bytes.NewReader(gz[:20]), iotest.ErrReader(boom))
		_, err := Decode(enc, in, 1<<20)
		var pe *ParseError
		if !errors.Is(err, boom) || errors.As(err, &pe) {
			t.Errorf("%q: err = %v, want the read error, not a ParseError", enc, err)
		}
	}
}

func TestDecodeStoreBody(t *testing.T) {
	event := []byte(`{"message":"hello","extra":{"pad":"` + strings.Repeat("ab+/", 30) + `"}}`)
	z := compress(t, "zlib", event)
	std := base64.StdEncoding.EncodeToString(z)
	tests := []struct {
		name string
		in   string
	}{
		{"json", string(event)},
		{"json after white space", " \n\t" + string(event)},
		{"base64 zlib", std},
		{"base64 zlib without padding", strings.TrimRight(std, "=")},
		{"base64url zlib", base64.URLEncoding.EncodeToString(z)},
		{"base64 with line breaks", std[:20] + "\r\n" + std[20:] + "\n"},
		{"base64 raw deflate", base64.StdEncoding.EncodeToString(compress(t, "flate", event))},
		{"base64 plain json", base64.StdEncoding.EncodeToString(event)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStoreBody([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeStoreBody: %v", err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), event) {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestDecodeStoreBodyErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string
	}{
		{"empty", "", "store body is neither JSON nor base64: body is empty"},
		{"not base64", "hello world!", "store body is neither JSON nor base64"},
		{"base64 of junk", base64.StdEncoding.EncodeToString([]byte("junk junk junk")), "store body is base64 but not zlib-compressed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeStoreBody([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}

	bomb := base64.StdEncoding.EncodeToString(compress(t, "zlib", make([]byte, MaxEnvelopeSize+1)))
	if _, err := DecodeStoreBody([]byte(bomb)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("store bomb: err = %v, want ErrTooLarge", err)
	}
}
