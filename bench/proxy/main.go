// Command proxy benchmarks Slipway's data plane against a direct
// connection, in one run:
//
//	go run ./bench/proxy [-duration 5s] [-concurrency 16] [-size 128]
//
// It starts a small HTTP backend and the proxy (proxy.Serve, fed a routing
// table over its control socket) as child processes of itself, then drives
// keep-alive HTTP/1.1 load for -duration straight at the backend, through
// the proxy with plain routing, and through the proxy splitting 50% of new
// clients to a canary release (the same backend process under a second
// backend ID; the load generator keeps no cookies, so every request is a
// new client: a draw and a Set-Cookie each). For each it prints requests/s
// and p50/p99 latency, for the proxied runs the proxy process's CPU time
// per request (user + system, read from /proc/<pid>/stat; Linux only)
// next to the backend's, and for the split how the proxy's per-release
// metrics divided the requests.
//
// Load generator, backend and proxy share the machine's cores, so the
// figures compare the two paths on one box rather than measure a ceiling.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/proxy"
)

const roleEnv = "SLIPWAY_PROXY_BENCH_ROLE"

func main() {
	var err error
	switch os.Getenv(roleEnv) {
	case "backend":
		err = runBackend()
	case "proxy":
		err = runProxy()
	default:
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(1)
	}
}

// runBackend serves a fixed body of $SIZE bytes and prints its address.
func runBackend() error {
	size, _ := strconv.Atoi(os.Getenv("SIZE"))
	body := []byte(strings.Repeat("x", size))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("ADDR", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
}

// runProxy runs proxy.Serve with the control socket $SOCKET until
// SIGTERM, printing its traffic address.
func runProxy() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("ADDR", ln.Addr())
	return proxy.Serve(ctx, proxy.ServeOptions{
		Listener:      ln,
		ControlSocket: os.Getenv("SOCKET"),
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

func run() error {
	duration := flag.Duration("duration", 5*time.Second, "measured load per phase")
	warmup := flag.Duration("warmup", time.Second, "unmeasured load before each phase")
	concurrency := flag.Int("concurrency", 16, "concurrent keep-alive clients")
	size := flag.Int("size", 128, "response body bytes")
	flag.Parse()

	dir, err := os.MkdirTemp("", "proxybench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "control.sock")

	backend, backendAddr, err := startChild("backend", "SIZE="+strconv.Itoa(*size))
	if err != nil {
		return err
	}
	defer stopChild(backend)
	px, proxyAddr, err := startChild("proxy", "SOCKET="+sock)
	if err != nil {
		return err
	}
	defer stopChild(px)

	ctx := context.Background()
	c := proxy.NewClient(sock)
	if err := waitPing(ctx, c); err != nil {
		return err
	}
	if _, err := c.SetTable(ctx, proxy.Table{Version: 1, Routes: []proxy.Route{{
		Host: "bench.test", App: "bench", Env: "bench", Release: 1,
		Backends: []proxy.Backend{{ID: "bench-1", Addr: backendAddr, Release: 1}},
	}}}); err != nil {
		return err
	}

	fmt.Printf("proxy bench: %d clients, %s per phase (+%s warm-up), %d-byte responses, GOMAXPROCS %d in each process\n",
		*concurrency, *duration, *warmup, *size, runtime.GOMAXPROCS(0))
	direct := load("http://"+backendAddr, "bench.test", *concurrency, *warmup, *duration, nil)
	printResult("direct", direct)

	// measureCPU returns a mark function for load and the proxy's and
	// backend's CPU time between its two calls.
	measureCPU := func() (mark func(bool), cpu func() (proxy, backend time.Duration)) {
		var proxyCPU, backendCPU time.Duration
		mark = func(start bool) {
			p, b := cpuTime(px.Process.Pid), cpuTime(backend.Process.Pid)
			if start {
				proxyCPU, backendCPU = -p, -b
			} else {
				proxyCPU, backendCPU = proxyCPU+p, backendCPU+b
			}
		}
		return mark, func() (time.Duration, time.Duration) { return proxyCPU, backendCPU }
	}

	mark, plainCPU := measureCPU()
	proxied := load("http://"+proxyAddr, "bench.test", *concurrency, *warmup, *duration, mark)
	printResult("via proxy", proxied)

	// The same backend process as a second release taking 50% of new
	// clients. The load generator keeps no cookies, so every request is a
	// new client: a random draw and a Set-Cookie each, the split's worst
	// case.
	if _, err := c.SetTable(ctx, proxy.Table{Version: 2, Routes: []proxy.Route{{
		Host: "bench.test", App: "bench", Env: "bench", Release: 1,
		Backends: []proxy.Backend{{ID: "bench-1", Addr: backendAddr, Release: 1}},
		Canary: &proxy.Canary{Release: 2, Weight: 50,
			Backends: []proxy.Backend{{ID: "bench-2", Addr: backendAddr, Release: 2}}},
	}}}); err != nil {
		return err
	}
	before, err := c.Metrics(ctx, 0)
	if err != nil {
		return err
	}
	mark, splitCPU := measureCPU()
	split := load("http://"+proxyAddr, "bench.test", *concurrency, *warmup, *duration, mark)
	printResult("split 50%", split)
	after, err := c.Metrics(ctx, 0)
	if err != nil {
		return err
	}

	fmt.Printf("%-10s  %-9s p50 %+.1fµs  p99 %+.1fµs  throughput %.0f%% of direct\n", "overhead", "proxy",
		us(proxied.p50-direct.p50), us(proxied.p99-direct.p99), 100*proxied.rps/direct.rps)
	fmt.Printf("%-10s  %-9s p50 %+.1fµs  p99 %+.1fµs  throughput %.0f%% of direct, %.0f%% of plain routing\n", "overhead", "split",
		us(split.p50-direct.p50), us(split.p99-direct.p99), 100*split.rps/direct.rps, 100*split.rps/proxied.rps)
	for _, ph := range []struct {
		name string
		r    result
		cpu  func() (time.Duration, time.Duration)
	}{{"proxy", proxied, plainCPU}, {"split", split, splitCPU}} {
		pc, bc := ph.cpu()
		n := time.Duration(max(ph.r.requests, 1))
		fmt.Printf("%-10s  %-9s proxy %.1fµs/request, backend %.1fµs/request (user+system, %d requests)\n", "cpu", ph.name,
			us(pc/n), us(bc/n), ph.r.requests)
	}
	printSplit(before, after)
	return nil
}

// printSplit reports how the split phase's requests divided between the
// releases, and the proxy's own p99 per release, from the proxy's
// per-release metrics (the differences between two snapshots).
func printSplit(before, after proxy.Metrics) {
	var total uint64
	type rel struct {
		n   uint64
		p99 float64
	}
	var rels []rel
	var names []int
	for _, a := range after.Total {
		n := a.Requests
		h := proxy.Histogram{Bounds: a.Latency.Bounds, Counts: slices.Clone(a.Latency.Counts)}
		for _, b := range before.Total {
			if b.Host == a.Host && b.Release == a.Release {
				n -= b.Requests
				for i := range h.Counts {
					h.Counts[i] -= b.Latency.Counts[i]
				}
			}
		}
		total += n
		rels = append(rels, rel{n, h.Quantile(0.99)})
		names = append(names, a.Release)
	}
	if total == 0 {
		return
	}
	var parts []string
	for i, r := range rels {
		parts = append(parts, fmt.Sprintf("release %d %d (%.1f%%, proxy-measured p99 %.0fµs)",
			names[i], r.n, 100*float64(r.n)/float64(total), r.p99*1e6))
	}
	fmt.Printf("%-10s  %s (warm-up included)\n", "split", strings.Join(parts, ", "))
}

type result struct {
	requests int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

func printResult(name string, r result) {
	fmt.Printf("%-10s  %8.0f req/s  p50 %7.1fµs  p99 %7.1fµs  (%d requests, %d errors)\n",
		name, r.rps, us(r.p50), us(r.p99), r.requests, r.errors)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// load runs concurrency keep-alive clients against url for warmup, then
// for duration while recording latencies. mark, if set, is called as the
// measured part starts and ends.
func load(url, host string, concurrency int, warmup, duration time.Duration, mark func(start bool)) result {
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(duration)
	for range concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<16)
			var e int
			req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
			req.Host = host
			for {
				start := time.Now()
				if start.After(end) {
					break
				}
				res, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				if start.Before(measureFrom) {
					continue
				}
				if err != nil {
					e++
					continue
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			errs += e
			mu.Unlock()
		})
	}
	if mark != nil {
		time.Sleep(time.Until(measureFrom))
		mark(true)
		time.Sleep(time.Until(end))
		mark(false)
	}
	wg.Wait()
	slices.Sort(latencies)
	r := result{requests: len(latencies), errors: errs, rps: float64(len(latencies)) / duration.Seconds()}
	if len(latencies) > 0 {
		r.p50 = latencies[len(latencies)*50/100]
		r.p99 = latencies[len(latencies)*99/100]
	}
	return r
}

// startChild re-runs this binary in role, returning the address it prints.
func startChild(role string, env ...string) (*exec.Cmd, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", role, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		stopChild(cmd)
		return nil, "", fmt.Errorf("%s did not report its address: %q %v", role, line, err)
	}
	return cmd, addr, nil
}

func stopChild(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitPing(ctx context.Context, c *proxy.Client) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuTime is the user+system CPU time of process pid so far, from
// /proc/<pid>/stat (clock ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
