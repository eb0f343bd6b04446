package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/product"
	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// env is the environment every app deploys to.
const env = "staging"

// app is one copy of examples/hello deployed under its own name and host.
type app struct {
	b    *bench
	name string
	host string
	dir  string // its workspace: the example's source and slipway.yaml
}

func (b *bench) newApp(name string) (*app, error) {
	a := &app{b: b, name: name, host: name + ".staging.localhost", dir: filepath.Join(b.tmp, "apps", name)}
	if err := product.CopyExample(a.dir); err != nil {
		return nil, err
	}
	return a, nil
}

// release is what one deploy asks for: the version the build reports, the
// release's config (HELLO_* switches) and its rollout section (YAML,
// indented as under an environment's "rollout:").
type release struct {
	version string
	config  map[string]string
	rollout string
}

// spec is the app's slipway.yaml for rel: the example's, with a fast
// health gate, one replica, and rel's config and rollout.
func (a *app) spec(rel release) string {
	var b strings.Builder
	fmt.Fprintf(&b, `name: %s
build:
  command: CGO_ENABLED=0 go build -trimpath -o dist/hello .
  output: dist
run:
  command: ./hello
  drain_timeout: 5s
health:
  path: /healthz
  interval: 100ms
  healthy_threshold: 2
  deploy_timeout: 20s
environments:
  %s:
    host: %s
    replicas: 1
    config:
      GREETING: hello
`, a.name, env, a.host)
	for _, k := range slices.Sorted(maps.Keys(rel.config)) {
		fmt.Fprintf(&b, "      %s: %q\n", k, rel.config[k])
	}
	if rel.rollout != "" {
		b.WriteString("    rollout:\n")
		for l := range strings.SplitSeq(strings.TrimRight(rel.rollout, "\n"), "\n") {
			b.WriteString("      " + l + "\n")
		}
	}
	return b.String()
}

// deployed is how one `slipway deploy` went.
type deployed struct {
	start, end time.Time // the command
	output     string
	err        error // a non-zero exit (an aborted canary is one)
	status     api.RolloutStatus
}

// deploy builds and deploys rel with the CLI and waits for the rollout to
// end (or, with a manual pause, to reach it); it then reads the rollout's
// status. An error means the benchmark could not tell how it went; a
// rollout that ended badly is in the status.
func (a *app) deploy(ctx context.Context, rel release) (deployed, error) {
	if err := product.SetVersion(a.dir, rel.version); err != nil {
		return deployed{}, err
	}
	if err := os.WriteFile(filepath.Join(a.dir, "slipway.yaml"), []byte(a.spec(rel)), 0o644); err != nil {
		return deployed{}, err
	}
	d := deployed{start: time.Now()}
	d.output, d.err = a.b.server.CLI(ctx, a.dir, "deploy", "-f", "slipway.yaml", "--env", env)
	d.end = time.Now()
	if ctx.Err() != nil {
		return d, context.Cause(ctx)
	}
	st, err := a.rolloutStatus(ctx)
	if err != nil {
		return d, fmt.Errorf("deploy %s %s: %w (deploy said: %v)", a.name, rel.version, err, d.err)
	}
	d.status = st
	if st.Rollout.State == store.RolloutFailed {
		return d, fmt.Errorf("deploy %s %s failed: %s", a.name, rel.version, st.Rollout.Reason)
	}
	return d, nil
}

func (a *app) rolloutStatus(ctx context.Context) (api.RolloutStatus, error) {
	var st api.RolloutStatus
	out, err := a.b.server.CLI(ctx, a.dir, "rollout", "status", a.name, "--env", env, "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("rollout status %s: %w: %.200s", a.name, err, out)
	}
	return st, nil
}

func (a *app) envStatus(ctx context.Context) (api.EnvStatus, error) {
	var st api.EnvStatus
	out, err := a.b.server.CLI(ctx, a.dir, "status", a.name, "--env", env, "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status %s: %w: %.200s", a.name, err, out)
	}
	return st, nil
}

// rollback makes release n live again (`slipway rollback --to n`).
func (a *app) rollback(ctx context.Context, n int) error {
	_, err := a.b.server.CLI(ctx, a.dir, "rollback", a.name, "--env", env, "--to", fmt.Sprint(n))
	return err
}

// startLoad starts the app's steady load through the server's proxy.
func (a *app) startLoad(ctx context.Context) *loadgen.Paced {
	return loadgen.StartPaced(ctx, a.b.server.ProxyAddr, a.host, a.b.opts.rate, a.b.opts.conns, versionOf)
}

// versionOf returns the version in an answer of examples/hello, "GREETING
// [VERSION] ...", also in its failures; nil if there is none.
func versionOf(body []byte) []byte {
	_, rest, ok := bytes.Cut(body, []byte("["))
	if !ok {
		return nil
	}
	v, _, ok := bytes.Cut(rest, []byte("]"))
	if !ok {
		return nil
	}
	return v
}

// canaryRollout is the rollout section of parts 1-3: one weight step and
// one analysis step, the default error checks, and p50 and p99 at most
// 1.5x stable's.
func canaryRollout(o options, weight int) string {
	return fmt.Sprintf(`strategy: canary
progress_deadline: %s
steps:
  - weight: %d
  - analysis: %s
analysis:
  interval: %s
  latency:
    - percentile: 50
      max_ratio: 1.5
    - percentile: 99
      max_ratio: 1.5
`, o.deadline, weight, o.analysis, o.interval)
}

// decisions picks the decisions of a canary rollout the report uses.
type decisions struct {
	weight time.Time // the canary got its first weight
	pass   time.Time // the analysis passed, or the step advanced at its time limit (zero if neither)
	// atLimit: the analysis step advanced at its time limit with no check
	// failed but some still waiting (since f38e3d6), rather than on a pass.
	atLimit    bool
	passReason string
	abort      time.Time // the rollout was aborted (zero if not)
	// The abort: who and why, and the checks that failed (analysis only).
	actor, reason string
	failed        []string
	evidence      *analysis.Decision // of the pass or the abort
}

func decisionsOf(st api.RolloutStatus) decisions {
	var d decisions
	for _, x := range st.Decisions {
		switch {
		case x.Action == "advance" && x.Actor == "schedule" && x.Weight > 0 && d.weight.IsZero():
			d.weight = x.At
		case x.Action == "advance" && x.Actor == "analysis" && d.pass.IsZero():
			d.pass, d.evidence = x.At, evidence(x.Evidence)
			d.atLimit = strings.HasPrefix(x.Reason, "no check failed within")
			d.passReason = x.Reason
		case x.Action == "abort":
			d.abort, d.actor, d.reason, d.evidence = x.At, x.Actor, x.Reason, evidence(x.Evidence)
			if d.evidence != nil {
				for _, c := range d.evidence.Checks {
					if c.Verdict == analysis.Fail {
						d.failed = append(d.failed, c.Name)
					}
				}
			}
		}
	}
	return d
}

func evidence(raw json.RawMessage) *analysis.Decision {
	if len(raw) < 3 {
		return nil
	}
	var d analysis.Decision
	if json.Unmarshal(raw, &d) != nil || d.Verdict == "" {
		return nil
	}
	return &d
}
