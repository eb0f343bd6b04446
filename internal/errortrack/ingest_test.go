package errortrack_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/errortrack"
	"github.com/slipway-dev/slipway/internal/store"
)

// rig is a tracker on a real store behind a real HTTP server.
type rig struct {
	t       *testing.T
	tr      *errortrack.Tracker
	st      *store.ErrorStore
	srv     *httptest.Server
	p       store.ErrorProject
	dsn     errortrack.DSN
	mu      sync.Mutex
	notices []errortrack.Notice
}

func newRig(t *testing.T, opts errortrack.Options, run bool) *rig {
	t.Helper()
	st, err := store.OpenErrorsSQLite(context.Background(), filepath.Join(t.TempDir(), "errors.db"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st}
	opts.Store = st
	opts.Notify = func(n errortrack.Notice) { r.mu.Lock(); r.notices = append(r.notices, n); r.mu.Unlock() }
	r.tr = errortrack.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if run {
		go func() { r.tr.Run(ctx); close(done) }()
	} else {
		close(done)
	}
	r.srv = httptest.NewServer(r.tr)
	t.Cleanup(func() { r.srv.Close(); cancel(); <-done; st.Close() })
	if r.p, err = r.tr.Project(context.Background(), "shop", "production"); err != nil {
		t.Fatal(err)
	}
	u := strings.TrimPrefix(r.srv.URL, "http://")
	r.dsn = errortrack.DSNFor("http", u, "", r.p.PublicKey, r.p.ID)
	return r
}

func (r *rig) post(path string, body []byte, h map[string]string) *http.Response {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+path, bytes.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (r *rig) envelopePath() string { return fmt.Sprintf("/api/%d/envelope/", r.p.ID) }

func (r *rig) auth() map[string]string {
	return map[string]string{"X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=" + r.p.PublicKey}
}

func (r *rig) issues() []store.ErrorIssue {
	r.t.Helper()
	if err := r.tr.Flush(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	list, err := r.st.ErrorIssues(context.Background(), store.IssueFilter{ProjectID: r.p.ID})
	if err != nil {
		r.t.Fatal(err)
	}
	return list
}

func event(typ, value, fn, release string) []byte {
	ev := map[string]any{
		"event_id": strings.Repeat("a", 32), "platform": "go", "level": "error", "release": release, "environment": "production",
		"exception": []any{map[string]any{"type": typ, "value": value, "stacktrace": map[string]any{"frames": []any{
			map[string]any{"function": "main", "module": "main", "in_app": true, "lineno": 10},
			map[string]any{"function": fn, "module": "main", "in_app": true, "lineno": 42},
		}}}},
	}
	b, _ := json.Marshal(ev)
	return b
}

func envelope(items ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"event_id":"` + strings.Repeat("a", 32) + `"}` + "\n")
	for _, it := range items {
		fmt.Fprintf(&b, `{"type":%q,"length":%d}`+"\n%s\n", it[0], len(it[1]), it[1])
	}
	return b.Bytes()
}

func TestIngestAuthenticates(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	other, err := r.tr.Project(context.Background(), "shop", "staging")
	if err != nil {
		t.Fatal(err)
	}
	body := envelope([2]string{"event", string(event("E", "boom", "f", "shop@1"))})
	withDSN := func(key string) []byte {
		return bytes.Replace(body, []byte(`{"event_id"`), []byte(`{"dsn":"http://`+key+`@h/1","event_id"`), 1)
	}
	for _, c := range []struct {
		name   string
		path   string
		body   []byte
		h      map[string]string
		status int
	}{
		{"header", r.envelopePath(), body, r.auth(), 200},
		{"query", r.envelopePath() + "?sentry_key=" + r.p.PublicKey + "&sentry_version=7", body, nil, 200},
		{"envelope dsn", r.envelopePath(), withDSN(r.p.PublicKey), nil, 200},
		{"header and dsn agree", r.envelopePath(), withDSN(r.p.PublicKey), r.auth(), 200},
		{"no key", r.envelopePath(), body, nil, 401},
		{"unknown key", r.envelopePath() + "?sentry_key=" + strings.Repeat("0", 32), body, nil, 401},
		{"keys disagree", r.envelopePath() + "?sentry_key=" + other.PublicKey, body, r.auth(), 401},
		{"another project's key", r.envelopePath() + "?sentry_key=" + other.PublicKey, body, nil, 403},
		{"bad header", r.envelopePath(), body, map[string]string{"X-Sentry-Auth": "Sentry sentry_version=7"}, 401},
	} {
		resp := r.post(c.path, c.body, c.h)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.status, resp.Header.Get("X-Sentry-Error"))
		}
		if c.status != 200 && resp.Header.Get("X-Sentry-Error") == "" {
			t.Errorf("%s: no X-Sentry-Error reason", c.name)
		}
	}
	if is := r.issues(); len(is) != 1 || is[0].Events != 4 {
		t.Fatalf("want the 4 accepted events in one issue, got %+v", is)
	}
}

func TestIngestDecodesEveryEncodingAndTheStoreEndpoint(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	body := envelope([2]string{"event", string(event("E", "boom", "f", "shop@1"))})
	compress := map[string]func([]byte) []byte{
		"gzip": func(b []byte) []byte {
			var o bytes.Buffer
			w := gzip.NewWriter(&o)
			w.Write(b)
			w.Close()
			return o.Bytes()
		},
		"deflate": func(b []byte) []byte {
			var o bytes.Buffer
			w := zlib.NewWriter(&o)
			w.Write(b)
			w.Close()
			return o.Bytes()
		},
		"br": func(b []byte) []byte {
			var o bytes.Buffer
			w := brotli.NewWriter(&o)
			w.Write(b)
			w.Close()
			return o.Bytes()
		},
		"zstd": func(b []byte) []byte {
			w, _ := zstd.NewWriter(nil)
			return w.EncodeAll(b, nil)
		},
	}
	for enc, fn := range compress {
		h := r.auth()
		h["Content-Encoding"] = enc
		if resp := r.post(r.envelopePath(), fn(body), h); resp.StatusCode != 200 {
			t.Errorf("%s: status %d (%s)", enc, resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
		}
	}
	// Raw deflate (no zlib header), as some clients send.
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.DefaultCompression)
	fw.Write(body)
	fw.Close()
	h := r.auth()
	h["Content-Encoding"] = "deflate"
	if resp := r.post(r.envelopePath(), raw.Bytes(), h); resp.StatusCode != 200 {
		t.Errorf("raw deflate: status %d (%s)", resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
	}
	// The legacy store endpoint: JSON, and base64 of zlib.
	storePath := fmt.Sprintf("/api/%d/store/", r.p.ID)
	if resp := r.post(storePath, event("E", "boom", "f", "shop@1"), r.auth()); resp.StatusCode != 200 {
		t.Errorf("store JSON: status %d (%s)", resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(event("E", "boom", "f", "shop@1"))
	zw.Close()
	if resp := r.post(storePath, []byte(base64.StdEncoding.EncodeToString(z.Bytes())), r.auth()); resp.StatusCode != 200 {
		t.Errorf("store base64+zlib: status %d (%s)", resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
	}
	if is := r.issues(); len(is) != 1 || is[0].Events != 7 {
		t.Fatalf("want 7 events in one issue, got %+v", is)
	}
}

func TestIngestRejectsBadInputAndLosesNothing(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	good := string(event("E", "boom", "f", "shop@1"))
	for _, c := range []struct {
		name   string
		body   []byte
		h      map[string]string
		status int
	}{
		{"not an envelope", []byte("hello"), nil, 400},
		{"item longer than the body", []byte("{}\n{\"type\":\"event\",\"length\":500}\n{}"), nil, 400},
		{"event not JSON", envelope([2]string{"event", "not json"}), nil, 400},
		{"unknown encoding", envelope([2]string{"event", good}), map[string]string{"Content-Encoding": "lzma"}, 400},
		{"corrupt gzip", []byte("\x1f\x8b\x08garbage"), map[string]string{"Content-Encoding": "gzip"}, 400},
		{"oversized", bytes.Repeat([]byte("x"), errortrack.MaxEnvelopeSize+1), nil, 413},
		{"oversized event", envelope([2]string{"event", `{"message":"` + strings.Repeat("x", errortrack.MaxEventSize) + `"}`}), nil, 413},
		{"unknown items only", envelope([2]string{"profile", "{}"}, [2]string{"client_report", "{}"}), nil, 200},
	} {
		h := r.auth()
		for k, v := range c.h {
			h[k] = v
		}
		resp := r.post(r.envelopePath(), c.body, h)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.status, resp.Header.Get("X-Sentry-Error"))
		}
	}
	if is := r.issues(); len(is) != 0 {
		t.Fatalf("rejected input made issues: %+v", is)
	}
	// An envelope with an unknown item next to an event keeps the event.
	if resp := r.post(r.envelopePath(), envelope([2]string{"attachment", "bytes"}, [2]string{"event", good}), r.auth()); resp.StatusCode != 200 {
		t.Fatalf("event with an attachment: %d", resp.StatusCode)
	}
	if is := r.issues(); len(is) != 1 {
		t.Fatalf("want the event, got %+v", is)
	}
}

func TestIngestCORSPreflight(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	req, _ := http.NewRequest("OPTIONS", r.srv.URL+r.envelopePath(), nil)
	req.Header.Set("Origin", "https://shop.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Sentry-Auth") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestIngestRateLimitsPerDSN(t *testing.T) {
	r := newRig(t, errortrack.Options{RateLimit: 1, Burst: 3}, true)
	body := envelope([2]string{"event", string(event("E", "boom", "f", "shop@1"))})
	var limited *http.Response
	accepted := 0
	for range 10 {
		resp := r.post(r.envelopePath(), body, r.auth())
		if resp.StatusCode == 429 {
			limited = resp
			break
		}
		accepted++
	}
	if limited == nil || accepted != 3 {
		t.Fatalf("want 429 after the burst of 3, accepted %d", accepted)
	}
	if ra := limited.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q", ra)
	}
	if rl := limited.Header.Get("X-Sentry-Rate-Limits"); !strings.HasPrefix(rl, "1:") || !strings.Contains(rl, "error") {
		t.Errorf("X-Sentry-Rate-Limits %q", rl)
	}
	// Another DSN is not limited by this one.
	other, _ := r.tr.Project(context.Background(), "shop", "staging")
	if resp := r.post(fmt.Sprintf("/api/%d/envelope/?sentry_key=%s", other.ID, other.PublicKey), body, nil); resp.StatusCode != 200 {
		t.Fatalf("other DSN: %d", resp.StatusCode)
	}
}

func TestIngestAnswers503WhenTheQueueIsFull(t *testing.T) {
	// No writer runs, so accepted events stay queued.
	r := newRig(t, errortrack.Options{QueueBytes: 4 << 10}, false)
	body := envelope([2]string{"event", string(event("E", strings.Repeat("x", 600), "f", "shop@1"))})
	codes := map[int]int{}
	for range 20 {
		resp := r.post(r.envelopePath(), body, r.auth())
		codes[resp.StatusCode]++
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	if codes[200] == 0 || codes[503] == 0 || codes[200]+codes[503] != 20 {
		t.Fatalf("want some accepted, then 503: %v", codes)
	}
}

func TestSessionsGiveReleaseHealth(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	body := envelope(
		[2]string{"session", `{"sid":"7c7b6585f6a34d49a6a6fd8ca3a2d6b4","init":true,"status":"ok","started":"2026-11-21T10:00:00Z","attrs":{"release":"shop@1","environment":"production"}}`},
		[2]string{"sessions", `{"aggregates":[{"started":"2026-11-21T10:00:00Z","exited":7,"crashed":2,"errored":1}],"attrs":{"release":"shop@1","environment":"production"}}`},
	)
	if resp := r.post(r.envelopePath(), body, r.auth()); resp.StatusCode != 200 {
		t.Fatalf("sessions: %d %s", resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
	}
	r.issues() // flush
	h, err := r.st.ReleaseHealth(context.Background(), r.p.ID)
	if err != nil || len(h) != 1 || h[0].Started != 11 || h[0].Crashed != 2 || h[0].CrashFree < 0.81 || h[0].CrashFree > 0.82 {
		t.Fatalf("health: %+v %v", h, err)
	}
}

func TestNewIssuesAndRegressionsAreNoticed(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	send := func(typ, release string) {
		if resp := r.post(r.envelopePath(), envelope([2]string{"event", string(event(typ, "boom", "f", release))}), r.auth()); resp.StatusCode != 200 {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	send("A", "shop@1")
	send("A", "shop@1")
	is := r.issues()
	if _, err := r.st.SetIssueStatus(context.Background(), is[0].ID, store.IssueResolved, false); err != nil {
		t.Fatal(err)
	}
	send("A", "shop@2")
	r.issues()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notices) != 2 || r.notices[0].Kind != errortrack.NoticeNewIssue || r.notices[1].Kind != errortrack.NoticeRegression ||
		r.notices[1].Issue.LastRelease != "shop@2" {
		t.Fatalf("notices: %+v", r.notices)
	}
}

func TestCheckerFailsACanaryThatBringsANewIssue(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	send := func(typ, fn, release string) {
		if resp := r.post(r.envelopePath(), envelope([2]string{"event", string(event(typ, "boom", fn, release))}), r.auth()); resp.StatusCode != 200 {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	in := analysis.Input{App: "shop", Env: "production", StableRelease: 1, CanaryRelease: 2,
		Stable: analysis.Sample{Requests: 1000}, Canary: analysis.Sample{Requests: 100}}
	check := func(cfg errortrack.CheckConfig) analysis.CheckResult {
		return r.tr.Checkers(cfg)[0].Check(context.Background(), in)
	}
	cfg := errortrack.CheckConfig{MaxNewIssues: 0, MinEvents: 2, MaxEventsPerRequestIncrease: -1}

	send("Known", "f", "shop@1")
	send("Known", "f", "shop@2") // an old issue seen in the canary is not new
	if res := check(cfg); res.Verdict != analysis.Pass {
		t.Fatalf("old issue only: %+v", res)
	}
	send("CheckoutError", "checkout", "shop@2")
	if res := check(cfg); res.Verdict != analysis.Pass {
		t.Fatalf("one event, below min_events 2: %+v", res)
	}
	send("CheckoutError", "checkout", "shop@2")
	res := check(cfg)
	if res.Verdict != analysis.Fail || res.Value != 1 || !strings.Contains(res.Detail, "CheckoutError") || !strings.Contains(res.Detail, "shop@2") {
		t.Fatalf("new issue: %+v", res)
	}
	if res := check(errortrack.CheckConfig{MaxNewIssues: 1, MinEvents: 1, MaxEventsPerRequestIncrease: -1}); res.Verdict != analysis.Pass {
		t.Fatalf("one new issue allowed: %+v", res)
	}
	// Ignoring the issue lets the canary through.
	list, _ := r.st.NewIssuesIn(context.Background(), r.p.ID, "shop@2", 1)
	if _, err := r.st.SetIssueStatus(context.Background(), list[0].ID, store.IssueIgnored, false); err != nil {
		t.Fatal(err)
	}
	if res := check(cfg); res.Verdict != analysis.Pass {
		t.Fatalf("ignored issue: %+v", res)
	}
	// A rollout of another app knows no project: nothing to judge.
	in.App = "other"
	if res := check(cfg); res.Verdict != analysis.Pass {
		t.Fatalf("no project: %+v", res)
	}
}

func TestCheckerComparesEventsPerRequest(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	send := func(n int, release string) {
		for range n {
			r.post(r.envelopePath(), envelope([2]string{"event", string(event("Known", "boom", "f", release))}), r.auth())
		}
	}
	cfg := errortrack.CheckConfig{MaxNewIssues: -1, MaxEventsPerRequestIncrease: 0.01}
	c := r.tr.Checkers(cfg)
	if len(c) != 1 {
		t.Fatalf("want only the rate check, got %d checkers", len(c))
	}
	send(3, "shop@1")
	in := analysis.Input{App: "shop", Env: "production", StableRelease: 1, CanaryRelease: 2,
		Stable: analysis.Sample{Requests: 1000}, Canary: analysis.Sample{Requests: 0}}
	if res := c[0].Check(context.Background(), in); res.Verdict != analysis.Pass {
		t.Fatalf("first evaluation: %+v", res)
	}
	send(2, "shop@1")  // stable: 2 events in 1000 more requests
	send(10, "shop@2") // canary: 10 in 200
	in.Stable.Requests, in.Canary.Requests = 2000, 200
	res := c[0].Check(context.Background(), in)
	if res.Verdict != analysis.Fail || res.Value < 0.04 {
		t.Fatalf("canary at 0.05/request vs stable 0.002: %+v", res)
	}
}

func TestDSNRoundTrips(t *testing.T) {
	p := store.ErrorProject{ID: 7, PublicKey: "abc123"}
	for base, want := range map[string]string{
		"http://127.0.0.1:7070":          "http://abc123@127.0.0.1:7070/7",
		"https://slipway.example.com/x/": "https://abc123@slipway.example.com/x/7",
	} {
		got, err := errortrack.ProjectDSN(p, base)
		if err != nil || got != want {
			t.Errorf("ProjectDSN(%q) = %q, %v; want %q", base, got, err, want)
			continue
		}
		d, err := errortrack.ParseDSN(got)
		if err != nil || d.PublicKey != "abc123" || d.ProjectID != "7" {
			t.Errorf("ParseDSN(%q) = %+v, %v", got, d, err)
		}
	}
	if _, err := errortrack.ProjectDSN(p, "127.0.0.1:7070"); err == nil {
		t.Error("a base without scheme was accepted")
	}
}

func TestSpikeRule(t *testing.T) {
	for _, c := range []struct {
		events   int64
		baseline float64
		want     bool
	}{
		{49, 0, false}, {50, 0, true}, {50, 5, true}, {50, 5.1, false}, {1000, 99, true}, {1000, 101, false},
	} {
		if got := errortrack.IsSpike(c.events, c.baseline); got != c.want {
			t.Errorf("IsSpike(%d, %v) = %v", c.events, c.baseline, got)
		}
	}
}

// Flush returns once what was accepted before it is written, even while
// events keep arriving.
func TestFlushReturnsUnderSustainedLoad(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	body := envelope([2]string{"event", string(event("E", "boom", "f", "shop@1"))})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				r.post(r.envelopePath(), body, r.auth())
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	for range 20 {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.tr.Flush(fctx)
		cancel()
		if err != nil {
			t.Fatalf("Flush under load: %v", err)
		}
	}
}

// An issue that jumps to 50+ events in a minute, ten times its rate of
// the hour before, is reported as a spike once, not again that hour.
func TestSpikesAreNoticedOncePerHour(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	r := newRig(t, errortrack.Options{Now: clock, RateLimit: 1e6}, true)
	send := func(n int) {
		for range n {
			if resp := r.post(r.envelopePath(), envelope([2]string{"event", string(event("E", "boom", "f", "shop@1"))}), r.auth()); resp.StatusCode != 200 {
				t.Fatalf("send: %d", resp.StatusCode)
			}
		}
		r.issues() // flush
	}
	spikes := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, no := range r.notices {
			if no.Kind == errortrack.NoticeSpike {
				n++
			}
		}
		return n
	}
	// 10 a minute for half an hour: the normal rate.
	for m := range 30 {
		set(time.Date(2026, 11, 21, 10, m, 30, 0, time.UTC))
		send(10)
	}
	if n := spikes(); n != 0 {
		t.Fatalf("steady rate spiked %d times", n)
	}
	set(time.Date(2026, 11, 21, 10, 30, 30, 0, time.UTC))
	send(60) // the hour before averaged 300/60 = 5 a minute: 60 is over 50 and over 10x
	if n := spikes(); n != 1 {
		t.Fatalf("burst: %d spike notices, want 1", n)
	}
	set(time.Date(2026, 11, 21, 10, 31, 30, 0, time.UTC))
	send(200)
	if n := spikes(); n != 1 {
		t.Fatalf("second burst within the hour: %d spike notices, want still 1", n)
	}
}

func TestIsIngestPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/api/4/envelope/":        true,
		"/api/4/envelope":         true,
		"/api/4/store/":           true,
		"/sentry/api/4/envelope/": true, // a DSN with a path prefix
		"/api/4/":                 false,
		"/api/4/minidump/":        false,
		"/v1/apps":                false,
		"/api/4/envelope/extra/":  false,
	} {
		if got := errortrack.IsIngestPath(p); got != want {
			t.Errorf("IsIngestPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// What @sentry/node 11.12.0 really sent (testdata/envelopes/node), with
// its query-string auth, gives one issue for its two TypeErrors and a
// crash-free rate for its release.
func TestRealNodeSDKPayloads(t *testing.T) {
	r := newRig(t, errortrack.Options{}, true)
	path := r.envelopePath() + "?sentry_key=" + r.p.PublicKey + "&sentry_version=7&sentry_client=sentry.javascript.node%2F11.12.0"
	for _, f := range []string{"typeerror", "typeerror_again", "session_init", "session_exited", "crash_session", "sessions", "client_report"} {
		body, err := os.ReadFile(filepath.Join("testdata", "envelopes", "node", f+".envelope"))
		if err != nil {
			t.Fatal(err)
		}
		if resp := r.post(path, body, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", f, resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
		}
	}
	gz, err := os.ReadFile(filepath.Join("testdata", "envelopes", "node", "crash_event.envelope.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.post(path, gz, map[string]string{"Content-Encoding": "gzip"}); resp.StatusCode != 200 {
		t.Fatalf("crash event: %d %s", resp.StatusCode, resp.Header.Get("X-Sentry-Error"))
	}
	var typeErrors int64
	for _, is := range r.issues() {
		if strings.HasPrefix(is.Title, "TypeError") {
			typeErrors += is.Events
			if is.FirstRelease != "shop-node@2.0.0" {
				t.Errorf("TypeError issue release %q", is.FirstRelease)
			}
		}
	}
	if typeErrors != 2 {
		t.Fatalf("want both TypeErrors in issues, got %d events: %+v", typeErrors, r.issues())
	}
	h, err := r.st.ReleaseHealth(context.Background(), r.p.ID)
	if err != nil || len(h) != 1 || h[0].Release != "shop-node@2.0.0" || h[0].Started == 0 || h[0].Crashed != 1 || h[0].CrashFree <= 0 || h[0].CrashFree >= 1 {
		t.Fatalf("release health from the node SDK's sessions: %+v %v", h, err)
	}
	t.Logf("node release health: %+v", h[0])
}
