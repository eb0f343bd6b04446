// Command switch benchmarks Slipway's proxy and its switches against
// direct requests and against nginx and Caddy, in one run on loopback:
//
//	go run ./bench/switch [-duration 2s] [-rounds 3] [-concurrency 16,1] [-switches 20] [-warm-switches 200]
//
// Part 1, proxy overhead: closed-loop keep-alive load from this process
// against the example app (examples/hello) directly, through Slipway's
// proxy (proxy.Serve in a child process, what `slipway proxy` runs),
// through nginx and through Caddy; requests/s, p50/p99 latency
// and the proxy's CPU time per request (utime+stime of its process tree
// from /proc over the measured window, divided by the requests); the
// targets take turns for several rounds and the table shows medians.
//
// Part 2, rollbacks under load: a real `slipway server`, the example
// deployed twice with the CLI (v1, v2), then `slipway rollback hello --env
// staging --to 1` and `--to 2` alternately while clients send requests
// through its proxy: failed requests, and per switch the time from the
// command to the first response from the target and to all traffic on it.
//
// Part 3, memory and connections: each proxy in front of two sets of
// backends that both keep running (the old release kept warm), switched
// between them hundreds of times under load: RSS, open files and
// established upstream connections before, half-way and after.
//
// With taskset and two or more CPUs, backends and proxies run on CPU 0
// and the load generator (this process) on CPU 1. nginx (Debian's
// nginx-light, via apt-get) and Caddy (go install of a pinned version,
// cached in the user cache dir) are installed on first use unless
// -install=false; a peer that cannot be had is skipped with a message.
// Every process it starts is stopped at the end, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
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
	duration, warmup time.Duration
	rounds           int
	concurrency      []int
	loadConcurrency  int
	switches         int
	switchGap        time.Duration
	warmSwitches     int
	warmGap          time.Duration
	releasePerSwitch bool
	replicas         int
	settle           int
	snapSettle       time.Duration
	proxies          []string
	parts            map[int]bool
	caddyVersion     string
	install, pin     bool
}

// bench is one run: its temp dir, children, binaries and options.
type bench struct {
	opts       options
	repo       string // module root
	tmp        string
	procs      *proc.Group
	pin        *proc.Pinning
	hello      string // binaries
	slipway    string // "" when cmd/slipway does not build
	slipwayErr error  // why
	nginx      string // "" when unavailable
	caddy      string
	skipped    []string // peers skipped, and why
}

func main() {
	if os.Getenv(roleEnv) == "proxy" {
		if err := runProxyRole(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/switch proxy:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/switch:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("switch", flag.ContinueOnError)
	var o options
	var conc, proxies, parts string
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "part 1: measured load per target, concurrency and round")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "part 1: unmeasured load before each measurement")
	fs.IntVar(&o.rounds, "rounds", 3, "part 1: rounds over all targets; the table shows medians")
	fs.StringVar(&conc, "concurrency", "16,1", "part 1: concurrent keep-alive clients, comma-separated")
	fs.IntVar(&o.loadConcurrency, "load-concurrency", 16, "parts 2 and 3: concurrent clients during switches")
	fs.IntVar(&o.switches, "switches", 20, "part 2: rollbacks")
	fs.DurationVar(&o.switchGap, "switch-gap", 300*time.Millisecond, "part 2: pause after each rollback")
	fs.IntVar(&o.warmSwitches, "warm-switches", 200, "part 3: switches per proxy")
	fs.DurationVar(&o.warmGap, "warm-gap", 20*time.Millisecond, "part 3: pause after each switch has reached the clients")
	fs.BoolVar(&o.releasePerSwitch, "release-per-switch", false,
		"part 3: label each switch to Slipway's proxy a new release (as a deploy does) instead of flipping between releases 1 and 2")
	fs.IntVar(&o.replicas, "replicas", 2, "part 3: backends in each of the two sets")
	fs.IntVar(&o.settle, "settle", 50, "parts 2 and 3: consecutive responses from the target that count as switched")
	fs.DurationVar(&o.snapSettle, "snapshot-settle", time.Second, "part 3: pause under load before reading memory and connections")
	fs.StringVar(&proxies, "proxies", "slipway,nginx,caddy", "parts 1 and 3: proxies to measure")
	fs.StringVar(&parts, "parts", "1,2,3", "parts to run")
	fs.StringVar(&o.caddyVersion, "caddy-version", "v2.11.9", "Caddy version to go install")
	fs.BoolVar(&o.install, "install", true, "install missing peers (apt-get nginx-light, go install caddy)")
	fs.BoolVar(&o.pin, "pin", true, "pin servers to CPU 0 and the load generator to CPU 1 with taskset")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for f := range strings.SplitSeq(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-concurrency %q: want positive integers separated by commas", conc)
		}
		o.concurrency = append(o.concurrency, n)
	}
	for f := range strings.SplitSeq(proxies, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(peerKinds, f) {
			return o, fmt.Errorf("-proxies: unknown proxy %q; know %s", f, strings.Join(peerKinds, ", "))
		}
		o.proxies = append(o.proxies, f)
	}
	o.parts = map[int]bool{}
	for f := range strings.SplitSeq(parts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 3 {
			return o, fmt.Errorf("-parts %q: want numbers 1 to 3 separated by commas", parts)
		}
		o.parts[n] = true
	}
	if o.duration <= 0 || o.rounds < 1 || o.switches < 0 || o.warmSwitches < 0 || o.replicas < 1 || o.settle < 1 || o.loadConcurrency < 1 {
		return o, errors.New("durations, counts and concurrency must be positive")
	}
	return o, nil
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
	if b.tmp, err = os.MkdirTemp("", "slipway-switch-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	b.pin = &proc.Pinning{}
	b.procs = &proc.Group{Dir: filepath.Join(b.tmp, "logs"), Pin: b.pin}
	if err := os.MkdirAll(b.procs.Dir, 0o755); err != nil {
		return err
	}
	defer b.procs.StopAll()

	started := time.Now()
	info := results.Machine()
	b.say("building examples/hello and cmd/slipway")
	if err := b.buildBinaries(ctx); err != nil {
		return err
	}
	versions := []string{"slipway " + product.Revision(b.repo), runtime.Version()}
	if opts.parts[1] || opts.parts[3] {
		b.findPeers(ctx, &versions)
	}
	pinNote := b.pinSelf()

	r := &report{opts: opts, info: info, versions: versions, pinNote: pinNote, args: args}
	if opts.parts[1] && ctx.Err() == nil {
		b.say("part 1: proxy overhead")
		r.overhead, err = b.overhead(ctx)
		if err != nil {
			return err
		}
	}
	if opts.parts[2] && b.slipway == "" {
		b.say("part 2: skipped: cmd/slipway does not build: %v", b.slipwayErr)
		b.skipped = append(b.skipped, fmt.Sprintf("part 2 (cmd/slipway does not build): %v", b.slipwayErr))
	} else if opts.parts[2] && ctx.Err() == nil {
		b.say("part 2: %d rollbacks under load through a real slipway server", opts.switches)
		r.rollback, err = b.rollbacks(ctx)
		if err != nil {
			return err
		}
	}
	if opts.parts[3] && ctx.Err() == nil {
		b.say("part 3: %d switches per proxy with the old backends kept running", opts.warmSwitches)
		r.warm, err = b.warm(ctx)
		if err != nil {
			return err
		}
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	r.skipped = b.skipped
	r.loadEnd = results.LoadAverage()
	r.elapsed = time.Since(started)
	r.print(out)
	if r.rollback != nil && (r.rollback.failed > 0 || len(r.rollback.cliFailures) > 0) {
		return errors.New("requests or rollbacks failed during part 2")
	}
	return nil
}

// findPeers locates (or installs) the peers asked for; a missing one is
// dropped from the run with a message.
func (b *bench) findPeers(ctx context.Context, versions *[]string) {
	want := func(k string) bool { return slices.Contains(b.opts.proxies, k) }
	if want("nginx") {
		path, v, err := findNginx(ctx, b.opts.install, b.say)
		if err != nil {
			b.say("nginx: skipped: %v", err)
			b.skipped = append(b.skipped, "nginx: "+err.Error())
		} else {
			b.nginx = path
			*versions = append(*versions, v)
		}
	}
	if want("caddy") {
		path, v, err := findCaddy(ctx, b.opts.caddyVersion, b.opts.install, b.say)
		if err != nil {
			b.say("caddy: skipped: %v", err)
			b.skipped = append(b.skipped, "caddy: "+err.Error())
		} else {
			b.caddy = path
			*versions = append(*versions, "caddy "+v)
		}
	}
}

// pinSelf moves every thread of this process to the load CPU and says
// how the run is pinned.
func (b *bench) pinSelf() string {
	ts, err := exec.LookPath("taskset")
	n := runtime.NumCPU()
	switch {
	case !b.opts.pin:
		return "not pinned (-pin=false): load generator, proxies and backends share all CPUs"
	case err != nil:
		return "not pinned (no taskset): load generator, proxies and backends share all CPUs"
	case n < 2:
		return "not pinned (one CPU): load generator, proxies and backends share it"
	}
	b.pin.Taskset, b.pin.Serve, b.pin.Load, b.pin.All = ts, "0", "1", fmt.Sprintf("0-%d", n-1)
	if out, err := exec.Command(ts, "-a", "-p", "-c", b.pin.Load, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		b.pin.Taskset = ""
		return fmt.Sprintf("not pinned (taskset failed: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	runtime.GOMAXPROCS(1)
	return "backend(s) and proxy share CPU 0, the load generator (this process, GOMAXPROCS 1) runs on CPU 1 (taskset)"
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
