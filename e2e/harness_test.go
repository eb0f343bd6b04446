// Package e2e drives the real slipway binary: a real server on loopback,
// real child processes for instances, the real proxy, and the CLI.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/examples"
	"github.com/slipway-dev/slipway/internal/api"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-e2e-bin-*")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "slipway")
	build := exec.Command("go", "build", "-o", binary, "../cmd/slipway")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build slipway: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one Slipway installation: a data dir, a server, a proxy, and a
// workspace holding a copy of examples/hello.
type env struct {
	t           *testing.T
	data        string
	work        string
	apiAddr     string
	proxyAddr   string
	metricsAddr string
	server      *exec.Cmd
	serverLog   *lockedBuffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, data: t.TempDir(), work: filepath.Join(t.TempDir(), "hello"),
		apiAddr: freePort(t), proxyAddr: freePort(t), metricsAddr: freePort(t)}
	copyExample(t, e.work)
	e.startServer()
	t.Cleanup(e.teardown)
	return e
}

func copyExample(t *testing.T, dst string) {
	t.Helper()
	if err := examples.UnpackHello(dst); err != nil {
		t.Fatal(err)
	}
}

func (e *env) startServer() {
	e.t.Helper()
	e.serverLog = &lockedBuffer{}
	cmd := exec.Command(binary, "server", "--data", e.data, "--listen", e.apiAddr, "--proxy-listen", e.proxyAddr,
		"--proxy-metrics-listen", e.metricsAddr)
	cmd.Stdout, cmd.Stderr = e.serverLog, e.serverLog
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.server = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + e.apiAddr + "/v1/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("server did not come up:\n%s", e.serverLog)
}

// stopServer stops the server with sig and waits for it to exit.
func (e *env) stopServer(sig syscall.Signal) {
	e.t.Helper()
	e.server.Process.Signal(sig)
	done := make(chan struct{})
	go func() { e.server.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		e.server.Process.Kill()
		e.t.Fatalf("server did not stop on %v", sig)
	}
	e.server = nil
}

func (e *env) teardown() {
	if e.t.Failed() && e.serverLog != nil {
		e.t.Logf("server log:\n%s", e.serverLog)
	}
	if e.server == nil {
		e.startServer()
	}
	// Stop every instance and the proxy through the CLI-less path: kill the
	// process groups the data dir knows about.
	e.stopServer(syscall.SIGTERM)
	killAll(e.data)
}

// killAll stops the proxy and every instance shim left in a data dir.
func killAll(data string) {
	if raw, err := os.ReadFile(filepath.Join(data, "proxy.pid")); err == nil {
		var pid int
		fmt.Sscan(string(raw), &pid)
		if pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	out, _ := exec.Command("pgrep", "-f", data).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscan(f, &pid)
		if pid > 1 && pid != os.Getpid() {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// run runs the CLI and returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(binary, append(args, "--server", "http://"+e.apiAddr, "--data", e.data)...)
	cmd.Dir = e.work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("slipway %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// setVersion edits the example's release.go, as a commit would.
func (e *env) setVersion(version string, healthy bool) {
	e.t.Helper()
	src := fmt.Sprintf("package main\n\nconst version = %q\n\nconst healthy = %v\n", version, healthy)
	if err := os.WriteFile(filepath.Join(e.work, "release.go"), []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deploy(envName, version string) string {
	e.t.Helper()
	e.setVersion(version, true)
	return e.ok("deploy", "-f", "slipway.yaml", "--env", envName)
}

var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// get fetches / of host through the proxy.
func (e *env) get(host string) (string, error) {
	req, _ := http.NewRequest("GET", "http://"+e.proxyAddr+"/", nil)
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(body), fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), nil
}

func (e *env) mustServe(host, version string) {
	e.t.Helper()
	body, err := e.get(host)
	if err != nil {
		e.t.Fatalf("GET %s through the proxy: %v", host, err)
	}
	if !strings.Contains(body, "["+version+"]") {
		e.t.Fatalf("%s serves %q, want version %s", host, strings.TrimSpace(body), version)
	}
}

func (e *env) status(app, envName string) api.EnvStatus {
	e.t.Helper()
	var st api.EnvStatus
	if err := json.Unmarshal([]byte(e.ok("status", app, "--env", envName, "--json")), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// traffic sends requests continuously to a host through the proxy and
// counts failures and the versions it saw.
type traffic struct {
	e            *env
	host         string
	sent, failed atomic.Int64
	mu           sync.Mutex
	versions     map[string]int
	order        []string
	errs         []string
	cancel       context.CancelFunc
	wg           sync.WaitGroup
}

func (e *env) startTraffic(host string, workers int) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{e: e, host: host, versions: map[string]int{}, cancel: cancel}
	for range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for ctx.Err() == nil {
				body, err := e.get(host)
				tr.sent.Add(1)
				tr.mu.Lock()
				if err != nil {
					tr.failed.Add(1)
					if len(tr.errs) < 10 {
						tr.errs = append(tr.errs, err.Error())
					}
				} else if i, j := strings.Index(body, "["), strings.Index(body, "]"); i >= 0 && j > i {
					v := body[i+1 : j]
					if tr.versions[v] == 0 {
						tr.order = append(tr.order, v)
					}
					tr.versions[v]++
				}
				tr.mu.Unlock()
			}
		}()
	}
	return tr
}

// stop ends the traffic and fails the test if any request failed.
func (tr *traffic) stop() {
	tr.e.t.Helper()
	tr.cancel()
	tr.wg.Wait()
	tr.e.t.Logf("traffic to %s: %d requests, %d failed, versions %v", tr.host, tr.sent.Load(), tr.failed.Load(), tr.versions)
	if tr.failed.Load() > 0 {
		tr.e.t.Errorf("%d of %d requests failed; first errors: %v", tr.failed.Load(), tr.sent.Load(), tr.errs)
	}
	if tr.sent.Load() == 0 {
		tr.e.t.Error("no request was sent")
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
