// Command canary measures Slipway's canary rollouts end to end, in one run
// on loopback:
//
//	go run ./bench/canary [-parts 1,2,3,4] [-bad 5] [-slow 5] [-healthy 50] [-apps 5] [-rate 300]
//
// It builds cmd/slipway from this checkout, starts `slipway server` with a
// temporary data dir on loopback ports, and deploys copies of
// examples/hello with the CLI, each app under its own name and host.
// Every app gets steady open-loop load through the server's proxy from
// this process (keep-alive connections, -rate requests a second, no
// cookies, so each request is a new client to the proxy's weighted draw);
// every response is timestamped and attributed to the version in its
// body. Canaries use the steps weight -weight then analysis -analysis,
// evaluated every -interval, with the default error checks plus p50 and
// p99 latency at most 1.5x stable's.
//
// Part 1, a canary failing half its requests (HELLO_FAIL_RATE=0.5 in the
// new release's config), -bad times: time from its first 5xx to the last
// response it served (all traffic back on stable).
//
// Part 2, a canary twice as slow (HELLO_DELAY 5ms on stable, 10ms on the
// canary), -slow times: time from its first request to the last response
// it served.
//
// Part 3, -healthy canaries identical to stable but for the version string
// (a new artifact; both fail 1% of requests and take 5ms), spread over
// -apps apps in parallel, with weight -healthy-weight: how many were not
// promoted (the bar is none) and why, how long each took from its first
// request to the analysis pass, and how long each check kept it waiting
// (the rollout's message, read through the API every -interval). No new
// canary starts after -healthy-budget, so that the default run stays
// near 10 minutes; the report says how many were left unstarted.
//
// Part 4, the proxy at full speed: closed-loop keep-alive load at a fixed
// concurrency straight at an app instance, through the proxy to an app
// without a canary, and through it to an app whose canary holds 50% (a
// manual pause): requests/s, p50/p99 and the proxy's CPU per request.
// With taskset and two CPUs, the proxy and the apps are pinned to CPU 0
// and this process to CPU 1 for this part only.
//
// Every process it starts is stopped at the end, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/bench/internal/product"
	"github.com/slipway-dev/slipway/bench/internal/results"
)

// options are the command's flags.
type options struct {
	parts map[int]bool

	rate  float64 // requests a second per app, parts 1-3
	conns int     // keep-alive connections per app

	weight   int           // canary weight of the first step
	analysis time.Duration // the analysis step's limit
	interval time.Duration // analysis interval
	deadline time.Duration // progress deadline

	bad, slow        int
	tail             time.Duration // load kept after an aborted canary's deploy returned
	stableDelay      time.Duration
	slowDelay        time.Duration
	healthy, apps    int
	healthyWeight    int // canary weight of part 3's first step
	healthyFailRate  float64
	healthyBudget    time.Duration // no new healthy canary starts after this
	duration, warmup time.Duration // part 4
	rounds           int
	concurrency      int
	pin              bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/canary:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("canary", flag.ContinueOnError)
	var o options
	var parts string
	fs.StringVar(&parts, "parts", "1,2,3,4", "parts to run")
	fs.Float64Var(&o.rate, "rate", 300, "parts 1-3: requests a second sent to each app")
	fs.IntVar(&o.conns, "conns", 16, "parts 1-3: keep-alive connections per app")
	fs.IntVar(&o.weight, "weight", 20, "parts 1-3: the canary's share of clients, per cent (step 1)")
	fs.DurationVar(&o.analysis, "analysis", 2*time.Minute, "parts 1-3: limit of the analysis step (step 2)")
	fs.DurationVar(&o.interval, "interval", time.Second, "parts 1-3: analysis interval")
	fs.DurationVar(&o.deadline, "progress-deadline", 5*time.Minute, "parts 1-3: the rollouts' progress deadline")
	fs.IntVar(&o.bad, "bad", 5, "part 1: canaries failing half their requests")
	fs.IntVar(&o.slow, "slow", 5, "part 2: canaries twice as slow")
	fs.DurationVar(&o.tail, "tail", 2*time.Second, "parts 1-2: load kept on after a canary's deploy returned")
	fs.DurationVar(&o.stableDelay, "stable-delay", 5*time.Millisecond, "parts 2-3: HELLO_DELAY of stable (and of healthy canaries)")
	fs.DurationVar(&o.slowDelay, "slow-delay", 10*time.Millisecond, "part 2: HELLO_DELAY of the slow canary")
	fs.IntVar(&o.healthy, "healthy", 50, "part 3: healthy canaries")
	fs.IntVar(&o.apps, "apps", 5, "part 3: apps rolling out healthy canaries in parallel")
	fs.IntVar(&o.healthyWeight, "healthy-weight", 20, "part 3: the healthy canaries' share of clients, per cent (step 1)")
	fs.Float64Var(&o.healthyFailRate, "healthy-fail-rate", 0.01, "part 3: HELLO_FAIL_RATE of stable and canary")
	fs.DurationVar(&o.healthyBudget, "healthy-budget", 5*time.Minute, "part 3: start no new canary after this long")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "part 4: measured load per target and round")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "part 4: unmeasured load before each measurement")
	fs.IntVar(&o.rounds, "rounds", 5, "part 4: rounds over the targets; the table shows medians")
	fs.IntVar(&o.concurrency, "concurrency", 16, "part 4: concurrent keep-alive clients")
	fs.BoolVar(&o.pin, "pin", true, "part 4: pin proxy and apps to CPU 0 and the load generator to CPU 1 with taskset")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.parts = map[int]bool{}
	for f := range strings.SplitSeq(parts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4 {
			return o, fmt.Errorf("-parts %q: want numbers 1 to 4 separated by commas", parts)
		}
		o.parts[n] = true
	}
	switch {
	case o.rate <= 0 || o.conns < 1 || o.bad < 0 || o.slow < 0 || o.healthy < 0 || o.apps < 1 ||
		o.rounds < 1 || o.concurrency < 1 || o.duration <= 0 || o.interval <= 0 || o.analysis <= 0:
		return o, errors.New("rates, counts, durations and concurrency must be positive")
	case o.weight < 1 || o.weight > 99 || o.healthyWeight < 1 || o.healthyWeight > 99:
		return o, errors.New("-weight and -healthy-weight: want 1 to 99")
	case o.healthyFailRate < 0 || o.healthyFailRate >= 1:
		return o, fmt.Errorf("-healthy-fail-rate %v: want a share from 0 to 1", o.healthyFailRate)
	}
	return o, nil
}

// bench is one run: its temp dir, children, server and options.
type bench struct {
	opts   options
	repo   string
	tmp    string
	group  *proc.Group
	server *product.Server
	load   *loadSampler
}

func run(ctx context.Context, args []string, out io.Writer) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	b := &bench{opts: opts}
	if b.repo, err = product.ModuleRoot(); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "slipway-canary-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	b.group = &proc.Group{Dir: filepath.Join(b.tmp, "logs"), Pin: &proc.Pinning{}}
	if err := os.MkdirAll(b.group.Dir, 0o755); err != nil {
		return err
	}
	defer b.group.StopAll()

	started := time.Now()
	r := &report{opts: opts, args: args, info: results.Machine()}
	b.load = startLoadSampler(5 * time.Second)
	defer b.load.stop()

	say("building cmd/slipway")
	bin := filepath.Join(b.tmp, "bin", "slipway")
	if err := product.GoBuild(ctx, b.repo, bin, "./cmd/slipway"); err != nil {
		return err
	}
	r.versions = []string{"slipway " + product.Revision(b.repo), runtime.Version()}
	if b.server, err = product.StartServer(ctx, b.group, bin, filepath.Join(b.tmp, "data"), ""); err != nil {
		return err
	}
	defer b.server.Stop()

	type part struct {
		n    int
		name string
		run  func(context.Context) error
	}
	parts := []part{
		{1, fmt.Sprintf("%d canaries failing half their requests", opts.bad), func(ctx context.Context) (err error) {
			r.bad, err = b.detect(ctx, badCanary(opts))
			return err
		}},
		{2, fmt.Sprintf("%d canaries twice as slow", opts.slow), func(ctx context.Context) (err error) {
			r.slow, err = b.detect(ctx, slowCanary(opts))
			return err
		}},
		{3, fmt.Sprintf("%d healthy canaries on %d apps", opts.healthy, opts.apps), func(ctx context.Context) (err error) {
			r.healthy, err = b.healthyCanaries(ctx)
			return err
		}},
		{4, "proxy throughput with a 50% split", func(ctx context.Context) (err error) {
			r.throughput, err = b.throughput(ctx)
			return err
		}},
	}
	for _, p := range parts {
		if !opts.parts[p.n] || ctx.Err() != nil {
			continue
		}
		say("part %d: %s", p.n, p.name)
		mark := b.load.mark()
		err := p.run(ctx)
		r.loads = append(r.loads, partLoad{part: p.n, load: b.load.since(mark)})
		if err != nil {
			return fmt.Errorf("part %d: %w", p.n, err)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	r.serverLog = b.serverWarnings()
	r.loadEnd = results.LoadAverage()
	r.elapsed = time.Since(started)
	r.print(out)
	return nil
}

// say prints progress to stderr.
func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// serverWarnings returns the lines of the server's log that say it
// restarted its proxy: the proxy did not answer a ping in time.
func (b *bench) serverWarnings() []string {
	raw, err := os.ReadFile(filepath.Join(b.group.Dir, "slipway-server.log"))
	if err != nil {
		return []string{"could not read the server's log: " + err.Error()}
	}
	var out []string
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.Contains(line, "proxy does not answer") || strings.Contains(line, "restart proxy") ||
			strings.Contains(line, "republish routes") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
