package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/product"
)

// ingestRun is one load run against a real slipway server, from the
// first send until every accepted event was queryable.
type ingestRun struct {
	load        window
	queryable   time.Time // when the API first counted every accepted event; zero if it never did within -drain-timeout
	stored      int64     // events the API counted at the end (the sum of the issues' counts)
	storedLoad  int64     // events it counted right after the load stopped
	issues      int
	serverCPU   time.Duration // the server process's CPU time from the first send to queryable (or the timeout)
	clientCPU   time.Duration // this process's CPU time during the load
	benchCPU    time.Duration // this process's CPU time over the serverCPU window
	machineCPU  time.Duration // the whole machine's busy CPU time over the serverCPU window
	points      []point
	hwmKiB      int   // the server's VmHWM at the end
	dbBytes     int64 // errors.db, errors.db-wal and -shm while the server still runs
	dbStopped   int64 // errors.db (and what is left of its WAL) after the server stopped
	sampleErrs  []string
	drainWaited time.Duration // from the end of the load to queryable or giving up
}

// accepted is the number of events the server answered 200 for.
func (r ingestRun) accepted() int64 { return int64(r.load.statuses[200]) }

// endToEnd is the accepted events per second from the first send until
// they were all queryable (0 if they never were).
func (r ingestRun) endToEnd() float64 {
	if r.queryable.IsZero() {
		return 0
	}
	return float64(r.accepted()) / r.queryable.Sub(r.load.start).Seconds()
}

// others is the CPU time (in cores) other processes than the server and
// this one used while the run was measured.
func (r ingestRun) others() float64 {
	end := r.queryable
	if end.IsZero() {
		end = r.load.end.Add(r.drainWaited)
	}
	return (r.machineCPU - r.serverCPU - r.benchCPU).Seconds() / end.Sub(r.load.start).Seconds()
}

// drain is how long the backlog took to be queryable after the load stopped.
func (r ingestRun) drain() time.Duration {
	if r.queryable.IsZero() || r.queryable.Before(r.load.end) {
		return 0
	}
	return r.queryable.Sub(r.load.end)
}

// ingest starts a fresh slipway server (its own data dir), applies the
// example's spec, and drives clients clients posting the corpus to the
// environment's DSN for the run's duration; then it polls the API until
// every accepted event is counted in an issue.
func (b *bench) ingest(ctx context.Context, clients int, gzipped bool) (ingestRun, error) {
	var run ingestRun
	b.runs++
	data := filepath.Join(b.tmp, fmt.Sprintf("data-%d", b.runs))
	srv, err := product.StartServer(ctx, b.procs, b.slipway, data, "", "--errors-rate", b.opts.errorsRate)
	if err != nil {
		return run, err
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	client, err := srv.Client()
	if err != nil {
		return run, err
	}
	if _, err := client.Apply(ctx, *b.app); err != nil {
		return run, fmt.Errorf("apply the example's spec: %w", err)
	}
	info, err := client.ErrorsDSN(ctx, b.app.Name, b.env)
	if err != nil {
		return run, fmt.Errorf("DSN of %s/%s: %w", b.app.Name, b.env, err)
	}
	p, err := parseDSN(info.DSN)
	if err != nil {
		return run, err
	}
	reqs, err := b.corpus.requests(p, gzipped)
	if err != nil {
		return run, err
	}
	token, err := os.ReadFile(filepath.Join(data, "token"))
	if err != nil {
		return run, fmt.Errorf("read the server's token: %w", err)
	}
	issuesURL := fmt.Sprintf("http://%s/v1/apps/%s/envs/%s/errors?limit=10000", srv.API, b.app.Name, b.env)
	stored := func(ctx context.Context) (int64, int, error) {
		return storedEvents(ctx, issuesURL, strings.TrimSpace(string(token)))
	}

	pid := srv.Pid()
	cpu0, err := proc.ReadStat(pid)
	if err != nil {
		return run, fmt.Errorf("read the server's CPU time: %w", err)
	}
	self0, busy0 := proc.SelfCPU(), machineBusy()
	s := startSampler(ctx, pid, 100*time.Millisecond, time.Second, stored)
	run.load = drive(ctx, p.addr, reqs, clients, gzipped, b.opts.duration, &b.ids)
	run.clientCPU = proc.SelfCPU() - self0
	run.storedLoad, _, _ = stored(ctx)

	deadline := time.Now().Add(b.opts.drainTimeout)
	for ctx.Err() == nil {
		n, issues, err := stored(ctx)
		now := time.Now()
		if err == nil {
			run.stored, run.issues = n, issues
			if n >= run.accepted() {
				run.queryable = now
				break
			}
		}
		if now.After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.drainWaited = time.Since(run.load.end)
	cpu1, err := proc.ReadStat(pid)
	if err != nil {
		return run, fmt.Errorf("read the server's CPU time: %w", err)
	}
	run.serverCPU = cpu1.CPU - cpu0.CPU
	run.benchCPU, run.machineCPU = proc.SelfCPU()-self0, machineBusy()-busy0
	run.points, run.sampleErrs = s.stop()
	if m, err := readStatus(pid); err == nil {
		run.hwmKiB = m.HWM
	}
	db := filepath.Join(data, "errors.db")
	run.dbBytes = fileSizes(db, db+"-wal", db+"-shm")
	srv.Stop()
	stopped = true
	run.dbStopped = fileSizes(db, db+"-wal", db+"-shm")
	return run, context.Cause(ctx)
}

// storedEvents asks the API for an environment's issues and returns the
// sum of their event counts and how many there are.
func storedEvents(ctx context.Context, url, token string) (events int64, issues int, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	var list []struct {
		Events int64 `json:"events"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	for _, is := range list {
		events += is.Events
	}
	return events, len(list), nil
}

// fileSizes sums the sizes of the files that exist.
func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}
