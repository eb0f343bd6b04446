package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/trigger"
)

// hookService serves webhooks only; any other call panics (nil Service).
type hookService struct {
	Service
	got []byte
}

func (s *hookService) Webhook(_ context.Context, app string, h http.Header, body []byte) (WebhookResult, error) {
	s.got = body
	switch {
	case h.Get("X-Hub-Signature-256") == "":
		return WebhookResult{}, fmt.Errorf("%w: %v", ErrUnauthorized, trigger.ErrSignature)
	case app != "hello":
		return WebhookResult{}, fmt.Errorf("%w: app has no source", ErrInvalid)
	case h.Get("X-GitHub-Event") == "ping":
		return WebhookResult{Status: "pong"}, nil
	}
	return WebhookResult{Status: "accepted", Event: &RefEvent{Ref: "refs/heads/main", Run: 7, Did: "run 7 queued"}}, nil
}

// The webhook route takes no bearer token, hands the body over, maps the
// service's errors, and refuses an oversized body before any work.
func TestWebhookRoute(t *testing.T) {
	svc := &hookService{}
	h := NewHandler(svc, slog.New(slog.DiscardHandler))
	post := func(app string, body []byte, headers ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/hooks/"+app, bytes.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post("hello", []byte(`{}`)); w.Code != 401 || !strings.Contains(w.Body.String(), "signature") {
		t.Errorf("unsigned: %d %s", w.Code, w.Body)
	}
	if w := post("hello", []byte(`{"ref":"x"}`), "X-Hub-Signature-256", "sha256=00"); w.Code != 202 || !strings.Contains(w.Body.String(), `"run": 7`) || string(svc.got) != `{"ref":"x"}` {
		t.Errorf("signed push: %d %s (service got %q)", w.Code, w.Body, svc.got)
	}
	if w := post("hello", []byte(`{}`), "X-Hub-Signature-256", "sha256=00", "X-GitHub-Event", "ping"); w.Code != 200 || !strings.Contains(w.Body.String(), `"pong"`) {
		t.Errorf("ping: %d %s", w.Code, w.Body)
	}
	svc.got = nil
	if w := post("hello", bytes.Repeat([]byte("x"), trigger.MaxPayload+1), "X-Hub-Signature-256", "sha256=00"); w.Code != 413 || svc.got != nil {
		t.Errorf("oversized body: %d %s (service called: %v)", w.Code, w.Body, svc.got != nil)
	}
}
