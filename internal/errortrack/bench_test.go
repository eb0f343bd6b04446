package errortrack_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/store"
)

// The benchmarks use testdata/bench/events.jsonl: 8 events of 4.7 to
// 6.1 KB (mean 5.6 KB) made by bench/errors' generator (seed 1), shaped
// like sentry-go's: an exception with 15 to 30 frames, tags, contexts,
// a request, a user and breadcrumbs.

// benchEvents reads testdata/bench/events.jsonl.
func benchEvents(b *testing.B) [][]byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bench", "events.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for line := range bytes.Lines(data) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
		}
	}
	return out
}

func meanSize(bodies [][]byte) float64 {
	n := 0
	for _, b := range bodies {
		n += len(b)
	}
	return float64(n) / float64(len(bodies))
}

func BenchmarkParseEvent(b *testing.B) {
	events := benchEvents(b)
	now := time.Now()
	b.SetBytes(int64(meanSize(events)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := errortrack.ParseEvent(events[i%len(events)], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchEnvelopes wraps the events in envelopes as sentry-go sends them
// (header with event_id, sent_at, dsn, sdk and trace; an event item with
// a length), gzip-compressed or not.
func benchEnvelopes(b *testing.B, dsn string, gzipped bool) [][]byte {
	b.Helper()
	var out [][]byte
	for i, ev := range benchEvents(b) {
		var body bytes.Buffer
		id := fmt.Sprintf("%032x", i+1)
		fmt.Fprintf(&body, `{"event_id":%q,"sent_at":"2026-11-22T00:00:00.123456Z","dsn":%q,"sdk":{"name":"sentry.go","version":"0.50.0"},`+
			`"trace":{"environment":"staging","public_key":"k","release":"hello@2","trace_id":%q}}`, id, dsn, id)
		fmt.Fprintf(&body, "\n{\"type\":\"event\",\"length\":%d}\n", len(ev))
		body.Write(ev)
		body.WriteByte('\n')
		if gzipped {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(body.Bytes())
			zw.Close()
			body = z
		}
		out = append(out, body.Bytes())
	}
	return out
}

func BenchmarkParseEnvelope(b *testing.B) {
	envs := benchEnvelopes(b, "http://0123456789abcdef0123456789abcdef@127.0.0.1:7070/1", false)
	b.SetBytes(int64(meanSize(envs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := errortrack.ParseEnvelope(envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// discardStore is a Store that keeps nothing, so that BenchmarkServeHTTP
// measures the handler and not the database.
type discardStore struct{}

func (discardStore) EnsureErrorProject(_ context.Context, app, env, groupingVersion string) (store.ErrorProject, error) {
	return store.ErrorProject{ID: 1, App: app, Env: env, PublicKey: "0123456789abcdef0123456789abcdef", GroupingVersion: groupingVersion}, nil
}
func (discardStore) ErrorProjects(context.Context) ([]store.ErrorProject, error) { return nil, nil }
func (discardStore) WriteErrors(context.Context, []store.ErrorEvent, []store.SessionUpdate, int) (store.ErrorWriteResult, error) {
	return store.ErrorWriteResult{}, nil
}
func (discardStore) PruneErrors(context.Context, time.Time) (int64, int64, error) { return 0, 0, nil }
func (discardStore) NewIssuesIn(context.Context, int64, string, int64) ([]store.ErrorIssue, error) {
	return nil, nil
}
func (discardStore) ReleaseEvents(context.Context, int64, string) (int64, error) { return 0, nil }

// discardWriter is a ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkServeHTTP posts the events, in envelopes as sentry-go sends
// them, to the tracker's handler in process (no network; a store that
// keeps nothing, its writer running): the cost of decoding, parsing,
// grouping, compressing and queueing one event.
func BenchmarkServeHTTP(b *testing.B) {
	for _, gzipped := range []bool{false, true} {
		name := "plain"
		if gzipped {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			tr := errortrack.New(errortrack.Options{Store: discardStore{}, RateLimit: 1e9})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { tr.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			p, err := tr.Project(ctx, "hello", "staging")
			if err != nil {
				b.Fatal(err)
			}
			dsn := errortrack.DSNFor("http", "127.0.0.1:7070", "", p.PublicKey, p.ID)
			envs := benchEnvelopes(b, dsn.String(), gzipped)
			path := fmt.Sprintf("/api/%d/envelope/", p.ID)
			auth := "Sentry sentry_version=7, sentry_client=sentry.go/0.50.0, sentry_key=" + p.PublicKey
			b.SetBytes(int64(meanSize(envs)))
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			i := 0
			for b.Loop() {
				body := envs[i%len(envs)]
				i++
				req, _ := http.NewRequest("POST", path, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-sentry-envelope")
				req.Header.Set("X-Sentry-Auth", auth)
				if gzipped {
					req.Header.Set("Content-Encoding", "gzip")
				}
				clear(w.h)
				w.status = 0
				tr.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d: %s", w.status, w.h.Get("X-Sentry-Error"))
				}
			}
			b.StopTimer()
			if err := tr.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
