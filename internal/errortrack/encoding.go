package errortrack

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// minZstdWindow is the window the zstd decoder accepts even under a
// smaller limit: 8 MiB, what RFC 8878 recommends every decoder support,
// and what streaming encoders declare when they do not know the size.
const minZstdWindow = 8 << 20

// Decode reads body, compressed as contentEncoding says, and returns it
// decompressed. Encodings: "" and "identity" (as is), "gzip" and "x-gzip",
// "deflate" (zlib-wrapped, or raw deflate when the zlib header is absent),
// "br" and "zstd"; case and surrounding spaces do not matter.
//
// At most limit+1 decompressed bytes are ever read or held: a result over
// limit is an error wrapping ErrTooLarge, so a decompression bomb costs
// no more than limit bytes. limit <= 0 means MaxEnvelopeSize. The zstd
// window is bounded by limit as well (but allowed 8 MiB), brotli's by its
// format (16 MiB).
// The caller bounds the compressed body (http.MaxBytesReader).
//
// An unknown encoding or corrupt data is a *ParseError naming the
// encoding. An error reading body itself (say, the client went away) is
// returned wrapped, as it is no fault of the data.
func Decode(contentEncoding string, body io.Reader, limit int64) ([]byte, error) {
	return DecodeSized(contentEncoding, body, limit, -1)
}

// DecodeSized is Decode for a body of a known size, size being its
// length before decompression (a request's Content-Length), or -1 when
// unknown. It only sizes the buffer the result is read into, saving
// reallocations for large bodies and memory for small ones: size+1 bytes
// for a body as is, 4×size for a compressed one, but never more than
// 64 KiB at first, whatever size says, before the data has come; it
// then doubles as data arrives, up to limit+1 bytes as in Decode.
func DecodeSized(contentEncoding string, body io.Reader, limit, size int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxEnvelopeSize
	}
	limit = min(limit, math.MaxInt32)
	src := &readErrRecorder{r: body}
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	var r io.Reader
	switch enc {
	case "", "identity":
		r = src
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, decodeError(enc, src, err)
		}
		r = zr
	case "deflate":
		r = inflater(src)
	case "br":
		r = brotli.NewReader(src)
	case "zstd":
		window := uint64(max(limit, minZstdWindow))
		zr, err := zstd.NewReader(src,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(window),
			zstd.WithDecoderMaxWindow(window))
		if err != nil {
			return nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, &ParseError{Reason: fmt.Sprintf("unsupported Content-Encoding %q: use gzip, deflate, br, zstd or none", contentEncoding)}
	}
	out, err := readAtMost(r, limit, initialBuffer(enc, size), expectedSize(enc, size))
	if err != nil {
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, fmt.Errorf("zstd body needs a window over the limit of %d bytes: %w", limit, ErrTooLarge)
		}
		return nil, decodeError(enc, src, err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("body is over %d bytes after decompression: %w", limit, ErrTooLarge)
	}
	return out, nil
}

// DecodeStoreBody reads a legacy store endpoint body: JSON as is when it
// starts (after white space) with "{", otherwise base64 (standard or URL
// alphabet, padding optional, white space ignored) of zlib-compressed
// JSON, as the old raven clients send. A base64 body that holds plain
// JSON is accepted too. The result is bounded by MaxEnvelopeSize
// (ErrTooLarge); anything unreadable is a *ParseError.
func DecodeStoreBody(b []byte) ([]byte, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("store body is %d bytes, over the limit of %d: %w", len(b), MaxEnvelopeSize, ErrTooLarge)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return b, nil
	}
	raw, err := decodeBase64(b)
	if err != nil {
		return nil, &ParseError{Reason: "store body is neither JSON nor base64: " + err.Error()}
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return raw, nil
	}
	out, err := DecodeSized("deflate", bytes.NewReader(raw), MaxEnvelopeSize, int64(len(raw)))
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, &ParseError{Reason: "store body is base64 but not zlib-compressed JSON: " + pe.Reason}
		}
		return nil, err
	}
	return out, nil
}

// decodeBase64 decodes standard or URL-alphabet base64, with or without
// padding, ignoring white space.
func decodeBase64(b []byte) ([]byte, error) {
	clean := make([]byte, 0, len(b))
	urlAlphabet := false
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '-', '_':
			urlAlphabet = true
		}
		clean = append(clean, c)
	}
	clean = bytes.TrimRight(clean, "=")
	if len(clean) == 0 {
		return nil, errors.New("body is empty")
	}
	enc := base64.RawStdEncoding
	if urlAlphabet {
		enc = base64.RawURLEncoding
	}
	out := make([]byte, enc.DecodedLen(len(clean)))
	n, err := enc.Decode(out, clean)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// inflater reads deflate data: zlib-wrapped when it starts with a zlib
// header, raw deflate otherwise.
func inflater(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if h, err := br.Peek(2); err == nil && isZlibHeader(h[0], h[1]) {
		return &lazyZlib{r: br}
	}
	return flate.NewReader(br)
}

// isZlibHeader reports whether cmf and flg start a zlib stream (RFC 1950):
// method 8 (deflate), a window of at most 32 KiB, and a valid check.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// lazyZlib opens its zlib reader on the first Read, so that a bad header
// surfaces as a read error like any other corruption.
type lazyZlib struct {
	r  io.Reader
	zr io.Reader
}

func (l *lazyZlib) Read(p []byte) (int, error) {
	if l.zr == nil {
		zr, err := zlib.NewReader(l.r)
		if err != nil {
			return 0, err
		}
		l.zr = zr
	}
	return l.zr.Read(p)
}

// Buffer sizes for readAtMost.
const (
	// maxInitialBuffer is the most allocated for a body before any of it
	// has come, whatever its Content-Length claims.
	maxInitialBuffer = 64 << 10
	// unknownSizeBuffer is the first buffer for a body of unknown size.
	unknownSizeBuffer = 8 << 10
	// compressionGuess is how many times its compressed size a
	// compressed body is guessed to expand to (JSON events under gzip:
	// about 3.5).
	compressionGuess = 4
)

// initialBuffer is the first buffer readAtMost gets for a body of size
// bytes (-1: unknown) under encoding enc.
func initialBuffer(enc string, size int64) int64 {
	switch {
	case size < 0:
		return unknownSizeBuffer
	case enc == "" || enc == "identity":
		return min(size+1, maxInitialBuffer) // +1: room to see the end
	default:
		return min(max(compressionGuess*size, 512), maxInitialBuffer)
	}
}

// expectedSize is the decompressed size of a body of size bytes under
// enc when it is known (-1 otherwise): its size, when it is not
// compressed.
func expectedSize(enc string, size int64) int64 {
	if enc == "" || enc == "identity" {
		return size
	}
	return -1
}

// readAtMost reads r to its end, but no more than limit+1 bytes, growing
// its buffer no further than that. Its buffer starts at initial bytes
// and doubles when full, except that when expected (≥ 0) is what r
// should hold and doubling would reach it, it grows to expected+1 bytes:
// enough to see the end of r without growing again.
func readAtMost(r io.Reader, limit, initial, expected int64) ([]byte, error) {
	end := limit + 1
	buf := make([]byte, 0, min(end, max(initial, 1)))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= end {
				return buf, nil
			}
			next := 2 * int64(cap(buf))
			if expected >= 0 && int64(cap(buf)) <= expected && expected <= next {
				next = expected + 1
			}
			grown := make([]byte, len(buf), min(end, next))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeError explains a failure to decode: the body could not be read
// (src's error, returned as is), or its data is corrupt (a *ParseError).
func decodeError(enc string, src *readErrRecorder, err error) error {
	if src.err != nil {
		return fmt.Errorf("read body: %w", src.err)
	}
	if enc == "" || enc == "identity" {
		return fmt.Errorf("read body: %w", err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &ParseError{Reason: fmt.Sprintf("%s body is corrupt: it ends early (truncated or empty)", enc)}
	}
	return &ParseError{Reason: fmt.Sprintf("%s body is corrupt: %v", enc, err)}
}

// readErrRecorder passes reads through and remembers the first error
// other than io.EOF, to tell a failing body from corrupt data.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
