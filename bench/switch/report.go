package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/results"
)

// report is everything a run prints at the end, as Markdown.
type report struct {
	opts     options
	args     []string
	info     []string
	versions []string
	pinNote  string
	overhead []overheadRow
	rollback *rollbackReport
	warm     []warmReport
	skipped  []string
	loadEnd  string
	elapsed  time.Duration
}

func (r *report) print(w io.Writer) {
	fmt.Fprintln(w, "# Slipway switch benchmark")
	fmt.Fprintln(w)
	cmd := "go run ./bench/switch"
	if len(r.args) > 0 {
		cmd += " " + strings.Join(r.args, " ")
	}
	for _, l := range r.info {
		fmt.Fprintln(w, "- "+l)
	}
	fmt.Fprintln(w, "- load average at end: "+r.loadEnd)
	fmt.Fprintln(w, "- software: "+strings.Join(r.versions, ", "))
	fmt.Fprintln(w, "- pinning: "+r.pinNote)
	fmt.Fprintf(w, "- command: `%s` (%s in all)\n", cmd, r.elapsed.Round(time.Second))
	for _, s := range r.skipped {
		fmt.Fprintln(w, "- skipped: "+s)
	}
	if r.overhead != nil {
		r.printOverhead(w)
	}
	if r.rollback != nil {
		r.printRollback(w)
	}
	if r.warm != nil {
		r.printWarm(w)
	}
}

func (r *report) printOverhead(w io.Writer) {
	fmt.Fprintf(w, "\n## 1. Proxy overhead\n\n")
	fmt.Fprintf(w, "Closed-loop keep-alive GET / of examples/hello (%d-byte answers), %s measured after %s warm-up, "+
		"%d rounds with the targets taking turns; each figure is the median of the rounds (the proxy's CPU also "+
		"shows the lowest–highest round). CPU/req is user+system time of the process tree over the measured "+
		"window divided by the requests in it (/proc ticks of 10 ms). Errors are summed over the rounds.\n\n",
		len("bench [v1] pid 12345\n"), r.opts.duration, r.opts.warmup, r.opts.rounds)
	direct := map[int]loadgen.Window{}
	for _, o := range r.overhead {
		if o.target == "direct" {
			direct[o.concurrency] = o.w
		}
	}
	rows := [][]string{{"target", "clients", "req/s", "× direct", "p50", "p99", "+p50", "+p99",
		"proxy CPU/req", "backend CPU/req", "loadgen CPU/req", "errors"}}
	for _, o := range r.overhead {
		d := direct[o.concurrency]
		ratio, addP50, addP99, pcpu := "1.00", "", "", "–"
		if o.target != "direct" {
			ratio = "–"
			if d.RPS > 0 {
				ratio = fmt.Sprintf("%.2f", o.w.RPS/d.RPS)
			}
			addP50, addP99 = results.Delta(o.w.P50-d.P50), results.Delta(o.w.P99-d.P99)
			pcpu = fmt.Sprintf("%s (%s–%s)", results.Dur(o.proxyCPU), results.TrimUnit(results.Dur(o.proxyCPUMin)), results.Dur(o.proxyCPUMax))
		}
		rows = append(rows, []string{o.target, fmt.Sprint(o.concurrency), fmt.Sprintf("%.0f", o.w.RPS), ratio,
			results.Dur(o.w.P50), results.Dur(o.w.P99), addP50, addP99, pcpu, results.Dur(o.backendCPU), results.Dur(o.loadCPU),
			fmt.Sprint(o.w.Errors)})
	}
	results.Table(w, rows)
}

func (r *report) printRollback(w io.Writer) {
	rb := r.rollback
	fmt.Fprintf(w, "\n## 2. Rollbacks under load (slipway server + CLI)\n\n")
	fmt.Fprintf(w, "examples/hello deployed to staging as v1 (release 1) and v2 (release 2) with `slipway deploy`, then %d × "+
		"`slipway rollback hello --env staging --to 1|2` alternately, %s apart, while %d clients sent requests through "+
		"the server's proxy. Switched = %d consecutive responses from the target and none from the old release after "+
		"them until the next rollback.\n\n", r.opts.switches, r.opts.switchGap, r.opts.loadConcurrency, r.opts.settle)
	fmt.Fprintf(w, "**FAILED REQUESTS: %d of %d** (re-sent on a closed keep-alive connection: %d); rollbacks done: %d of %d\n\n",
		rb.failed, rb.sent, rb.retries, rb.switches, r.opts.switches)
	for _, e := range rb.firstErrs {
		fmt.Fprintln(w, "- request error: "+e)
	}
	for _, e := range rb.cliFailures {
		fmt.Fprintln(w, "- rollback failed: "+e)
	}
	rows := [][]string{{"per rollback", "p50", "max", "n"},
		statRow("command issued → CLI returns (rollout done, old release drained and stopped)", rb.cli),
		statRow("command issued → proxy applied the new table (seen by a poll every 2 ms)", rb.publish),
		statRow("command issued → first response from the target release", rb.firstNew),
		statRow("command issued → all traffic on the target release", rb.allNew),
		statRow("proxy applied the table (seen by the poll) → first response from the target release", rb.proxyFirst),
		statRow("proxy applied the table (seen by the poll) → all traffic on the target release", rb.proxyLevel),
	}
	results.Table(w, rows)
	fmt.Fprintf(w, "\nThe poll saw each table change within %s (p50; max %s) of it happening, so the last two rows are "+
		"accurate to about that much, and negative when the clients saw the switch before the poll did.\n",
		results.Dur(rb.pollResolution.P50), results.Dur(rb.pollResolution.Max))
	fmt.Fprintf(w, "\n%s\n", stallNote(rb.stall, rb.stalls, rb.disturbs, r.opts.switches))
	fmt.Fprintf(w, "\nRequest latency during the rollbacks: p50 %s, p99 %s, max %s. Switches not settled before the next: %d. "+
		"Proxy process: RSS %s → %s, open files %d → %d.\n",
		results.Dur(rb.latP50), results.Dur(rb.latP99), results.Dur(rb.latMax), rb.unsettled,
		results.MiB(rb.memBefore.RSSKiB), results.MiB(rb.memAfter.RSSKiB), rb.memBefore.FDs, rb.memAfter.FDs)
}

func (r *report) printWarm(w io.Writer) {
	fmt.Fprintf(w, "\n## 3. Memory and upstream connections across switches, old release kept warm\n\n")
	fmt.Fprintf(w, "Two sets of %d examples/hello backends (blue, green), all kept running; each proxy is switched between "+
		"them %d times while %d clients send requests; after each switch the next waits for %d responses from the new set "+
		"and %s more. Figures read %s after the switch, still under load. Upstream connections: established TCP "+
		"connections of the proxy's processes to the live and to the old set's ports (/proc/<pid>/fd matched with "+
		"/proc/net/tcp).\n\n",
		r.opts.replicas, r.opts.warmSwitches, r.opts.loadConcurrency, r.opts.settle, r.opts.warmGap, r.opts.snapSettle)
	if r.opts.releasePerSwitch {
		fmt.Fprintf(w, "Slipway's tables label every switch a new release number (-release-per-switch), as a deploy does.\n\n")
	} else {
		fmt.Fprintf(w, "Slipway's tables flip between release 1 (blue) and release 2 (green), as a rollback to a warm release does.\n\n")
	}
	rows := [][]string{{"proxy", "after switches", "RSS", "upstream conns live / old", "open files", "threads", "processes"}}
	for _, x := range r.warm {
		for _, s := range x.snaps {
			rows = append(rows, []string{x.proxy, fmt.Sprint(s.after), results.MiB(s.mem.RSSKiB),
				fmt.Sprintf("%d / %d", s.live, s.old), fmt.Sprint(s.mem.FDs), fmt.Sprint(s.mem.Threads), fmt.Sprint(s.mem.Procs)})
		}
	}
	results.Table(w, rows)
	fmt.Fprintln(w)
	rows = [][]string{{"proxy", "switches", "failed requests", "re-sent", "switch call",
		"call → first response from new", "call → all traffic on new", "call returned → first from new", "not settled"}}
	pm := func(s results.Stats) string { return results.Dur(s.P50) + " / " + results.Dur(s.Max) }
	for _, x := range r.warm {
		rows = append(rows, []string{x.proxy, fmt.Sprint(x.switches), fmt.Sprintf("%d of %d", x.failed, x.sent),
			fmt.Sprint(x.retries), pm(x.call), pm(x.firstNew), pm(x.allNew), pm(x.afterCall),
			fmt.Sprint(x.unsettled + x.timeouts)})
	}
	results.Table(w, rows)
	fmt.Fprintln(w, "\nDurations are p50 / max over the switches, from issuing the switch unless the column says otherwise.")
	fmt.Fprintln(w)
	for _, x := range r.warm {
		fmt.Fprintf(w, "- %s switch: %s\n", x.proxy, x.how)
		fmt.Fprintf(w, "- %s: %s\n", x.proxy, stallNote(x.stall, x.stalls, x.disturbs, x.switches))
		if x.err != "" {
			fmt.Fprintf(w, "- %s stopped early: %s\n", x.proxy, x.err)
		}
		for _, e := range x.firstErrs {
			fmt.Fprintf(w, "- %s request error: %s\n", x.proxy, e)
		}
	}
}

// stallNote says whether the load generator itself stalled (a 1 ms sleep
// overslept by more than stallMin), which makes any outlier it overlaps
// the machine's rather than the proxy's.
func stallNote(longest stall, n, disturbs, switches int) string {
	if n == 0 {
		return fmt.Sprintf("The load generator never stalled for more than %s.", results.Dur(stallMin))
	}
	return fmt.Sprintf("The load generator itself stalled %d times for more than %s (longest %s); %d of %d switches "+
		"overlapped such a stall, so their timings say more about the machine than the proxy.",
		n, results.Dur(stallMin), results.Dur(longest.length), disturbs, switches)
}

func statRow(name string, s results.Stats) []string {
	n := fmt.Sprint(s.N)
	if s.Missing > 0 {
		n += fmt.Sprintf(" (%d never)", s.Missing)
	}
	return []string{name, results.Dur(s.P50), results.Dur(s.Max), n}
}
