// Package product builds and runs the real Slipway for benchmarks: the
// binaries from this checkout, a `slipway server` with its own data dir
// and loopback ports, the CLI against it, and copies of the example app
// to deploy.
package product

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/proc"
	"github.com/slipway-dev/slipway/examples"
	"github.com/slipway-dev/slipway/internal/api"
)

// ModuleRoot is the directory of the slipway module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	raw, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(raw), "module github.com/slipway-dev/slipway\n") {
		return "", errors.New("not in the slipway repository: run the benchmark from its checkout (go run ./bench/NAME)")
	}
	return filepath.Dir(gomod), nil
}

// Revision describes the checkout measured: its commit and whether it
// has uncommitted changes.
func Revision(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown revision (not a git checkout)"
	}
	rev := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

// GoBuild builds package pkg of the module at repo into out (static, no
// VCS stamping).
func GoBuild(ctx context.Context, repo, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		lines := strings.SplitN(string(bytes.TrimSpace(out)), "\n", 4)
		return fmt.Errorf("go build %s: %w: %s", pkg, err, strings.Join(lines[:min(len(lines), 3)], "; "))
	}
	return nil
}

// CopyExample writes the example app (examples/hello) to dst as its own
// module, like a developer's checkout.
func CopyExample(dst string) error { return examples.UnpackHello(dst) }

// SetVersion rewrites the example's release.go in dir, as a commit would:
// the app then answers "GREETING [version] ...".
func SetVersion(dir, version string) error {
	src := fmt.Sprintf("package main\n\nconst version = %q\n\nconst healthy = true\n", version)
	return os.WriteFile(filepath.Join(dir, "release.go"), []byte(src), 0o644)
}

// Server is a running `slipway server` with its own data dir. The proxy
// and the instance shims it starts run detached, in their own sessions;
// Stop and the group's StopAll find them by the data dir.
type Server struct {
	Bin       string // the slipway binary
	Data      string // its data dir
	API       string // host:port of the API
	ProxyAddr string // host:port of its proxy
	group     *proc.Group
	cmd       *exec.Cmd
}

// StartServer starts `slipway server` from bin with data dir data on free
// loopback ports, its process (and so the proxy and instances it starts)
// on cpus ("" for any), and waits until its API answers. flags are added
// to the command line (e.g. "--errors-rate", "1e9").
func StartServer(ctx context.Context, g *proc.Group, bin, data, cpus string, flags ...string) (*Server, error) {
	api, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	paddr, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, Data: data, API: api, ProxyAddr: paddr, group: g}
	g.OnStopAll(func() { proc.KillByPath(data) })
	s.cmd, err = g.Start(proc.Child{Name: "slipway-server", CPUs: cpus,
		Argv: append([]string{bin, "server", "--data", data, "--listen", api, "--proxy-listen", paddr}, flags...)})
	if err != nil {
		return nil, err
	}
	if err := proc.WaitHTTP(ctx, "http://"+api+"/v1/healthz", 20*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("slipway server: %w: %s", err, g.LogTail("slipway-server", 10))
	}
	return s, nil
}

// Client returns an API client for the server, with the admin token the
// server wrote to its data dir.
func (s *Server) Client() (*api.Client, error) {
	token, err := os.ReadFile(filepath.Join(s.Data, "token"))
	if err != nil {
		return nil, fmt.Errorf("read the server's token: %w", err)
	}
	return api.NewClient("http://"+s.API, strings.TrimSpace(string(token))), nil
}

// Pid is the pid of the server process.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// ProxyPid is the pid of the server's proxy process (0 if unknown).
func (s *Server) ProxyPid() int { return proc.ReadPid(filepath.Join(s.Data, "proxy.pid")) }

// CLI runs the slipway CLI against the server in dir, on any CPU, and
// returns its combined output; a non-zero exit is an error that quotes
// the output.
func (s *Server) CLI(ctx context.Context, dir string, args ...string) (string, error) {
	args = append(args, "--server", "http://"+s.API, "--data", s.Data)
	argv := s.group.Pin.Wrap(s.group.Pin.All, append([]string{s.Bin}, args...))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("slipway %s: %w: %s", strings.Join(args[:len(args)-4], " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Stop stops the server (SIGTERM, SIGKILL after 15s), then kills the
// proxy and every instance left under its data dir.
func (s *Server) Stop() {
	s.group.Stop(s.cmd, 15*time.Second)
	proc.KillByPath(s.Data)
}
