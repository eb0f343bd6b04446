package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// testRuntime runs each instance as a real HTTP server on loopback whose
// health answer is chosen per release. It stands in for a driver so the
// executor's decisions can be checked step by step; the e2e tests run the
// real process driver.
type testRuntime struct {
	mu      sync.Mutex
	servers map[string]*httptest.Server
	health  map[int]int // release -> status of /healthz
	failAt  int         // release whose Start fails
	events  []string
}

func (r *testRuntime) record(ev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *testRuntime) Start(ctx context.Context, s driver.InstanceSpec) (driver.Instance, error) {
	if s.Release == r.failAt {
		return driver.Instance{}, errors.New("no space left on device")
	}
	code := r.health[s.Release]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { w.WriteHeader(code) }))
	r.mu.Lock()
	r.servers[s.ID] = srv
	r.mu.Unlock()
	r.record("start r" + fmt.Sprint(s.Release))
	return driver.Instance{ID: s.ID, App: s.App, Env: s.Env, Release: s.Release, Addr: strings.TrimPrefix(srv.URL, "http://"), State: driver.StateRunning}, nil
}

func (r *testRuntime) Stop(ctx context.Context, id string) error {
	r.mu.Lock()
	srv := r.servers[id]
	delete(r.servers, id)
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
		r.record("stop " + id[:strings.Index(id, "-r")+3])
	}
	return nil
}

func (r *testRuntime) Status(ctx context.Context, id string) (driver.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.servers[id] == nil {
		return driver.Instance{}, driver.ErrNotFound
	}
	return driver.Instance{ID: id, State: driver.StateRunning}, nil
}

// testRouter records publishes and drains in the runtime's event log, so
// the order of switch, drain and stop is visible.
type testRouter struct {
	rt    *testRuntime
	store *store.Store
}

func (r *testRouter) Publish(ctx context.Context) error {
	envs, _ := r.store.Environments(ctx)
	var live []string
	for _, e := range envs {
		live = append(live, fmt.Sprintf("%s=r%d", e.Env, e.LiveRelease))
	}
	r.rt.record("publish " + strings.Join(live, ","))
	return nil
}

func (r *testRouter) Drain(ctx context.Context, ids []string, timeout time.Duration) (int, error) {
	r.rt.record(fmt.Sprintf("drain %d", len(ids)))
	return 0, nil
}

func testApp() spec.App {
	app := spec.App{Name: "web", Build: spec.Build{Command: "true", Output: "dist"}, Run: spec.Run{Command: "./web"},
		Health:       spec.Health{Path: "/healthz"},
		Environments: map[string]spec.Environment{"prod": {Host: "web.localhost", Replicas: 2}}}
	a := app.WithDefaults()
	a.Health.Interval = spec.Duration(10 * time.Millisecond)
	a.Health.DeployTimeout = spec.Duration(300 * time.Millisecond)
	return *a
}

func newExecutor(t *testing.T) (*Executor, *testRuntime, *store.Store) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := &testRuntime{servers: map[string]*httptest.Server{}, health: map[int]int{1: 200, 2: 503, 3: 200}}
	t.Cleanup(func() {
		for _, s := range rt.servers {
			s.Close()
		}
	})
	app := testApp()
	if err := st.AddArtifact(context.Background(), "sha256:"+strings.Repeat("a", 64), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyApp(context.Background(), app, "test"); err != nil {
		t.Fatal(err)
	}
	ex := &Executor{Store: st, Runtime: rt, Router: &testRouter{rt: rt, store: st}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Gate: Gate{Status: rt.Status}, Artifact: func(d string) string { return "/artifacts/" + d }}
	return ex, rt, st
}

func deployOnce(t *testing.T, ex *Executor, st *store.Store) Outcome {
	t.Helper()
	rel, ro, err := st.BeginRollout(context.Background(), store.NewRollout{App: "web", Env: "prod",
		Artifact: "sha256:" + strings.Repeat("a", 64), Source: "deploy", Strategy: "blue-green", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ex.Run(context.Background(), ro, rel, NewControl())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBlueGreen(t *testing.T) {
	ex, rt, st := newExecutor(t)
	ctx := context.Background()

	// Release 1: first deploy, nothing to drain.
	if out := deployOnce(t, ex, st); out.State != store.RolloutSucceeded {
		t.Fatalf("release 1: %+v", out)
	}
	// Release 2 never passes its health check: fails, is stopped, release 1 stays live.
	out := deployOnce(t, ex, st)
	if out.State != store.RolloutFailed || !strings.Contains(out.Reason, "answered 503") {
		t.Fatalf("release 2: %+v", out)
	}
	if live, _ := st.LiveRelease(ctx, "web", "prod"); live != 1 {
		t.Fatalf("live release after a failed deploy: %d, want 1", live)
	}
	// Release 3 replaces release 1: switch, then drain, then stop the old.
	if out := deployOnce(t, ex, st); out.State != store.RolloutSucceeded {
		t.Fatalf("release 3: %+v", out)
	}
	want := []string{
		"start r1", "start r1", "publish prod=r1",
		"start r2", "start r2", "stop web-prod-r2", "stop web-prod-r2",
		"start r3", "start r3", "publish prod=r3", "drain 2", "stop web-prod-r1", "stop web-prod-r1",
	}
	if got := strings.Join(rt.events, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	insts, _ := st.Instances(ctx, "web", "prod")
	if len(insts) != 2 || insts[0].Release != 3 || insts[1].Release != 3 {
		t.Fatalf("instances left: %+v", insts)
	}
	rels, _ := st.Releases(ctx, "web", "prod")
	statuses := []string{}
	for _, r := range rels {
		statuses = append(statuses, r.Status)
	}
	if strings.Join(statuses, ",") != "live,failed,superseded" {
		t.Fatalf("release statuses newest first: %v", statuses)
	}
}

func TestBlueGreenStartFailure(t *testing.T) {
	ex, rt, st := newExecutor(t)
	deployOnce(t, ex, st)
	rt.failAt = 2
	out := deployOnce(t, ex, st)
	if out.State != store.RolloutFailed || !strings.Contains(out.Reason, "no space left on device") {
		t.Fatalf("start failure: %+v", out)
	}
	insts, _ := st.Instances(context.Background(), "web", "prod")
	if len(insts) != 2 || insts[0].Release != 1 {
		t.Fatalf("after a failed start the old instances must remain, and only they: %+v", insts)
	}
}

// A shutdown during the health gate leaves the rollout running in the store
// (for recovery) and reports ErrInterrupted.
func TestBlueGreenInterrupted(t *testing.T) {
	ex, rt, st := newExecutor(t)
	deployOnce(t, ex, st)
	rt.health[2] = 503
	rel, ro, err := st.BeginRollout(context.Background(), store.NewRollout{App: "web", Env: "prod",
		Artifact: "sha256:" + strings.Repeat("a", 64), Source: "deploy", Strategy: "blue-green", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := ex.Run(ctx, ro, rel, NewControl()); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("BlueGreen after cancel: %v, want ErrInterrupted", err)
	}
	got, _ := st.Rollout(context.Background(), ro.ID)
	if got.State != store.RolloutRunning || got.Phase != store.PhaseStarting || len(got.NewInstances) != 2 || len(got.OldInstances) != 2 {
		t.Fatalf("interrupted rollout as stored: %+v", got)
	}
}
