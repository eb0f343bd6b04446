// Command errors measures Slipway's error ingest end to end, in one run
// on loopback:
//
//	go run ./bench/errors [-duration 20s] [-clients 4,8,16] [-gzip-clients 8] [-baseline-duration 10s]
//
// It builds cmd/slipway from this checkout and, for each load, starts a
// fresh `slipway server` (its own data dir, loopback ports,
// --errors-rate 1e9 so that rate limiting does not cap the measure),
// applies the example's spec (examples/hello/slipway.yaml) and reads the
// staging environment's DSN from the API. Then -clients closed-loop
// keep-alive clients in this process POST envelopes to it for -duration,
// as sentry-go does (Content-Type application/x-sentry-envelope,
// X-Sentry-Auth with the key, the DSN in the envelope header), and once
// more with gzip bodies (browser and Python SDKs) at -gzip-clients.
//
// The events are realistic and sentry-go shaped: 2 to 6 KiB of JSON, an
// exception with 15 to 30 frames (in-app and library frames mixed),
// tags, contexts, a request, a user, breadcrumbs, a release and an
// environment; -kinds fingerprints (types and stacks) drawn with a skewed
// (Zipf) distribution, values with numbers that vary per event. A corpus
// of -corpus events is built once; uncompressed events get a fresh
// event_id on every send, compressed ones are sent as built.
//
// Measured per load: the answers (200, 429, 503, other) and their latency
// on the client; then, after the load stops, the API
// (GET /v1/apps/hello/envs/staging/errors?limit=10000) is polled until
// the issues' event counts add up to the accepted events: the end-to-end
// rate is accepted events / (first send → all queryable), and the drain
// the time from the end of the load to all queryable. The server
// process's RSS is sampled every 100 ms, its peak (VmHWM) read at the
// end, its CPU time taken over the run, and the size of DATA/errors.db
// read before and after it stops.
//
// The baseline is the HTTP ceiling on this machine: the same clients and
// bodies against a plain net/http server (this program in a child
// process) that reads the body and answers 200 {"id": ...} without
// decompressing, parsing or storing it. Loads take turns: baseline, then
// slipway, for each concurrency.
//
// Nothing is pinned: the clients share the machine's CPUs with the
// server, as the report says. Every process it starts is stopped at the
// end, also on Ctrl-C; the whole run is bounded by -limit.
package main

import (
	"context"
	crand "crypto/rand"
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
	"github.com/slipway-dev/slipway/internal/spec"
)

// options are the command's flags.
type options struct {
	duration, baselineDuration time.Duration
	drainTimeout, limit        time.Duration
	clients                    []int
	gzipClients                int
	kinds, corpus              int
	seed                       uint64
	errorsRate                 string
}

// bench is one run: its temp dir, children, binary, app and corpus.
type bench struct {
	opts    options
	repo    string
	tmp     string
	procs   *proc.Group
	slipway string
	app     *spec.App
	env     string
	kinds   []kind
	corpus  corpus
	ids     ids
	runs    int // servers started, for their data dirs
}

func main() {
	if os.Getenv(roleEnv) == "baseline" {
		if err := runBaseline(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/errors baseline:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/errors:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("errors", flag.ContinueOnError)
	var o options
	var clients string
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "load per run against slipway")
	fs.DurationVar(&o.baselineDuration, "baseline-duration", 10*time.Second, "load per run against the baseline server")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 60*time.Second, "how long to wait after a load for every accepted event to be queryable")
	fs.DurationVar(&o.limit, "limit", 8*time.Minute, "the whole run stops after this long")
	fs.StringVar(&clients, "clients", "4,8,16", "concurrent clients for uncompressed bodies, comma-separated")
	fs.IntVar(&o.gzipClients, "gzip-clients", 8, "concurrent clients for gzip bodies (0: no gzip run)")
	fs.IntVar(&o.kinds, "kinds", 50, "distinct fingerprints (types and stacks)")
	fs.IntVar(&o.corpus, "corpus", 4096, "distinct events built and sent in turn")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the events")
	fs.StringVar(&o.errorsRate, "errors-rate", "1e9", "the server's --errors-rate (events per second per DSN)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for f := range strings.SplitSeq(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return o, fmt.Errorf("-clients %q: want numbers from 1 to 1024 separated by commas", clients)
		}
		o.clients = append(o.clients, n)
	}
	if o.duration <= 0 || o.baselineDuration <= 0 || o.drainTimeout <= 0 || o.limit <= 0 || o.gzipClients < 0 ||
		o.kinds < 1 || o.corpus < o.kinds {
		return o, errors.New("durations must be positive, -kinds at least 1 and -corpus at least -kinds")
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.limit, fmt.Errorf("the run took longer than -limit %s", opts.limit))
	defer cancel()
	b := &bench{opts: opts, env: "staging"}
	if b.repo, err = product.ModuleRoot(); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "slipway-errors-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	b.procs = &proc.Group{Dir: filepath.Join(b.tmp, "logs")}
	if err := os.MkdirAll(b.procs.Dir, 0o755); err != nil {
		return err
	}
	defer b.procs.StopAll()
	if _, err := crand.Read(b.ids.prefix[:]); err != nil {
		return err
	}

	started := time.Now()
	r := &report{opts: opts, args: args, info: results.Machine(), memory: memTotal()}
	say("building cmd/slipway")
	b.slipway = filepath.Join(b.tmp, "bin", "slipway")
	if err := product.GoBuild(ctx, b.repo, b.slipway, "./cmd/slipway"); err != nil {
		return err
	}
	r.versions = []string{"slipway " + product.Revision(b.repo), runtime.Version()}
	if b.app, err = exampleSpec(filepath.Join(b.tmp, "hello")); err != nil {
		return err
	}
	b.kinds = makeKinds(opts.kinds, opts.seed)
	b.corpus = makeCorpus(b.kinds, opts.corpus, opts.seed, time.Now())
	r.corpus = describeCorpus(b.kinds, b.corpus)
	bl, err := b.startBaseline(ctx)
	if err != nil {
		return err
	}

	type load struct {
		clients int
		gzipped bool
	}
	var loads []load
	for _, c := range opts.clients {
		loads = append(loads, load{c, false})
	}
	if opts.gzipClients > 0 {
		loads = append(loads, load{opts.gzipClients, true})
	}
	for _, l := range loads {
		say("baseline: %d clients, %s bodies, %s", l.clients, bodyName(l.gzipped), opts.baselineDuration)
		base, err := bl.measure(ctx, b, l.clients, l.gzipped)
		if err != nil {
			return err
		}
		say("  %.0f req/s", base.load.rate())
		say("slipway: %d clients, %s bodies, %s", l.clients, bodyName(l.gzipped), opts.duration)
		in, err := b.ingest(ctx, l.clients, l.gzipped)
		if err != nil {
			return err
		}
		say("  %d accepted (%.0f/s while sending), all queryable after %s: %.0f events/s end to end",
			in.accepted(), in.load.rate(), results.Dur(in.drain()), in.endToEnd())
		r.rows = append(r.rows, row{base: base, in: in})
	}
	r.loadEnd = results.LoadAverage()
	r.elapsed = time.Since(started)
	r.print(out)
	for _, x := range r.rows {
		if x.in.queryable.IsZero() {
			return errors.New("some accepted events never became queryable (see the report)")
		}
	}
	return nil
}

// exampleSpec unpacks examples/hello into dir and parses its slipway.yaml.
func exampleSpec(dir string) (*spec.App, error) {
	if err := product.CopyExample(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "slipway.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return spec.Parse(path, raw)
}

// memTotal is the machine's memory as /proc/meminfo gives it.
func memTotal() string {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if n, err := strconv.Atoi(f[0]); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
			}
		}
	}
	return "unknown"
}

func bodyName(gzipped bool) string {
	if gzipped {
		return "gzip"
	}
	return "plain"
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
