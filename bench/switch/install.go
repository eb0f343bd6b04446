package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/product"
)

// buildBinaries builds the example app and the slipway binary into the
// temp dir with the go toolchain. The example is required; if slipway
// does not build, part 2 (which needs its server and CLI) is skipped and
// buildSlipway says why.
func (b *bench) buildBinaries(ctx context.Context) error {
	b.hello = filepath.Join(b.tmp, "bin", "hello")
	if err := product.GoBuild(ctx, b.repo, b.hello, "./examples/hello"); err != nil {
		return err
	}
	b.slipway = filepath.Join(b.tmp, "bin", "slipway")
	if err := product.GoBuild(ctx, b.repo, b.slipway, "./cmd/slipway"); err != nil {
		b.slipway, b.slipwayErr = "", err
	}
	return nil
}

// findNginx returns the nginx binary, installing Debian's nginx-light
// with apt-get when it is missing and installing is allowed.
func findNginx(ctx context.Context, install bool, say func(string, ...any)) (path, version string, err error) {
	path, err = exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			path, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if !install {
			return "", "", errors.New("nginx not found and -install=false")
		}
		if os.Geteuid() != 0 {
			return "", "", errors.New("nginx not found; install it (apt-get install nginx-light) or run as root to let the benchmark do it")
		}
		say("installing nginx-light with apt-get (first run only)")
		apt := func(args ...string) error {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLine(out))
			}
			return nil
		}
		if err := apt("install", "-y", "-q", "nginx-light"); err != nil {
			if err2 := apt("update", "-q"); err2 != nil {
				return "", "", err2
			}
			if err := apt("install", "-y", "-q", "nginx-light"); err != nil {
				return "", "", err
			}
		}
		if path, err = exec.LookPath("nginx"); err != nil {
			path = "/usr/sbin/nginx"
		}
	}
	out, err := exec.CommandContext(ctx, path, "-v").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("%s -v: %w: %s", path, err, out)
	}
	return path, strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "), nil
}

// findCaddy returns a caddy binary of the pinned version, built with `go
// install` into the user's cache dir on first use.
func findCaddy(ctx context.Context, version string, install bool, say func(string, ...any)) (path, got string, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(cache, "slipway-bench", "caddy-"+version)
	path = filepath.Join(dir, "caddy")
	if _, err := os.Stat(path); err != nil {
		if !install {
			return "", "", fmt.Errorf("%s not found and -install=false", path)
		}
		say("installing caddy %s with go install into %s (first run only; a minute or two)", version, dir)
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "install", "github.com/caddyserver/caddy/v2/cmd/caddy@"+version)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		cmd.Dir = os.TempDir() // outside any module: go install pkg@version ignores it anyway
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go install caddy@%s: %w: %s", version, err, lastLine(out))
		}
		say("caddy installed in %s", time.Since(start).Round(time.Second))
	}
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s version: %w", path, err)
	}
	got = strings.Fields(string(out) + " ?")[0]
	if got == "unknown" { // built by go install outside a module, caddy cannot tell
		got = version
	}
	return path, got, nil
}

func lastLine(out []byte) string {
	lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
	return lines[len(lines)-1]
}
