package analysis

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// promServer answers /api/v1/query with canned answers (repeating the
// last) and records the queries it was asked.
type promServer struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	queries []string
	paths   []string
}

func newPromServer(t *testing.T, answers ...answer) *promServer {
	s := &promServer{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.Method+" "+r.URL.Path)
		s.queries = append(s.queries, r.URL.Query().Get("query"))
		a := s.answers[0]
		if len(s.answers) > 1 {
			s.answers = s.answers[1:]
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func vector(values ...string) string {
	var series []string
	for _, v := range values {
		series = append(series, `{"metric":{"release":"7"},"value":[1732190000.123,"`+v+`"]}`)
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}}`
}

func ptr(v float64) *float64 { return &v }

func TestPrometheusAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answer   answer
		min, max *float64
		want     Verdict
		value    float64
		detail   string
	}{
		{"below max passes", answer{200, vector("0.02")}, nil, ptr(0.05), Pass, 0.02, "= 0.02, within <= 0.05"},
		{"at max passes", answer{200, vector("0.05")}, nil, ptr(0.05), Pass, 0.05, "within <= 0.05"},
		{"above max fails", answer{200, vector("0.07")}, nil, ptr(0.05), Fail, 0.07, "= 0.07, above the maximum 0.05"},
		{"below min fails", answer{200, vector("0.5")}, ptr(0.9), nil, Fail, 0.5, "= 0.5, below the minimum 0.9"},
		{"within range passes", answer{200, vector("0.95")}, ptr(0.9), ptr(1), Pass, 0.95, "within [0.9, 1]"},
		{"no limits passes", answer{200, vector("12")}, nil, nil, Pass, 12, "within any value"},
		{"scalar", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1732190000,"0.01"]}}`}, nil, ptr(0.05), Pass, 0.01, "= 0.01"},
		{"+Inf above max fails", answer{200, vector("+Inf")}, nil, ptr(0.05), Fail, math.Inf(1), "above the maximum"},
		{"empty vector waits", answer{200, `{"status":"success","data":{"resultType":"vector","result":[]}}`}, nil, ptr(0.05), Wait, 0, "no data yet (the query returned an empty vector)"},
		{"NaN waits", answer{200, vector("NaN")}, nil, ptr(0.05), Wait, 0, "no data yet (the query returned NaN)"},
		{"two series wait", answer{200, vector("1", "2")}, nil, ptr(0.05), Wait, 0, "returned 2 series; it must return one"},
		{"matrix waits", answer{200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`}, nil, ptr(0.05), Wait, 0, `returned a "matrix" result`},
		{"bad query waits with Prometheus's message", answer{400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}`}, nil, ptr(0.05), Wait, 0,
			`prometheus answered 400 Bad Request: prometheus error (status "error"): bad_data: invalid parameter "query": 1:5: parse error (error 1 in a row`},
		{"error status in a 200", answer{200, `{"status":"error","error":"boom"}`}, nil, ptr(0.05), Wait, 0, "boom"},
		{"503 HTML waits", answer{503, `<html>down</html>`}, nil, ptr(0.05), Wait, 0, `prometheus answered 503 Service Unavailable: "<html>down</html>"`},
		{"malformed JSON waits", answer{200, `{"status":"success","data":`}, nil, ptr(0.05), Wait, 0, "prometheus answer is not JSON"},
		{"value not a number waits", answer{200, vector("abc")}, nil, ptr(0.05), Wait, 0, `value "abc" is not a number`},
		{"value not a string waits", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,0.5]}]}}`}, nil, ptr(0.05), Wait, 0, "value is not a string"},
		{"native histogram sample waits", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}`}, nil, ptr(0.05), Wait, 0, "not a [time, \"value\"] pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPromServer(t, tt.answer)
			c := NewPrometheus(srv.URL, `sum(rate(errors{release="{{release}}"}[1m]))`, tt.min, tt.max, srv.Client())
			r := c.Check(t.Context(), webhookInput())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("got %s %q, want %s with %q", r.Verdict, r.Detail, tt.want, tt.detail)
			}
			if r.Value != tt.value {
				t.Errorf("value %v, want %v", r.Value, tt.value)
			}
			if want := `prometheus sum(rate(errors{release="{{release}}"}[1m]))`; r.Name != want {
				t.Errorf("name %q, want %q", r.Name, want)
			}
		})
	}
}

func TestPrometheusThreshold(t *testing.T) {
	for _, tt := range []struct {
		min, max *float64
		want     float64
	}{
		{nil, ptr(0.05), 0.05}, {ptr(0.9), nil, 0.9}, {ptr(0.9), ptr(2), 2}, {nil, nil, 0},
	} {
		srv := newPromServer(t, answer{200, vector("1")})
		if r := NewPrometheus(srv.URL, "up", tt.min, tt.max, nil).Check(t.Context(), Input{}); r.Threshold != tt.want {
			t.Errorf("threshold %v, want %v", r.Threshold, tt.want)
		}
	}
}

// The limits are copied: changing the caller's values later has no effect.
func TestPrometheusCopiesLimits(t *testing.T) {
	srv := newPromServer(t, answer{200, vector("0.07")})
	limit := 0.1
	c := NewPrometheus(srv.URL, "up", nil, &limit, nil)
	limit = 0.01
	if r := c.Check(t.Context(), Input{}); r.Verdict != Pass {
		t.Errorf("got %s %q", r.Verdict, r.Detail)
	}
}

func TestPrometheusQuerySubstitution(t *testing.T) {
	srv := newPromServer(t, answer{200, vector("0.001")})
	q := `sum(rate(http_errors{release="{{release}}"}[1m])) - sum(rate(http_errors{release="{{stable}}"}[1m])) + 0*{{release}}`
	c := NewPrometheus(srv.URL+"/prom/", q, nil, ptr(0.01), srv.Client())
	r := c.Check(t.Context(), webhookInput())
	if r.Verdict != Pass {
		t.Fatalf("got %s %q", r.Verdict, r.Detail)
	}
	want := `sum(rate(http_errors{release="7"}[1m])) - sum(rate(http_errors{release="6"}[1m])) + 0*7`
	if len(srv.queries) != 1 || srv.queries[0] != want {
		t.Errorf("queries %q, want %q", srv.queries, want)
	}
	if len(srv.paths) != 1 || srv.paths[0] != "GET /prom/api/v1/query" {
		t.Errorf("paths %q", srv.paths)
	}
	if !strings.Contains(r.Detail, want) {
		t.Errorf("detail %q does not show the query run", r.Detail)
	}
}

// Errors wait, then fail at the third in a row; an empty result (an
// answer) ends the streak.
func TestPrometheusConsecutiveErrors(t *testing.T) {
	empty := `{"status":"success","data":{"resultType":"vector","result":[]}}`
	srv := newPromServer(t,
		answer{500, ""}, answer{500, ""}, answer{200, empty},
		answer{500, ""}, answer{200, "{"}, answer{503, ""},
		answer{200, vector("0.01")},
	)
	c := NewPrometheus(srv.URL, "up", nil, ptr(1), srv.Client())
	want := []Verdict{Wait, Wait, Wait, Wait, Wait, Fail, Pass}
	for i, w := range want {
		if r := c.Check(t.Context(), Input{}); r.Verdict != w {
			t.Fatalf("call %d: %s (%s), want %s", i+1, r.Verdict, r.Detail, w)
		}
	}
}

func TestPrometheusTimeout(t *testing.T) {
	srv := hangingServer(t)
	c := NewPrometheus(srv.URL, "up", nil, ptr(1), srv.Client())
	c.(*prometheus).timeout = 50 * time.Millisecond
	if r := c.Check(t.Context(), Input{}); r.Verdict != Wait || !strings.Contains(r.Detail, "no answer within 50ms") {
		t.Errorf("got %s %q", r.Verdict, r.Detail)
	}
}

func TestPrometheusBadURL(t *testing.T) {
	for _, u := range []string{"http://[::1]:namedport", "ftp://127.0.0.1:1/"} {
		c := NewPrometheus(u, "up", nil, ptr(1), nil)
		if r := c.Check(t.Context(), Input{}); r.Verdict != Wait || r.Detail == "" {
			t.Errorf("%s: got %s %q", u, r.Verdict, r.Detail)
		}
	}
}

func FuzzParsePrometheusResponse(f *testing.F) {
	for _, s := range []string{
		vector("0.5"), vector(), vector("1", "2"), vector("NaN"), vector("-Inf"),
		`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"2",3]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":{}}}`,
		`null`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parsePrometheusResponse(body)
		if err == nil && math.IsNaN(v) {
			t.Errorf("NaN without an error")
		}
		if err != nil && v != 0 {
			t.Errorf("value %v with error %v", v, err)
		}
	})
}
