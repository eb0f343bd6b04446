package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookInput is a typical evaluation's data.
func webhookInput() Input {
	return Input{
		Canary:        Sample{Requests: 500, Errors: 3},
		Stable:        Sample{Requests: 4500, Errors: 20},
		CanaryRecent:  Sample{Requests: 60, Errors: 1},
		StableRecent:  Sample{Requests: 540, Errors: 2},
		Window:        time.Minute,
		CanaryRelease: 7,
		StableRelease: 6,
	}
}

// answer is a canned HTTP answer.
type answer struct {
	status int
	body   string
}

// webhookServer answers each call with the next answer (repeating the
// last), and records the requests' bodies.
type webhookServer struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []answer
	requests []WebhookRequest
	errs     []string
}

func newWebhookServer(t *testing.T, answers ...answer) *webhookServer {
	s := &webhookServer{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req WebhookRequest
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			s.errs = append(s.errs, r.Method+" "+r.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(body, &req); err != nil {
			s.errs = append(s.errs, err.Error())
		}
		s.requests = append(s.requests, req)
		a := s.answers[0]
		if len(s.answers) > 1 {
			s.answers = s.answers[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		want   Verdict
		detail string
	}{
		{"200 without body passes", answer{200, ""}, Pass, "webhook says pass"},
		{"204 passes", answer{204, ""}, Pass, "webhook says pass"},
		{"blank body passes", answer{200, " \n"}, Pass, "webhook says pass"},
		{"pass true with reason", answer{200, `{"pass": true, "reason": "checkout ok"}`}, Pass, "webhook says pass: checkout ok"},
		{"object without pass passes", answer{200, `{"status": "ok"}`}, Pass, "webhook says pass"},
		{"null passes", answer{200, `null`}, Pass, "webhook says pass"},
		{"pass false fails with the reason", answer{200, `{"pass": false, "reason": "checkout errors up 3x"}`}, Fail, "webhook says fail: checkout errors up 3x"},
		{"pass false without reason", answer{200, `{"pass":false}`}, Fail, "webhook says fail"},
		{"500 waits", answer{500, "boom"}, Wait, `webhook answered 500 Internal Server Error: "boom" (error 1 in a row; fails the analysis at 3)`},
		{"404 waits", answer{404, ""}, Wait, "webhook answered 404 Not Found (error 1"},
		{"malformed JSON waits", answer{200, `{"pass": fal`}, Wait, "webhook answer is not a JSON object"},
		{"array waits", answer{200, `[true]`}, Wait, "webhook answer is not a JSON object"},
		{"string pass waits", answer{200, `{"pass": "false"}`}, Wait, "webhook answer is not a JSON object"},
		{"trailing data waits", answer{200, `{"pass": true} {"pass": false}`}, Wait, "data after its JSON object"},
		{"HTML waits", answer{200, `<html>login</html>`}, Wait, `"<html>login</html>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newWebhookServer(t, tt.answer)
			c := NewWebhook(srv.URL+"/judge", time.Second, srv.Client())
			r := c.Check(t.Context(), webhookInput())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("got %s %q, want %s with %q", r.Verdict, r.Detail, tt.want, tt.detail)
			}
			if want := "webhook " + srv.URL + "/judge"; r.Name != want {
				t.Errorf("name %q, want %q", r.Name, want)
			}
			if r.Canary != 500 || r.Stable != 4500 {
				t.Errorf("sample sizes %d/%d, want 500/4500", r.Canary, r.Stable)
			}
		})
	}
}

func TestWebhookRequestBody(t *testing.T) {
	srv := newWebhookServer(t, answer{200, ""})
	NewWebhook(srv.URL, time.Second, nil).Check(t.Context(), webhookInput())
	if len(srv.errs) > 0 {
		t.Fatalf("bad requests: %v", srv.errs)
	}
	want := WebhookRequest{
		CanaryRelease: 7, StableRelease: 6,
		Canary: WebhookCounts{500, 3}, Stable: WebhookCounts{4500, 20},
		WindowSeconds: 60,
		CanaryRecent:  WebhookCounts{60, 1}, StableRecent: WebhookCounts{540, 2},
	}
	if len(srv.requests) != 1 || srv.requests[0] != want {
		t.Errorf("requests %+v, want [%+v]", srv.requests, want)
	}
}

// The documented wire format, field by field.
func TestWebhookRequestJSON(t *testing.T) {
	var got map[string]any
	b, _ := json.Marshal(WebhookRequest{CanaryRelease: 7, StableRelease: 6, Canary: WebhookCounts{500, 3}})
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"canary_release", "stable_release", "canary", "stable", "window_seconds", "canary_recent", "stable_recent"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if c := got["canary"].(map[string]any); c["requests"] != 500.0 || c["errors"] != 3.0 {
		t.Errorf("canary %v", c)
	}
}

// hangingServer never answers (until the test ends).
func hangingServer(t *testing.T) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: unblocks the handlers
	return srv
}

func TestWebhookTimeout(t *testing.T) {
	srv := hangingServer(t)
	c := NewWebhook(srv.URL, 50*time.Millisecond, srv.Client())
	start := time.Now()
	r := c.Check(t.Context(), webhookInput())
	if r.Verdict != Wait || !strings.Contains(r.Detail, "no answer within 50ms") {
		t.Errorf("got %s %q, want a wait for a timeout", r.Verdict, r.Detail)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestWebhookConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := NewWebhook(url, time.Second, nil).Check(t.Context(), webhookInput())
	if r.Verdict != Wait || !strings.Contains(r.Detail, "connection refused") {
		t.Errorf("got %s %q", r.Verdict, r.Detail)
	}
}

// A broken webhook waits MaxConsecutiveErrors-1 times, then fails; an
// answer ends the streak; a cancelled evaluation neither counts nor ends it.
func TestWebhookConsecutiveErrors(t *testing.T) {
	srv := newWebhookServer(t,
		answer{500, ""}, answer{502, ""}, answer{500, ""}, // fails on the third
		answer{200, ""},                  // recovers
		answer{503, ""}, answer{503, ""}, // two blips: waits
		answer{200, `{"pass": false}`}, // an answer, ends the streak
		answer{500, ""}, answer{500, ""}, answer{500, ""},
	)
	c := NewWebhook(srv.URL, time.Second, srv.Client())
	in := webhookInput()
	want := []Verdict{Wait, Wait, Fail, Pass, Wait, Wait, Fail, Wait, Wait}
	for i, w := range want {
		if r := c.Check(t.Context(), in); r.Verdict != w {
			t.Fatalf("call %d: %s (%s), want %s", i+1, r.Verdict, r.Detail, w)
		}
	}
	// The streak stands at 2; a cancelled evaluation does not change it.
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("rollout stopped"))
	if r := c.Check(ctx, in); r.Verdict != Wait || !strings.Contains(r.Detail, "evaluation cancelled (rollout stopped)") {
		t.Fatalf("cancelled: %s %q", r.Verdict, r.Detail)
	}
	if r := c.Check(t.Context(), in); r.Verdict != Fail || !strings.Contains(r.Detail, "3 errors in a row, the limit is 3") {
		t.Fatalf("third error after the cancelled call: %s %q, want fail", r.Verdict, r.Detail)
	}
}

// A checker shared by overlapping evaluations is safe (run with -race).
func TestWebhookConcurrent(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	c := NewWebhook(srv.URL, time.Second, srv.Client())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { c.Check(t.Context(), webhookInput()) })
	}
	wg.Wait()
	if calls.Load() != 20 {
		t.Errorf("%d calls, want 20", calls.Load())
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:secret@hooks.example.com/judge?token=abc#x": "https://hooks.example.com/judge",
		"http://127.0.0.1:8080/":                                  "http://127.0.0.1:8080/",
		"http://[::1]:namedport":                                  "(invalid URL)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc..."},
		{"héllo", 2, "h..."}, // does not cut é in half
	} {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func FuzzParseWebhookResponse(f *testing.F) {
	for _, s := range []string{"", "null", `{"pass": true}`, `{"pass": false, "reason": "x"}`, `{"pass": "no"}`, `[`, `{"reason": "` + strings.Repeat("é", 400) + `"}`, "{} {}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseWebhookResponse(body)
		if err != nil {
			if r != (WebhookResponse{}) {
				t.Errorf("error %v with a response %+v", err, r)
			}
			return
		}
		if len(r.Reason) > maxReason+len("...") {
			t.Errorf("reason of %d bytes", len(r.Reason))
		}
	})
}
