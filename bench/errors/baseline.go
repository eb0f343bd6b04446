package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/proc"
)

// roleEnv set to "baseline" makes this program the baseline server
// (runBaseline) on the address in baselineListenEnv.
const (
	roleEnv           = "SLIPWAY_ERRORS_BENCH_ROLE"
	baselineListenEnv = "BASELINE_LISTEN"
)

// baselineHandler is the HTTP ceiling: it reads the body and answers 200
// {"id": ...} as the ingest does, without decompressing, parsing or
// storing anything.
func baselineHandler() http.Handler {
	var n atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"%032x"}`, n.Add(1))
	})
}

// runBaseline serves baselineHandler until SIGTERM, with the API server's
// settings (net/http, ReadHeaderTimeout 10 s).
func runBaseline() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", os.Getenv(baselineListenEnv))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: baselineHandler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-served // http.ErrServerClosed once Shutdown has closed the listener
	return err
}

// baseline is the baseline server running in a child process.
type baseline struct {
	addr string
	cmd  *exec.Cmd
}

// startBaseline starts this program as the baseline server on a free
// loopback port.
func (b *bench) startBaseline(ctx context.Context) (*baseline, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	cmd, err := b.procs.Start(proc.Child{Name: "baseline", Argv: []string{self},
		Env: []string{roleEnv + "=baseline", baselineListenEnv + "=" + addr}})
	if err != nil {
		return nil, err
	}
	if err := proc.WaitListening(ctx, addr, cmd, 10*time.Second); err != nil {
		b.procs.Stop(cmd, time.Second)
		return nil, fmt.Errorf("baseline server: %w: %s", err, b.procs.LogTail("baseline", 5))
	}
	return &baseline{addr: addr, cmd: cmd}, nil
}

// baselineRun is one load run against the baseline server.
type baselineRun struct {
	load       window
	serverCPU  time.Duration
	clientCPU  time.Duration
	machineCPU time.Duration // the whole machine's busy CPU time during the load
}

// others is the CPU time (in cores) other processes than the baseline
// server and this one used during the load.
func (r baselineRun) others() float64 {
	return (r.machineCPU - r.serverCPU - r.clientCPU).Seconds() / r.load.end.Sub(r.load.start).Seconds()
}

// measure drives the same load as an ingest run against the baseline.
func (bl *baseline) measure(ctx context.Context, b *bench, clients int, gzipped bool) (baselineRun, error) {
	p := project{dsn: "http://0123456789abcdef0123456789abcdef@" + bl.addr + "/1", addr: bl.addr,
		key: "0123456789abcdef0123456789abcdef", id: "1"}
	reqs, err := b.corpus.requests(p, gzipped)
	if err != nil {
		return baselineRun{}, err
	}
	cpu0, err := proc.ReadStat(bl.cmd.Process.Pid)
	if err != nil {
		return baselineRun{}, err
	}
	self0, busy0 := proc.SelfCPU(), machineBusy()
	run := baselineRun{load: drive(ctx, bl.addr, reqs, clients, gzipped, b.opts.baselineDuration, &b.ids)}
	run.clientCPU, run.machineCPU = proc.SelfCPU()-self0, machineBusy()-busy0
	cpu1, err := proc.ReadStat(bl.cmd.Process.Pid)
	if err != nil {
		return run, err
	}
	run.serverCPU = cpu1.CPU - cpu0.CPU
	return run, context.Cause(ctx)
}
