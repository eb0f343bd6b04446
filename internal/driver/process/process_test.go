package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/driver/drivertest"
)

// shimArg makes the test binary act as the shim: the driver under test runs
// [test binary, shimArg, start|run, DIR].
const shimArg = "process-shim"

var app struct {
	once sync.Once
	dir  string
	art  drivertest.Artifact
	err  error
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == shimArg {
		if err := RunShim(context.Background(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if app.dir != "" {
		os.RemoveAll(app.dir)
	}
	os.Exit(code)
}

// testApp returns the test app's artifact, built once per test binary.
func testApp(t *testing.T) drivertest.Artifact {
	t.Helper()
	app.once.Do(func() {
		app.dir, app.err = os.MkdirTemp("", "slipway-process-test-")
		if app.err == nil {
			app.art, app.err = drivertest.BuildApp(app.dir)
		}
	})
	if app.err != nil {
		t.Fatal(app.err)
	}
	return app.art
}

// testOptions returns options for a driver in a fresh directory, with the
// test binary as the shim and short timings.
func testOptions(t *testing.T) Options {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Dir:         t.TempDir(),
		ShimCommand: []string{exe, shimArg},
		// A program built with -race sleeps a second on exit by default.
		ShimEnv:         []string{"GORACE=atexit_sleep_ms=0"},
		Logger:          slog.New(slog.NewTextHandler(t.Output(), nil)),
		Backoff:         Backoff{Initial: 20 * time.Millisecond, Max: time.Second},
		LogPollInterval: 20 * time.Millisecond,
	}
}

// newDriver returns a driver on opts that stops all its instances when the
// test ends.
func newDriver(t *testing.T, opts Options) *Driver {
	t.Helper()
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		list, err := d.List(ctx)
		if err != nil {
			t.Error(err)
		}
		for _, inst := range list {
			if err := d.Stop(ctx, inst.ID); err != nil {
				t.Error(err)
			}
		}
	})
	return d
}

func (a testSpec) spec(t *testing.T) driver.InstanceSpec {
	return driver.InstanceSpec{
		ID:           drivertest.NewID(t),
		App:          "testapp",
		Env:          "test",
		Release:      1,
		Artifact:     a.Path,
		Command:      a.Command,
		Environ:      a.environ,
		DrainTimeout: 5 * time.Second,
	}
}

type testSpec struct {
	drivertest.Artifact
	environ map[string]string
}

func TestConformance(t *testing.T) {
	art := testApp(t)
	drivertest.Run(t, func(t *testing.T) driver.Driver {
		return newDriver(t, testOptions(t))
	}, func(*testing.T) drivertest.Artifact { return art })
}

// A new Driver on the same directory, as after kill -9 of the control
// plane, re-adopts the running instance without restarting it.
func TestRecoverAfterControlPlaneRestart(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	old := newDriver(t, opts)
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	inst := drivertest.Start(t, old, spec)
	drivertest.WaitServing(t, inst.Addr)
	_, appPID := drivertest.Get(t, inst.Addr, "/pid")

	d := newDriver(t, opts)
	ctx := context.Background()
	got, err := d.Recover(ctx)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(got) != 1 || got[0].ID != spec.ID || got[0].State != driver.StateRunning ||
		got[0].PID != inst.PID || got[0].Restarts != 0 || got[0].Addr != inst.Addr {
		t.Fatalf("Recover = %+v, want %s running with pid %d at %s", got, spec.ID, inst.PID, inst.Addr)
	}
	if _, pid := drivertest.Get(t, inst.Addr, "/pid"); pid != appPID {
		t.Errorf("app pid after Recover = %s, want %s (not restarted)", pid, appPID)
	}
	if err := d.Stop(ctx, spec.ID); err != nil {
		t.Fatalf("Stop with the new driver: %v", err)
	}
	drivertest.AssertNotServing(t, inst.Addr)
	if _, err := d.Status(ctx, spec.ID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Status after Stop: %v, want ErrNotFound", err)
	}
}

// A shim killed with SIGKILL takes its process along, and Recover reports
// the instance stopped and cleans it up.
func TestRecoverDeadShim(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	d := newDriver(t, opts)
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	inst := drivertest.Start(t, d, spec)
	drivertest.WaitServing(t, inst.Addr)
	_, appPID := drivertest.Get(t, inst.Addr, "/pid")
	dir := d.instanceDir(spec.ID)
	st, err := readState(dir)
	if err != nil || st == nil {
		t.Fatalf("readState = %v, %v", st, err)
	}
	if err := syscall.Kill(st.ShimPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitFor(t, 5*time.Second, "the shim to die", func() bool {
		return !isShim(st.ShimPID, st.ShimStartTicks, string(dir))
	})
	ctx := context.Background()
	if got, err := d.Status(ctx, spec.ID); err != nil || got.State != driver.StateStopped || got.LastExit != "supervisor died" {
		t.Errorf("Status with a dead shim = %+v, %v; want stopped, supervisor died", got, err)
	}

	got, err := newDriver(t, opts).Recover(ctx)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(got) != 1 || got[0].ID != spec.ID || got[0].State != driver.StateStopped {
		t.Errorf("Recover = %+v, want %s stopped", got, spec.ID)
	}
	if st, err := readStat(drivertest.Atoi(t, appPID)); err == nil && st.live() {
		t.Errorf("the orphaned app (pid %s) is still running after Recover", appPID)
	}
	drivertest.AssertNotServing(t, inst.Addr)
	assertOnlyLogs(t, dir)
	if _, err := d.Status(ctx, spec.ID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Status after Recover: %v, want ErrNotFound", err)
	}
	drivertest.WaitLogs(t, d, spec.ID, "listening on")
}

func assertOnlyLogs(t *testing.T, dir instanceDir) {
	t.Helper()
	ents, err := os.ReadDir(string(dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{logsName}) {
		t.Errorf("instance directory holds %q, want only %s", names, logsName)
	}
}

// A shim that does not react to SIGTERM is killed after the drain timeout
// and a margin, and its process with it.
func TestStopHungShim(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	d.stopMargin = 300 * time.Millisecond
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	spec.DrainTimeout = 200 * time.Millisecond
	inst := drivertest.Start(t, d, spec)
	drivertest.WaitServing(t, inst.Addr)
	st, err := readState(d.instanceDir(spec.ID))
	if err != nil || st == nil {
		t.Fatalf("readState = %v, %v", st, err)
	}
	if err := syscall.Kill(st.ShimPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := d.Stop(context.Background(), spec.ID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(begin); took < 500*time.Millisecond {
		t.Errorf("Stop took %v, want the drain timeout plus the margin, 500ms", took)
	}
	drivertest.AssertNotServing(t, inst.Addr)
	assertOnlyLogs(t, d.instanceDir(spec.ID))
}

func TestStopRemovesWorkingFiles(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	drivertest.Start(t, d, spec)
	if err := d.Stop(context.Background(), spec.ID); err != nil {
		t.Fatal(err)
	}
	assertOnlyLogs(t, d.instanceDir(spec.ID))
	ents, err := os.ReadDir(d.instanceDir(spec.ID).logs())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Error("logs directory is empty")
	}
}

// Neither the instance nor its shim sees the driver's environment beyond
// the base variables.
func TestEnvironmentDoesNotLeak(t *testing.T) {
	t.Setenv("SLIPWAY_TOKEN", "secret-token")
	d := newDriver(t, testOptions(t))
	spec := testSpec{Artifact: testApp(t), environ: map[string]string{"APP_VAR": "x"}}.spec(t)
	inst := drivertest.Start(t, d, spec)
	drivertest.WaitServing(t, inst.Addr)

	_, environ := drivertest.Get(t, inst.Addr, "/environ")
	if strings.Contains(environ, "secret-token") || strings.Contains(environ, "SLIPWAY_TOKEN") {
		t.Errorf("the app's environment leaks SLIPWAY_TOKEN:\n%s", environ)
	}
	var names []string
	for kv := range strings.SplitSeq(environ, "\n") {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	for _, k := range names {
		if !slices.Contains([]string{"PATH", "HOME", "LANG", "TMPDIR", "APP_VAR", "PORT", "PWD", "SHLVL", "OLDPWD", "_"}, k) {
			t.Errorf("unexpected variable %s in the app's environment", k)
		}
	}
	st, err := readState(d.instanceDir(spec.ID))
	if err != nil || st == nil {
		t.Fatalf("readState = %v, %v", st, err)
	}
	shimEnv, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.ShimPID))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shimEnv), "secret-token") {
		t.Error("the shim's environment leaks SLIPWAY_TOKEN")
	}
}

// The log rotates at its size limit, keeps LogKeep files of whole lines,
// and Logs with follow sees every line across rotations.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	opts.LogMaxBytes = 4096
	opts.LogKeep = 3
	d := newDriver(t, opts)
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	inst := drivertest.Start(t, d, spec)
	drivertest.WaitServing(t, inst.Addr)
	drivertest.WaitLogs(t, d, spec.ID, "listening on")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var followed drivertest.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- d.Logs(ctx, spec.ID, 0, true, &followed) }()

	const batches, perBatch = 20, 30
	for b := range batches {
		drivertest.Get(t, inst.Addr, fmt.Sprintf("/spam?n=%d&size=100&prefix=b%02d-", perBatch, b))
		time.Sleep(50 * time.Millisecond)
	}
	last := fmt.Sprintf("b%02d-%06d", batches-1, perBatch-1)
	drivertest.WaitFor(t, 10*time.Second, "the last line to be followed", func() bool {
		return strings.Contains(followed.String(), last)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Logs with follow: %v", err)
	}

	// Every spam line arrived, once, in order.
	var want []string
	for b := range batches {
		for i := range perBatch {
			want = append(want, fmt.Sprintf("b%02d-%06d", b, i))
		}
	}
	var got []string
	for line := range strings.Lines(followed.String()) {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "b") {
			got = append(got, f[0])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("followed %d spam lines, want %d in order", len(got), len(want))
	}

	logs := d.instanceDir(spec.ID).logs()
	ents, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	wantNames := []string{"current.log", "current.log.1", "current.log.2", "current.log.3", "shim.log"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("log files = %q, want %q", names, wantNames)
	}
	whole := regexp.MustCompile(`^(b\d\d-\d{6} x+|listening on .*)$`)
	for _, name := range names[:4] {
		f, err := os.Open(filepath.Join(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		if fi.Size() > opts.LogMaxBytes {
			t.Errorf("%s has %d bytes, more than the limit %d", name, fi.Size(), opts.LogMaxBytes)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if !whole.MatchString(sc.Text()) {
				t.Errorf("%s: broken line %q", name, sc.Text())
			}
		}
		f.Close()
	}
}

// A process that keeps crashing is restarted with growing delays.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	opts.Backoff = Backoff{Initial: 20 * time.Millisecond, Max: 10 * time.Second}
	d := newDriver(t, opts)
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	spec.Command = "echo boom; exit 3"
	begin := time.Now()
	drivertest.Start(t, d, spec)
	var st driver.Instance
	drivertest.WaitFor(t, 20*time.Second, "5 restarts", func() bool {
		var err error
		st, err = d.Status(context.Background(), spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Restarts >= 5
	})
	// The restarts waited 20, 40, 80, 160 and 320ms: without backoff they
	// would have taken a few milliseconds.
	if took, least := time.Since(begin), 620*time.Millisecond; took < least {
		t.Errorf("5 restarts took %v, want at least %v", took, least)
	}
	if st.LastExit != "exit status 3" {
		t.Errorf("LastExit = %q, want %q", st.LastExit, "exit status 3")
	}
	if st.State != driver.StateRestarting && st.State != driver.StateRunning {
		t.Errorf("State = %q, want restarting or running", st.State)
	}
	logs := drivertest.WaitLogs(t, d, spec.ID, "boom")
	if n := strings.Count(logs, "boom\n"); n < 3 {
		t.Errorf("the log has %d boom lines, want one per run", n)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	art := testApp(t)
	notTar := filepath.Join(t.TempDir(), "bad.tar.gz")
	if err := os.WriteFile(notTar, []byte("\x1f\x8bnot really gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(*driver.InstanceSpec)
	}{
		{"invalid id", func(s *driver.InstanceSpec) { s.ID = "../escape" }},
		{"no command", func(s *driver.InstanceSpec) { s.Command = "" }},
		{"missing artifact", func(s *driver.InstanceSpec) { s.Artifact = "/nonexistent/app.tar.gz" }},
		{"corrupt artifact", func(s *driver.InstanceSpec) { s.Artifact = notTar }},
		{"bad environ", func(s *driver.InstanceSpec) { s.Environ = map[string]string{"A=B": "x"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec{Artifact: art}.spec(t)
			tt.modify(&spec)
			_, err := d.Start(context.Background(), spec)
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), "start instance") {
				t.Errorf("error %q lacks context", err)
			}
			if _, err := d.Status(context.Background(), spec.ID); !errors.Is(err, driver.ErrNotFound) {
				t.Errorf("Status after a failed Start: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestStartCancelled(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	spec := testSpec{Artifact: testApp(t)}.spec(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Start(ctx, spec); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled ctx: %v, want context.Canceled", err)
	}
	list, err := d.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want nothing", list, err)
	}
}

// Concurrent Starts of one ID start one instance; of different IDs, get
// different ports.
func TestConcurrentStarts(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	art := testApp(t)
	specs := []driver.InstanceSpec{testSpec{Artifact: art}.spec(t), testSpec{Artifact: art}.spec(t)}
	var mu sync.Mutex
	got := map[string][]driver.Instance{}
	var wg sync.WaitGroup
	for i := range 6 {
		spec := specs[i%2]
		wg.Go(func() {
			inst, err := d.Start(context.Background(), spec)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[spec.ID] = append(got[spec.ID], inst)
			mu.Unlock()
		})
	}
	wg.Wait()
	addrs := map[string]bool{}
	for id, insts := range got {
		for _, inst := range insts[1:] {
			if inst.PID != insts[0].PID || inst.Addr != insts[0].Addr {
				t.Errorf("%s: Starts returned %+v and %+v", id, insts[0], inst)
			}
		}
		addrs[insts[0].Addr] = true
	}
	if len(addrs) != 2 {
		t.Errorf("two instances got addresses %v", addrs)
	}
	list, _ := d.List(context.Background())
	if len(list) != 2 {
		t.Errorf("List has %d instances, want 2", len(list))
	}
}

func TestNewRequiresOptions(t *testing.T) {
	if _, err := New(Options{ShimCommand: []string{"x"}}); err == nil {
		t.Error("New without Dir succeeded")
	}
	if _, err := New(Options{Dir: t.TempDir()}); err == nil {
		t.Error("New without ShimCommand succeeded")
	}
}

func TestRunShimUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"run"}, {"run", "relative/dir"}, {"bogus", "/abs"}} {
		if err := RunShim(context.Background(), args); err == nil {
			t.Errorf("RunShim(%q) succeeded", args)
		}
	}
}

func TestKeyedLocks(t *testing.T) {
	var k keyedLocks
	unlock, err := k.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := k.lock(context.Background(), "b")
	if err != nil {
		t.Fatalf("lock of another key: %v", err)
	}
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("lock of a held key: %v, want deadline exceeded", err)
	}
	unlock()
	unlock2, err := k.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
	if len(k.m) != 0 {
		t.Errorf("%d locks left, want none", len(k.m))
	}
}
