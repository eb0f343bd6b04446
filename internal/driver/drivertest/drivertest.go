// Package drivertest is the conformance suite every driver.Driver passes.
// A driver's tests call Run with a constructor; the suite starts instances
// of a tiny HTTP app (testdata/app) and checks the contract of driver.Driver
// from the outside: serving on PORT, environment, idempotency, graceful
// drain, SIGKILL after the drain timeout, restart after a crash, logs and
// recovery.
package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// Run runs the conformance suite. newDriver is called once per subtest and
// must return a driver with its own, empty, state; the suite stops every
// instance it starts. artifact supplies the test app; nil means AppArtifact.
// Subtests run in parallel.
func Run(t *testing.T, newDriver func(t *testing.T) driver.Driver, artifact ArtifactFactory) {
	t.Helper()
	if artifact == nil {
		artifact = AppArtifact
	}
	art := artifact(t)
	s := &suite{newDriver: newDriver, art: art}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"ServesOnPortWithEnviron", s.testServes},
		{"StartIsIdempotent", s.testStartIdempotent},
		{"StopStopsAndIsIdempotent", s.testStop},
		{"GracefulDrain", s.testGracefulDrain},
		{"KillAfterDrainTimeout", s.testKillAfterDrainTimeout},
		{"CrashIsRestarted", s.testCrashRestarted},
		{"LogsTail", s.testLogsTail},
		{"LogsFollow", s.testLogsFollow},
		{"UnknownInstance", s.testUnknown},
		{"RecoverKeepsRunning", s.testRecover},
		{"SecretsDeliveredAndRedacted", s.testSecrets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t)
		})
	}
}

type suite struct {
	newDriver func(t *testing.T) driver.Driver
	art       Artifact
}

// spec returns a spec for the test app with a fresh ID.
func (s *suite) spec(t *testing.T, environ map[string]string) driver.InstanceSpec {
	return driver.InstanceSpec{
		ID:           NewID(t),
		App:          "testapp",
		Env:          "test",
		Release:      7,
		Artifact:     s.art.Path,
		Command:      s.art.Command,
		Environ:      environ,
		DrainTimeout: 5 * time.Second,
	}
}

func (s *suite) testServes(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, map[string]string{"GREETING": "hello world", "EMPTY": ""})
	inst := Start(t, d, spec)
	if inst.ID != spec.ID || inst.App != spec.App || inst.Env != spec.Env || inst.Release != spec.Release {
		t.Errorf("Start returned %+v, want identity of %+v", inst, spec)
	}
	if inst.State != driver.StateRunning {
		t.Errorf("Start returned state %q, want %q", inst.State, driver.StateRunning)
	}
	if inst.StartedAt.IsZero() {
		t.Error("Start returned a zero StartedAt")
	}
	WaitServing(t, inst.Addr)
	_, port, err := net.SplitHostPort(inst.Addr)
	if err != nil {
		t.Fatalf("Addr %q: %v", inst.Addr, err)
	}
	if _, got := Get(t, inst.Addr, "/env?name=PORT"); got != port {
		t.Errorf("PORT = %q, want %q (the port of Addr %s)", got, port, inst.Addr)
	}
	if _, got := Get(t, inst.Addr, "/env?name=GREETING"); got != "hello world" {
		t.Errorf("GREETING = %q, want %q", got, "hello world")
	}
	if _, got := Get(t, inst.Addr, "/environ"); !slices.Contains(strings.Split(got, "\n"), "EMPTY=") {
		t.Errorf("environment lacks EMPTY=:\n%s", got)
	}

	st, err := d.Status(context.Background(), spec.ID)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.State != driver.StateRunning || st.Addr != inst.Addr || st.PID != inst.PID {
		t.Errorf("Status = %+v, want running at %s with pid %d", st, inst.Addr, inst.PID)
	}
	list, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.ContainsFunc(list, func(i driver.Instance) bool { return i.ID == spec.ID }) {
		t.Errorf("List = %+v, want it to contain %s", list, spec.ID)
	}
}

func (s *suite) testStartIdempotent(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	first := Start(t, d, spec)
	spec.Command = "exit 1" // ignored: the instance exists
	second := Start(t, d, spec)
	if second.Addr != first.Addr || second.PID != first.PID || !second.StartedAt.Equal(first.StartedAt) {
		t.Errorf("second Start = %+v, want the first instance %+v", second, first)
	}
	WaitServing(t, first.Addr)
	list, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	n := 0
	for _, i := range list {
		if i.ID == spec.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("List has %d instances with ID %s, want 1", n, spec.ID)
	}
}

func (s *suite) testStop(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)
	Get(t, inst.Addr, "/log?msg=before-stop")
	WaitLogs(t, d, spec.ID, "before-stop")

	ctx := context.Background()
	if err := d.Stop(ctx, spec.ID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	AssertNotServing(t, inst.Addr)
	if err := d.Stop(ctx, spec.ID); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := d.Stop(ctx, "never-started"); err != nil {
		t.Errorf("Stop of an unknown instance: %v", err)
	}
	st, err := d.Status(ctx, spec.ID)
	switch {
	case errors.Is(err, driver.ErrNotFound):
	case err != nil:
		t.Errorf("Status after Stop: %v", err)
	case st.State != driver.StateStopped:
		t.Errorf("Status after Stop = %+v, want stopped or ErrNotFound", st)
	}
	var buf bytes.Buffer
	if err := d.Logs(ctx, spec.ID, 0, false, &buf); err != nil {
		t.Fatalf("Logs after Stop: %v", err)
	}
	if !strings.Contains(buf.String(), "before-stop") {
		t.Errorf("Logs after Stop = %q, want it to contain before-stop", buf.String())
	}
}

func (s *suite) testGracefulDrain(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	spec.DrainTimeout = 10 * time.Second
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := get(inst.Addr, "/slow?d=1s")
		res <- result{code, body, err}
	}()
	WaitFor(t, 10*time.Second, "the slow request to be in flight", func() bool {
		_, body, err := get(inst.Addr, "/inflight")
		return err == nil && body == "1"
	})

	begin := time.Now()
	if err := d.Stop(context.Background(), spec.ID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(begin)
	r := <-res
	if r.err != nil || r.code != http.StatusOK || r.body != "done" {
		t.Errorf("in-flight request during Stop = %d %q %v, want 200 done", r.code, r.body, r.err)
	}
	if took >= spec.DrainTimeout {
		t.Errorf("Stop took %v, want less than the drain timeout %v (the app exits once drained)", took, spec.DrainTimeout)
	}
	AssertNotServing(t, inst.Addr)
}

func (s *suite) testKillAfterDrainTimeout(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, map[string]string{"IGNORE_SIGTERM": "1"})
	spec.DrainTimeout = 500 * time.Millisecond
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)

	begin := time.Now()
	if err := d.Stop(context.Background(), spec.ID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(begin)
	if took < spec.DrainTimeout {
		t.Errorf("Stop took %v, want at least the drain timeout %v", took, spec.DrainTimeout)
	}
	if limit := spec.DrainTimeout + 10*time.Second; took > limit {
		t.Errorf("Stop took %v, want at most %v", took, limit)
	}
	AssertNotServing(t, inst.Addr)
}

func (s *suite) testCrashRestarted(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)
	_, pid0 := Get(t, inst.Addr, "/pid")

	for want := 1; want <= 2; want++ {
		if _, body, err := get(inst.Addr, "/crash"); err != nil || body != "bye" {
			t.Fatalf("GET /crash = %q, %v", body, err)
		}
		var st driver.Instance
		WaitFor(t, 20*time.Second, fmt.Sprintf("restart %d", want), func() bool {
			var err error
			st, err = d.Status(context.Background(), spec.ID)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			return st.Restarts >= want && st.State == driver.StateRunning
		})
		if st.Restarts != want {
			t.Errorf("Restarts = %d, want %d", st.Restarts, want)
		}
		if st.LastExit == "" {
			t.Error("LastExit is empty after a crash")
		}
		if st.Addr != inst.Addr {
			t.Errorf("Addr after restart = %s, want %s", st.Addr, inst.Addr)
		}
		WaitServing(t, inst.Addr)
	}
	if _, pid := Get(t, inst.Addr, "/pid"); pid == pid0 {
		t.Errorf("the app still has pid %s after crashing", pid)
	}
}

func (s *suite) testLogsTail(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)
	Get(t, inst.Addr, "/log?msg=to-stderr&stderr=1")
	for i := 1; i <= 5; i++ {
		Get(t, inst.Addr, fmt.Sprintf("/log?msg=line-%d", i))
	}
	all := WaitLogs(t, d, spec.ID, "line-5")
	for _, want := range []string{"to-stderr\n", "line-1\n", "line-5\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("Logs = %q, want it to contain %q", all, want)
		}
	}
	var buf bytes.Buffer
	if err := d.Logs(context.Background(), spec.ID, 2, false, &buf); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if got, want := buf.String(), "line-4\nline-5\n"; got != want {
		t.Errorf("Logs with tail 2 = %q, want %q", got, want)
	}
}

func (s *suite) testLogsFollow(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)
	Get(t, inst.Addr, "/log?msg=old-line")
	WaitLogs(t, d, spec.ID, "old-line")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf SyncBuffer
	done := make(chan error, 1)
	go func() { done <- d.Logs(ctx, spec.ID, 1, true, &buf) }()
	for i := 1; i <= 3; i++ {
		Get(t, inst.Addr, fmt.Sprintf("/log?msg=new-line-%d", i))
	}
	WaitFor(t, 10*time.Second, "followed lines", func() bool {
		return strings.Contains(buf.String(), "new-line-3\n")
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs with follow returned %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs with follow did not return after ctx ended")
	}
	if got, want := buf.String(), "old-line\nnew-line-1\nnew-line-2\nnew-line-3\n"; got != want {
		t.Errorf("followed logs = %q, want %q", got, want)
	}
}

func (s *suite) testUnknown(t *testing.T) {
	d := s.newDriver(t)
	ctx := context.Background()
	if _, err := d.Status(ctx, "no-such-instance"); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Status of an unknown instance: %v, want ErrNotFound", err)
	}
	if err := d.Logs(ctx, "no-such-instance", 0, false, io.Discard); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Logs of an unknown instance: %v, want ErrNotFound", err)
	}
	if err := d.Stop(ctx, "no-such-instance"); err != nil {
		t.Errorf("Stop of an unknown instance: %v, want nil", err)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("List of a new driver = %v, %v; want empty", list, err)
	}
}

func (s *suite) testRecover(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, nil)
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)
	got, err := d.Recover(context.Background())
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	i := slices.IndexFunc(got, func(i driver.Instance) bool { return i.ID == spec.ID })
	if i < 0 {
		t.Fatalf("Recover = %+v, want it to contain %s", got, spec.ID)
	}
	if got[i].State != driver.StateRunning || got[i].PID != inst.PID || got[i].Restarts != 0 {
		t.Errorf("Recover reported %+v, want running with pid %d and no restarts", got[i], inst.PID)
	}
	WaitServing(t, inst.Addr)
}

// NewID returns an instance ID unique to this call, derived from the test
// name.
func NewID(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:])
}

// Start starts spec on d, failing the test on error, and stops the instance
// when the test ends.
func Start(t *testing.T, d driver.Driver, spec driver.InstanceSpec) driver.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := d.Start(ctx, spec)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Stop(ctx, spec.ID); err != nil {
			t.Errorf("cleanup: stop %s: %v", spec.ID, err)
		}
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return inst
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitServing waits until GET / on addr answers 200.
func WaitServing(t *testing.T, addr string) {
	t.Helper()
	WaitFor(t, 20*time.Second, "the app to serve on "+addr, func() bool {
		code, _, err := get(addr, "/")
		return err == nil && code == http.StatusOK
	})
}

// AssertNotServing fails the test if addr accepts connections.
func AssertNotServing(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections", addr)
	}
}

// WaitLogs waits until the instance's whole log contains want and returns
// the log.
func WaitLogs(t *testing.T, d driver.Driver, id, want string) string {
	t.Helper()
	var buf bytes.Buffer
	WaitFor(t, 10*time.Second, fmt.Sprintf("%q in the logs of %s", want, id), func() bool {
		buf.Reset()
		if err := d.Logs(context.Background(), id, 0, false, &buf); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		return strings.Contains(buf.String(), want)
	})
	return buf.String()
}

// Get does GET path on addr, failing the test unless it answers 200, and
// returns the status code and body.
func Get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	code, body, err := get(addr, path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s%s: %d %s", addr, path, code, body)
	}
	return code, body
}

func get(addr, path string) (int, string, error) {
	client := &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// SyncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Atoi is strconv.Atoi that fails the test on error.
func Atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
