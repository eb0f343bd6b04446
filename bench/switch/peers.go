package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/internal/proxy"
)

// proxyUnderTest is a reverse proxy the benchmark drives, running as a
// child process on the serving CPU: Slipway's, nginx or Caddy.
type proxyUnderTest struct {
	name string
	addr string    // traffic address
	host string    // Host header clients send
	cmd  *exec.Cmd // root process; CPU and memory are read over its tree
	// switchTo routes all traffic to backends, which are release (a
	// label; Slipway's proxy keeps metrics per release); seq is 1 for the
	// first switch and grows by one each time.
	switchTo func(ctx context.Context, seq, release int, backends []string) error
}

const benchHost = "bench.test"

// roleEnv set to "proxy" makes this program run proxy.Serve (see
// runProxyRole) instead of the benchmark.
const roleEnv = "SLIPWAY_SWITCH_BENCH_ROLE"

// runProxyRole serves like `slipway proxy --listen $PROXY_LISTEN --control
// $PROXY_CONTROL --state $PROXY_STATE` until SIGTERM or SIGINT.
func runProxyRole() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return proxy.Serve(ctx, proxy.ServeOptions{
		Listen:        os.Getenv("PROXY_LISTEN"),
		ControlSocket: os.Getenv("PROXY_CONTROL"),
		StatePath:     os.Getenv("PROXY_STATE"),
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
}

// peerKinds are the proxies the benchmark knows, in the order it runs them.
var peerKinds = []string{"slipway", "nginx", "caddy"}

// startProxy starts the proxy of kind in front of backends, or explains
// why it cannot (a peer that is not installed).
func (b *bench) startProxy(ctx context.Context, kind string, backends []string, health bool) (*proxyUnderTest, error) {
	switch kind {
	case "slipway":
		return b.startSlipwayProxy(ctx, backends, health)
	case "nginx":
		if b.nginx == "" {
			return nil, errors.New("nginx is not installed")
		}
		return b.startNginx(ctx, backends)
	case "caddy":
		if b.caddy == "" {
			return nil, errors.New("caddy is not installed")
		}
		return b.startCaddy(ctx, backends)
	}
	return nil, fmt.Errorf("unknown proxy %q", kind)
}

// startSlipwayProxy runs Slipway's data plane, proxy.Serve, in a child
// process (this program in its proxy role: what `slipway proxy` runs, so
// that parts 1 and 3 need only internal/proxy to build) and feeds it
// tables over its control socket, as the server does.
func (b *bench) startSlipwayProxy(ctx context.Context, backends []string, health bool) (*proxyUnderTest, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(b.tmp, "slipway-proxy-")
	if err != nil {
		return nil, err
	}
	addr, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "control.sock")
	cmd, err := b.procs.Start(proc.Child{Name: "slipway-proxy", CPUs: b.pin.Serve, Argv: []string{self},
		Env: []string{roleEnv + "=proxy", "PROXY_LISTEN=" + addr, "PROXY_CONTROL=" + sock,
			"PROXY_STATE=" + filepath.Join(dir, "table.json")}})
	if err != nil {
		return nil, err
	}
	c := proxy.NewClient(sock)
	table := func(version uint64, release int, backends []string) proxy.Table {
		r := proxy.Route{Host: benchHost, App: "bench", Env: "bench", Release: release}
		for _, a := range backends {
			r.Backends = append(r.Backends, proxy.Backend{ID: "instance-" + a, Addr: a, Release: release})
		}
		if health {
			r.Health = proxy.HealthCheck{Path: "/healthz", Interval: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 3}
		}
		return proxy.Table{Version: version, Routes: []proxy.Route{r}}
	}
	p := &proxyUnderTest{name: "slipway", addr: addr, host: benchHost, cmd: cmd,
		switchTo: func(ctx context.Context, seq, release int, backends []string) error {
			_, err := c.SetTable(ctx, table(uint64(seq)+1, release, backends))
			return err
		}}
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(ctx) != nil {
		if time.Now().After(deadline) || !proc.Alive(cmd.Process.Pid) {
			b.procs.Stop(cmd, time.Second)
			return nil, fmt.Errorf("slipway proxy did not answer on %s: %s", sock, b.procs.LogTail("slipway-proxy", 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.SetTable(ctx, table(1, 1, backends)); err != nil {
		b.procs.Stop(cmd, time.Second)
		return nil, err
	}
	return p, nil
}

// nobody is the uid (and gid) nginx runs as when the benchmark is root.
const nobody = 65534

// startNginx runs nginx in the foreground (daemon off) with a config of
// its own in a temp dir: one worker, keep-alive upstream pool, no access
// log. A switch rewrites the upstream and sends SIGHUP (nginx -s reload).
func (b *bench) startNginx(ctx context.Context, backends []string) (*proxyUnderTest, error) {
	dir, err := os.MkdirTemp(b.tmp, "nginx-")
	if err != nil {
		return nil, err
	}
	addr, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	write := func(backends []string) error {
		var ups strings.Builder
		for _, a := range backends {
			fmt.Fprintf(&ups, "    server %s;\n", a)
		}
		cfg := fmt.Sprintf(nginxConf, dir, dir, dir, dir, dir, dir, dir, ups.String(), addr)
		return os.WriteFile(conf, []byte(cfg), 0o644)
	}
	if err := write(backends); err != nil {
		return nil, err
	}
	uid := 0
	if os.Geteuid() == 0 {
		// An unprivileged process, like any user's: its files are its own.
		uid = nobody
		if err := os.Chmod(b.tmp, 0o755); err != nil { // let it reach its dir
			return nil, err
		}
		_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chown(p, nobody, nobody) })
	}
	cmd, err := b.procs.Start(proc.Child{Name: "nginx", CPUs: b.pin.Serve, UID: uid,
		Argv: []string{b.nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf}})
	if err != nil {
		return nil, err
	}
	if err := proc.WaitListening(ctx, addr, cmd, 10*time.Second); err != nil {
		b.procs.Stop(cmd, time.Second)
		tail, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, fmt.Errorf("nginx: %w: %s %s", err, b.procs.LogTail("nginx", 5), tail)
	}
	return &proxyUnderTest{name: "nginx", addr: addr, host: benchHost, cmd: cmd,
		switchTo: func(ctx context.Context, _, _ int, backends []string) error {
			if err := write(backends); err != nil {
				return err
			}
			return syscall.Kill(cmd.Process.Pid, syscall.SIGHUP)
		}}, nil
}

// nginxConf: prefix dir (pid, temp paths), upstream servers, listen addr.
const nginxConf = `daemon off;
master_process on;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  upstream app {
%s    keepalive 64;
  }
  server {
    listen %s;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`

// startCaddy runs `caddy run` with a JSON config (reverse_proxy to the
// backends, plain HTTP, warn-level logs, config not persisted). A switch
// POSTs the new config to its admin API's /load.
func (b *bench) startCaddy(ctx context.Context, backends []string) (*proxyUnderTest, error) {
	dir, err := os.MkdirTemp(b.tmp, "caddy-")
	if err != nil {
		return nil, err
	}
	addr, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	admin, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	config := func(backends []string) []byte {
		var ups []map[string]string
		for _, a := range backends {
			ups = append(ups, map[string]string{"dial": a})
		}
		cfg := map[string]any{
			"admin":   map[string]any{"listen": admin, "config": map[string]any{"persist": false}},
			"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "WARN"}}},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
				"listen":          []string{addr},
				"automatic_https": map[string]any{"disable": true},
				"routes": []any{map[string]any{"handle": []any{map[string]any{
					"handler": "reverse_proxy", "upstreams": ups}}}},
			}}}},
		}
		raw, _ := json.Marshal(cfg)
		return raw
	}
	conf := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(conf, config(backends), 0o644); err != nil {
		return nil, err
	}
	cmd, err := b.procs.Start(proc.Child{Name: "caddy", CPUs: b.pin.Serve,
		Env:  []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")},
		Argv: []string{b.caddy, "run", "--config", conf}})
	if err != nil {
		return nil, err
	}
	if err := proc.WaitListening(ctx, addr, cmd, 15*time.Second); err != nil {
		b.procs.Stop(cmd, time.Second)
		return nil, fmt.Errorf("caddy: %w: %s", err, b.procs.LogTail("caddy", 5))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	return &proxyUnderTest{name: "caddy", addr: addr, host: benchHost, cmd: cmd,
		switchTo: func(ctx context.Context, _, _ int, backends []string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/load", bytes.NewReader(config(backends)))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				var msg bytes.Buffer
				_, _ = msg.ReadFrom(res.Body)
				return fmt.Errorf("caddy /load: %s: %s", res.Status, bytes.TrimSpace(msg.Bytes()))
			}
			return nil
		}}, nil
}
