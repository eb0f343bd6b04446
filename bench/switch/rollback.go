package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/proxy"
)

// rollbackReport is part 2: rollbacks through the real server and CLI
// while clients send requests through its proxy.
type rollbackReport struct {
	switches    int      // rollbacks that succeeded
	cliFailures []string // rollbacks that did not
	sent        int64
	failed      int64
	retries     int64
	firstErrs   []string
	// The load generator's own stalls: the longest, how many, and how
	// many switches they overlapped.
	stall            stall
	stalls, disturbs int
	// Durations from issuing the command, one per switch.
	cli, publish, firstNew, allNew durationStats
	// From the proxy applying the table to the first response from the
	// target, and to all traffic on it.
	// Negative when the clients saw the switch before the 2 ms poll did.
	proxyFirst, proxyLevel durationStats
	// How precisely the poll timed each table change.
	pollResolution durationStats
	unsettled      int
	// Latency of every request during the switches.
	latP50, latP99, latMax time.Duration
	// The proxy process under load before the first and after the last
	// rollback.
	memBefore, memAfter memory
}

const stagingHost = "hello.staging.localhost"

// rollbacks deploys examples/hello twice (v1, v2) to a real `slipway
// server` with the CLI, then under continuous load alternates `slipway
// rollback hello --env staging --to 1` and `--to 2` (part 2).
func (b *bench) rollbacks(ctx context.Context) (*rollbackReport, error) {
	data := filepath.Join(b.tmp, "server-data")
	work := filepath.Join(b.tmp, "workspace", "hello")
	if err := copyExample(filepath.Join(b.repo, "examples", "hello"), work); err != nil {
		return nil, err
	}
	api, err := freePort()
	if err != nil {
		return nil, err
	}
	paddr, err := freePort()
	if err != nil {
		return nil, err
	}
	// The server starts the proxy and the instance shims detached (their
	// own sessions, so that they outlive it); they are found by data dir.
	b.procs.onStopAll(func() { killByPath(data) })
	server, err := b.procs.start(child{name: "slipway-server", cpus: b.pin.serve,
		argv: []string{b.slipway, "server", "--data", data, "--listen", api, "--proxy-listen", paddr}})
	if err != nil {
		return nil, err
	}
	defer func() {
		b.procs.stop(server, 15*time.Second)
		killByPath(data)
	}()
	if err := waitHTTP(ctx, "http://"+api+"/v1/healthz", 20*time.Second); err != nil {
		return nil, fmt.Errorf("slipway server: %w: %s", err, b.procs.logTail("slipway-server", 10))
	}
	cli := func(args ...string) (string, error) {
		return b.cli(ctx, work, append(args, "--server", "http://"+api, "--data", data)...)
	}
	for _, v := range []string{"v1", "v2"} {
		start := time.Now()
		src := fmt.Sprintf("package main\n\nconst version = %q\n\nconst healthy = true\n", v)
		if err := os.WriteFile(filepath.Join(work, "release.go"), []byte(src), 0o644); err != nil {
			return nil, err
		}
		if _, err := cli("deploy", "-f", "slipway.yaml", "--env", "staging"); err != nil {
			return nil, err
		}
		b.say("  deployed %s to staging in %s", v, time.Since(start).Round(time.Millisecond))
	}

	pc := proxy.NewClient(filepath.Join(data, "proxy.sock"))
	proxyPid := readPid(filepath.Join(data, "proxy.pid"))
	r := &rollbackReport{}

	tr := startTraffic(ctx, paddr, stagingHost, b.opts.loadConcurrency, classifyVersion)
	// The proxy's table version, polled every 2ms, tells when it applied
	// each switch's table: after the start of the last poll that saw the
	// old version and before the end of the first that saw the new one.
	type change struct{ after, seen time.Duration }
	var (
		changes  []change // read once the watcher has stopped
		watchWG  sync.WaitGroup
		wctx, wc = context.WithCancel(ctx)
	)
	watchWG.Go(func() {
		var last uint64
		var prevStart time.Duration
		for wctx.Err() == nil {
			start := tr.now()
			t, err := pc.Table(wctx)
			if err == nil && t.Version != last {
				if last != 0 {
					changes = append(changes, change{after: prevStart, seen: tr.now()})
				}
				last = t.Version
			}
			prevStart = start
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer func() { wc(); watchWG.Wait() }()

	sleepUntil(ctx, time.Now().Add(500*time.Millisecond))
	r.memBefore = treeMemory(proxyPid)
	var marks []switchMark
	var cliDurs []time.Duration
	for k := 1; k <= b.opts.switches && ctx.Err() == nil; k++ {
		to := 1 + (k+1)%2 // v2 is live: 1, 2, 1, ...
		at := tr.now()
		_, err := cli("rollback", "hello", "--env", "staging", "--to", strconv.Itoa(to))
		if err != nil {
			r.cliFailures = append(r.cliFailures, fmt.Sprintf("rollback %d (--to %d): %v", k, to, err))
			break
		}
		marks = append(marks, switchMark{at: at, target: uint8(to)})
		cliDurs = append(cliDurs, tr.now()-at)
		r.switches++
		sleepUntil(ctx, time.Now().Add(b.opts.switchGap))
	}
	r.memAfter = treeMemory(proxyPid)
	end := tr.now()
	events := tr.stop()
	wc()
	watchWG.Wait()
	r.sent, r.failed, r.retries, r.firstErrs = tr.sent.Load(), tr.failed.Load(), tr.retries.Load(), tr.firstErr

	timings := analyzeSwitches(events, marks, end, b.opts.settle)
	r.stall, r.stalls = tr.longestStall()
	r.disturbs = disturbed(marks, timings, tr.stalls, end)
	var pub, first, all, levelFirst, level, res []time.Duration
	for i, t := range timings {
		next := end
		if i+1 < len(marks) {
			next = marks[i+1].at
		}
		applied := never
		for _, c := range changes {
			if c.seen >= marks[i].at && c.seen < next {
				applied = c.seen - marks[i].at
				res = append(res, c.seen-c.after)
				break
			}
		}
		pub = append(pub, applied)
		first = append(first, t.firstNew)
		all = append(all, t.allNew)
		if applied != never && t.allNew != never {
			levelFirst = append(levelFirst, t.firstNew-applied)
			level = append(level, t.allNew-applied)
		}
		if !t.settled {
			r.unsettled++
		}
	}
	r.pollResolution = statsOf(res)
	r.cli, r.publish, r.firstNew, r.allNew = statsOf(cliDurs), statsOf(pub), statsOf(first), statsOf(all)
	r.proxyFirst, r.proxyLevel = statsOf(levelFirst), statsOf(level)
	r.latP50, r.latP99, r.latMax = latencies(events)
	return r, context.Cause(ctx)
}

// classifyVersion tags hello's answers by the version in brackets.
func classifyVersion(body []byte) uint8 {
	switch {
	case bytes.Contains(body, []byte("[v1]")):
		return 1
	case bytes.Contains(body, []byte("[v2]")):
		return 2
	}
	return 0
}

// latencies returns p50, p99 and max of the events' latencies.
func latencies(events []event) (p50, p99, maxLat time.Duration) {
	ls := make([]time.Duration, len(events))
	for i, e := range events {
		ls[i] = e.lat
	}
	slices.Sort(ls)
	if len(ls) == 0 {
		return 0, 0, 0
	}
	return percentile(ls, 50), percentile(ls, 99), ls[len(ls)-1]
}

// cli runs the slipway CLI in dir on any CPU and returns its output.
func (b *bench) cli(ctx context.Context, dir string, args ...string) (string, error) {
	argv := b.pin.wrap(b.pin.all, append([]string{b.slipway}, args...))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("slipway %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// copyExample copies the example app to dst as its own module, like a
// developer's checkout.
func copyExample(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"main.go", "release.go", "slipway.yaml"} {
		raw, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f), raw, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dst, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readPid(path string) int {
	raw, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}
