package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// Every error kind maps to one HTTP status, in one place.
func TestStatusMapping(t *testing.T) {
	specErr := spec.ErrorList{&spec.Error{File: "slipway.yaml", Line: 3, Column: 1, Path: "name", Message: "required"}}
	tests := []struct {
		err  error
		code int
		kind string
	}{
		{fmt.Errorf("%w: send a token", ErrUnauthorized), 401, "unauthorized"},
		{&store.ConflictError{Running: store.Rollout{ID: 3, App: "a", Env: "b", StartedAt: time.Now()}}, 409, "conflict"},
		{fmt.Errorf("x: %w", store.ErrEnvInUse), 409, "conflict"},
		{fmt.Errorf("x: %w", store.ErrHostTaken), 409, "conflict"},
		{fmt.Errorf("app %q: %w", "x", store.ErrNotFound), 404, "not_found"},
		{fmt.Errorf("%w: bad digest", ErrInvalid), 400, "invalid"},
		{fmt.Errorf("plan: %w", specErr), 400, "invalid"},
		{&http.MaxBytesError{Limit: 10}, 413, "too_large"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		code, kind := status(tt.err)
		if code != tt.code || kind != tt.kind {
			t.Errorf("status(%v) = %d %s, want %d %s", tt.err, code, kind, tt.code, tt.kind)
		}
	}
}

func TestReadJSON(t *testing.T) {
	tests := []struct {
		body string
		want int // 0: ok
	}{
		{`{"set":{"A":"1"}}`, 0},
		{`{"set":{"A":"1"},"sett":{}}`, 400},
		{`{"set":`, 400},
		{`[]`, 400},
		{`{"set":{"A":"` + strings.Repeat("x", MaxJSONBody) + `"}}`, 413},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		var req ConfigRequest
		err := readJSON(r, &req)
		if tt.want == 0 {
			if err != nil {
				t.Errorf("readJSON(%.40q): %v", tt.body, err)
			}
			continue
		}
		if code, _ := status(err); code != tt.want {
			t.Errorf("readJSON(%.40q) maps to %d (%v), want %d", tt.body, code, err, tt.want)
		}
	}
}
