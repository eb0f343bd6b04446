package analysis

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRealPrometheus runs the Prometheus checker against a real Prometheus
// server (Debian package "prometheus") scraping a small exporter served
// by the test.
func TestRealPrometheus(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus binary not found in PATH: install it (Debian: apt-get install prometheus) to run this test")
	}
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "# TYPE slipway_test_error_ratio gauge\n"+
			"slipway_test_error_ratio{release=\"7\"} 0.02\n"+
			"slipway_test_error_ratio{release=\"6\"} 0.005\n")
	}))
	t.Cleanup(exporter.Close)
	promURL := startPrometheus(t, bin, strings.TrimPrefix(exporter.URL, "http://"))

	in := Input{CanaryRelease: 7, StableRelease: 6}
	ctx := t.Context()
	canary := `slipway_test_error_ratio{release="{{release}}"}`
	tests := []struct {
		name     string
		query    string
		min, max *float64
		want     Verdict
		value    float64
	}{
		{"vector within max", canary, nil, ptr(0.05), Pass, 0.02},
		{"vector above max", canary, nil, ptr(0.01), Fail, 0.02},
		{"vector below min", canary, ptr(0.1), nil, Fail, 0.02},
		{"difference of releases", `sum(slipway_test_error_ratio{release="{{release}}"}) - sum(slipway_test_error_ratio{release="{{stable}}"})`, nil, ptr(0.01), Fail, 0.015},
		{"scalar", `scalar(slipway_test_error_ratio{release="{{stable}}"})`, nil, ptr(0.01), Pass, 0.005},
		{"no such series", `slipway_test_error_ratio{release="99"}`, nil, ptr(1), Wait, 0},
		{"several series", `slipway_test_error_ratio`, nil, ptr(1), Wait, 0},
		{"syntax error", `sum(`, nil, ptr(1), Wait, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewPrometheus(promURL, tt.query, tt.min, tt.max, nil).Check(ctx, in)
			if r.Verdict != tt.want || !near(r.Value, tt.value, 1e-9) {
				t.Errorf("got %s %v (%s), want %s %v", r.Verdict, r.Value, r.Detail, tt.want, tt.value)
			}
			t.Logf("%s: %s", r.Verdict, r.Detail)
		})
	}
}

// startPrometheus runs Prometheus on a free loopback port, scraping target
// every second, until the test ends, and returns its URL once it has
// scraped the target.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: [%q]
`, target), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-waited
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	url := "http://" + addr
	probe := NewPrometheus(url, `slipway_test_error_ratio{release="7"}`, nil, nil, nil)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := probe.Check(t.Context(), Input{})
		if r.Verdict == Pass {
			return url
		}
		select {
		case err := <-waited:
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not return the exporter's gauge within 60s; last: %s %s\n%s", r.Verdict, r.Detail, logs.String())
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a process's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
