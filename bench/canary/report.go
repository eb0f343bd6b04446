package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/loadgen"
	"github.com/slipway-dev/slipway/bench/internal/results"
	"github.com/slipway-dev/slipway/internal/analysis"
	"github.com/slipway-dev/slipway/internal/store"
)

// report is everything a run prints at the end, as Markdown.
type report struct {
	opts       options
	args       []string
	info       []string
	versions   []string
	loads      []partLoad
	bad, slow  *badReport
	healthy    *healthyReport
	throughput *throughputReport
	loadEnd    string
	elapsed    time.Duration
	serverLog  []string // warnings of the server worth knowing (proxy restarts)
}

// partLoad is the machine's 1-minute load average while a part ran.
type partLoad struct {
	part int
	load loadRange
}

// The bar.
const (
	barBad  = 10 * time.Second
	barSlow = time.Minute
)

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintln(w, "# Slipway canary benchmark")
	fmt.Fprintln(w)
	for _, l := range r.info {
		fmt.Fprintln(w, "- "+l)
	}
	var loads []string
	for _, l := range r.loads {
		loads = append(loads, fmt.Sprintf("part %d %s", l.part, l.load))
	}
	fmt.Fprintf(w, "- 1-minute load average while measuring (sampled every 5 s): %s; at the end: %s\n", strings.Join(loads, ", "), r.loadEnd)
	fmt.Fprintln(w, "- software: "+strings.Join(r.versions, ", "))
	cmd := "go run ./bench/canary"
	if len(r.args) > 0 {
		cmd += " " + strings.Join(r.args, " ")
	}
	fmt.Fprintf(w, "- command: `%s` (%s in all)\n", cmd, r.elapsed.Round(time.Second))
	fmt.Fprintf(w, "- load (parts 1-3): %.0f requests/s per app, open loop over %d keep-alive connections, through the server's proxy; "+
		"no cookies, so every request is a new client that the proxy sends to the canary with the step's weight\n", o.rate, o.conns)
	fmt.Fprintf(w, "- canary rollout (parts 1-3): `weight: %d` (part 3: `weight: %d`), then `analysis: %s`; analysis every %s with "+
		"the default checks (min_requests 50, max_error_rate 5%%, max_error_rate_increase 1%%, window 60s) plus p50 and p99 latency "+
		"at most 1.5x stable's (`max_ratio: 1.5`); one replica per release\n", o.weight, o.healthyWeight, o.analysis, o.interval)

	for _, l := range r.serverLog {
		fmt.Fprintln(w, "- **server log:** "+l)
	}
	r.printSummary(w)
	if r.bad != nil {
		fmt.Fprintf(w, "\n## 1. A canary failing half its requests\n\n")
		fmt.Fprintf(w, "Stable: no switches. Canary: `HELLO_FAIL_RATE=0.5` in the new release's config. Each canary is a new build "+
			"(its own version string), deployed with `slipway deploy` and waited for; the load continued %s after the command returned. "+
			"Times are the clients' (the load generator's timestamps), except the abort, which is the time of the server's abort "+
			"decision (`slipway rollout status --json`; same machine, same clock). The executor records that decision after it has "+
			"published the stable-only table, so \"abort recorded → last canary answer\" is negative when the proxy had already "+
			"moved the clients.\n\n", o.tail)
		r.printBad(w, r.bad, "first 5xx")
	}
	if r.slow != nil {
		fmt.Fprintf(w, "\n## 2. A canary twice as slow\n\n")
		fmt.Fprintf(w, "Stable: `HELLO_DELAY=%s`. Canary: `HELLO_DELAY=%s`. Otherwise as part 1; times start at the canary's first "+
			"request (when it was sent).\n\n", o.stableDelay, o.slowDelay)
		r.printBad(w, r.slow, "first request")
	}
	if r.healthy != nil {
		r.printHealthy(w)
	}
	if r.throughput != nil {
		r.printThroughput(w)
	}
}

func (r *report) printSummary(w io.Writer) {
	fmt.Fprintf(w, "\n## Summary against the bar\n\n")
	rows := [][]string{{"", "measured", "bar", "met"}}
	if r.bad != nil {
		s, missed := badStats(r.bad)
		rows = append(rows, []string{
			fmt.Sprintf("50%%-failing canary: first bad response → all traffic on stable (p50 / max of %d)", len(r.bad.runs)),
			pm(s), "≤ " + barBad.String(), met(missed == 0 && s.N > 0 && s.Max <= barBad)})
	}
	if r.slow != nil {
		s, missed := badStats(r.slow)
		rows = append(rows, []string{
			fmt.Sprintf("2x-slower canary: first request → all traffic on stable (p50 / max of %d)", len(r.slow.runs)),
			pm(s), "≤ " + barSlow.String(), met(missed == 0 && s.N > 0 && s.Max <= barSlow)})
	}
	if h := r.healthy; h != nil {
		failedCheck, timedOut, other := h.aborts()
		bad := failedCheck + timedOut + other
		label := fmt.Sprintf("healthy canaries not promoted, of %d run (weight %d%%)", len(h.runs), r.opts.healthyWeight)
		if h.notStarted > 0 {
			label += fmt.Sprintf("; %d more not started within the time budget", h.notStarted)
		}
		measured := fmt.Sprint(bad)
		if bad > 0 {
			measured = fmt.Sprintf("%d: %d by a failing check, %d by the analysis step's time limit, %d otherwise", bad, failedCheck, timedOut, other)
		}
		rows = append(rows, []string{label, measured, "0", met(bad == 0 && h.notStarted == 0)})
		atLimit := 0
		for _, x := range h.runs {
			if x.atLimit {
				atLimit++
			}
		}
		rows = append(rows, []string{"healthy canaries promoted at the analysis step's time limit without a pass (checks inconclusive)",
			fmt.Sprintf("%d of %d", atLimit, len(h.runs)), "–", ""})
		rows = append(rows, []string{"healthy canary: first request → analysis passed on evidence (p50 / max)", pm(results.StatsOf(passTimes(h))), "–", ""})
	}
	if t := r.throughput; t != nil {
		direct, _ := t.rows[0].median()
		plain, _ := t.rows[1].median()
		split, _ := t.rows[2].median()
		rows = append(rows, []string{
			fmt.Sprintf("proxy at %d clients, plain / 50%% split: req/s (× direct), p99", r.opts.concurrency),
			fmt.Sprintf("%.0f (%.2f×), %s / %.0f (%.2f×), %s", plain.RPS, plain.RPS/direct.RPS, results.Dur(plain.P99),
				split.RPS, split.RPS/direct.RPS, results.Dur(split.P99)), "–", ""})
	}
	results.Table(w, rows)
}

// badStats are the headline figures of part 1 or 2 and the canaries that
// never went back to stable.
func badStats(b *badReport) (results.Stats, int) {
	var ds []time.Duration
	missed := 0
	for _, x := range b.runs {
		ds = append(ds, x.toStable)
		if x.toStable == results.Never {
			missed++
		}
	}
	return results.StatsOf(ds), missed
}

func (r *report) printBad(w io.Writer, b *badReport, from string) {
	// Part 1 shows how soon the first 5xx came; part 2's canary has none.
	head := []string{"canary", "release", "outcome", "failed checks"}
	if b.kind.fromBad {
		head = append(head, "first request → first 5xx")
	}
	head = append(head, from+" → abort recorded", "abort recorded → last canary answer",
		"**"+from+" → all traffic on stable**", "canary answers (5xx)", "other errors", "late requests")
	rows := [][]string{head}
	var cols [][]time.Duration
	for _, x := range b.runs {
		outcome := x.state
		if x.actor != "" {
			outcome += " by " + x.actor
		}
		if x.rolledBack {
			outcome += " (NOT aborted; rolled back by the benchmark)"
		}
		failed := strings.Join(x.failed, ", ")
		if failed == "" && x.reason != "" {
			failed = short(x.reason, 60)
		}
		ds := []time.Duration{x.toDecision, x.decisionToStable, x.toStable}
		if b.kind.fromBad {
			ds = append([]time.Duration{x.firstBad}, ds...)
		}
		if cols == nil {
			cols = make([][]time.Duration, len(ds))
		}
		row := []string{x.version, fmt.Sprint(x.release), outcome, failed}
		for i, d := range ds {
			cols[i] = append(cols[i], d)
			row = append(row, dur(d))
		}
		row[len(row)-1] = "**" + row[len(row)-1] + "**"
		rows = append(rows, append(row, fmt.Sprintf("%d (%d)", x.x.requests, x.x.errors),
			fmt.Sprint(x.x.otherErrors+x.x.unattributed), fmt.Sprint(x.x.late)))
	}
	sum := []string{"p50 / max", "", "", ""}
	for _, c := range cols {
		sum = append(sum, pm(results.StatsOf(c)))
	}
	rows = append(rows, append(sum, "", "", ""))
	results.Table(w, rows)
	fmt.Fprintf(w, "\n\"Other errors\" are 5xx from stable and answers that named no version (the proxy's own errors, failed "+
		"connections) between the canary's first request and its last answer. \"Late requests\" were sent more than %s behind the "+
		"load's schedule (the load generator or the machine stalled) in that span. Over the whole part: %d requests, the worst "+
		"delay behind schedule %s, %d sent more than %s late, %d re-sent on a keep-alive connection the server had closed.\n",
		results.Dur(loadgen.LateLimit), b.requests, results.Dur(b.lateMax), b.lateN, results.Dur(loadgen.LateLimit), b.retries)
	fmt.Fprintf(w, "\nLatency seen by the clients over the whole part, all versions: %s.\n", latencyLine(b.latency))
	for _, x := range b.runs {
		if x.reason != "" {
			fmt.Fprintf(w, "\n- %s, %s: %s\n", x.version, x.actor, short(x.reason, 400))
			break // one example: the others read alike
		}
	}
}

func (r *report) printHealthy(w io.Writer) {
	h := r.healthy
	o := r.opts
	fmt.Fprintf(w, "\n## 3. Healthy canaries\n\n")
	fmt.Fprintf(w, "%d apps in parallel, each with its own host and load (%.0f requests/s, %.0f in all), each rolling out canaries "+
		"one after the other; stable and canary both have `HELLO_FAIL_RATE=%v` and `HELLO_DELAY=%s`, and each canary is a new "+
		"build that differs from stable only by its version string. A canary that passes becomes the next one's stable. "+
		"%d canaries ran in %s (time budget %s)", h.apps, o.rate, o.rate*float64(h.apps), o.healthyFailRate, o.stableDelay,
		len(h.runs), h.elapsed.Round(time.Second), o.healthyBudget)
	if h.notStarted > 0 {
		fmt.Fprintf(w, "; %d were not started because the budget ran out", h.notStarted)
	}
	fmt.Fprintf(w, ". The load generator's worst delay behind schedule: %s; requests sent more than %s late: %d of %d. "+
		"Latency seen by the clients, all apps and versions: %s.\n\n",
		results.Dur(h.lateMax), results.Dur(loadgen.LateLimit), h.lateN, h.requests, latencyLine(h.latency))

	outcomes := map[string]int{}
	for _, x := range h.runs {
		k := x.state
		if x.atLimit {
			k += " at the analysis step's time limit, checks inconclusive"
		} else if x.state == store.RolloutSucceeded {
			k += " on a pass"
		}
		outcomes[k]++
	}
	var counts []string
	for _, k := range slices.Sorted(maps.Keys(outcomes)) {
		counts = append(counts, fmt.Sprintf("%s %d", k, outcomes[k]))
	}
	fmt.Fprintf(w, "Outcomes: %s.\n\n", strings.Join(counts, ", "))

	pass := passTimes(h)
	var server, deploy []time.Duration
	var reqs []time.Duration // canary requests at the pass, as durations to share the quantile code
	for _, x := range h.runs {
		deploy = append(deploy, x.deploy)
		if x.atLimit {
			continue
		}
		server = append(server, x.serverPass)
		if x.evidence != nil && x.state == store.RolloutSucceeded && len(x.evidence.Checks) > 0 {
			reqs = append(reqs, time.Duration(x.evidence.Checks[0].Canary))
		}
	}
	qs := []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 1}
	head := []string{"per healthy canary"}
	for _, q := range qs {
		head = append(head, qname(q))
	}
	row := func(name string, ds []time.Duration, f func(time.Duration) string) []string {
		out := []string{name}
		for _, q := range qs {
			out = append(out, f(quantile(ds, q)))
		}
		return out
	}
	count := func(d time.Duration) string {
		if d == results.Never {
			return "–"
		}
		return fmt.Sprint(int64(d))
	}
	results.Table(w, [][]string{head,
		row("first request → analysis passed on evidence (clients' clock to the server's record)", pass, dur),
		row("weight step decided → analysis passed on evidence (server's records)", server, dur),
		row("canary requests the judge had counted at the pass", reqs, count),
		row("the whole `slipway deploy` (build, start, analysis, promotion, drain)", deploy, dur),
	})
	r.printChecks(w)
	for _, x := range h.runs {
		if x.state == store.RolloutSucceeded {
			continue
		}
		fmt.Fprintf(w, "\n- **#%d %s (release %d): %s", x.n, x.version, x.release, x.state)
		if x.actor != "" {
			fmt.Fprintf(w, " by %s", x.actor)
		}
		fmt.Fprintf(w, "** after %d canary answers (%d 5xx): %s", x.x.requests, x.x.errors, short(x.reason+x.err, 600))
	}
	fmt.Fprintln(w)
}

// aborts counts the healthy canaries that were not promoted: aborted by
// a failing check, by the analysis step's time limit (no check failed,
// some never passed), and otherwise (another actor, or the benchmark
// could not tell).
func (h *healthyReport) aborts() (failedCheck, timedOut, other int) {
	for _, x := range h.runs {
		switch {
		case x.state == store.RolloutSucceeded:
		case x.actor == "analysis" && len(x.failed) > 0:
			failedCheck++
		case x.actor == "analysis" && (strings.Contains(x.reason, "did not pass within") || strings.Contains(x.reason, "could not judge")):
			timedOut++
		default:
			other++
		}
	}
	return failedCheck, timedOut, other
}

// passTimes are the times to a pass on evidence (Never for canaries that
// did not pass; canaries promoted at the time limit are left out).
func passTimes(h *healthyReport) []time.Duration {
	var ds []time.Duration
	for _, x := range h.runs {
		if x.atLimit {
			continue
		}
		ds = append(ds, x.pass)
	}
	return ds
}

func (r *report) printThroughput(w io.Writer) {
	t := r.throughput
	o := r.opts
	fmt.Fprintf(w, "\n## 4. Proxy throughput with a 50%% split\n\n")
	fmt.Fprintf(w, "Closed-loop keep-alive GET / at %d concurrent clients, %s measured after %s warm-up, %d rounds with the "+
		"targets taking turns; each figure is the median of the rounds (errors summed). direct: the plain app's instance; plain: "+
		"through the server's proxy to an app with no canary (one instance); split 50%%: through it to an app whose canary is held "+
		"at weight 50 by a manual pause (one stable and one canary instance; no cookies, so each request is drawn anew: %.1f%% of "+
		"%d probe answers came from the canary). Proxy CPU/req is the proxy process's user+system time over the measured window "+
		"divided by its requests (/proc, 10 ms ticks). Pinning: %s.\n\n",
		o.concurrency, o.duration, o.warmup, o.rounds, 100*t.share, t.shareN, t.pinNote)
	if t.pidNote != "" {
		fmt.Fprintf(w, "**Note:** %s.\n\n", t.pidNote)
	}
	direct, _ := t.rows[0].median()
	rows := [][]string{{"target", "req/s", "× direct", "p50", "p99", "proxy CPU/req", "errors"}}
	for _, row := range t.rows {
		m, cpu := row.median()
		c := "–"
		if cpu > 0 {
			c = results.Dur(cpu)
		}
		rows = append(rows, []string{row.target, fmt.Sprintf("%.0f", m.RPS), fmt.Sprintf("%.2f", m.RPS/direct.RPS),
			results.Dur(m.P50), results.Dur(m.P99), c, fmt.Sprint(m.Errors)})
	}
	results.Table(w, rows)
}

// dur formats a duration, "never" for results.Never.
func dur(d time.Duration) string {
	if d == results.Never {
		return "never"
	}
	return results.Dur(d)
}

// pm is "p50 / max" of s, noting durations that never happened.
func pm(s results.Stats) string {
	if s.N == 0 {
		return "none"
	}
	out := dur(s.P50) + " / " + dur(s.Max)
	if s.Missing > 0 {
		out += fmt.Sprintf(" (%d never)", s.Missing)
	}
	return out
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// quantile of ds at q in [0, 1] (nearest rank, lower), ignoring Never;
// Never if there is none.
func quantile(ds []time.Duration, q float64) time.Duration {
	var ok []time.Duration
	for _, d := range ds {
		if d != results.Never {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return results.Never
	}
	slices.Sort(ok)
	return ok[int(q*float64(len(ok)-1))]
}

func qname(q float64) string {
	switch q {
	case 0:
		return "min"
	case 1:
		return "max"
	}
	return fmt.Sprintf("p%.0f", 100*q)
}

// short cuts s to n runes.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// printChecks says, for the healthy canaries that passed, how long each
// check kept the analysis waiting.
func (r *report) printChecks(w io.Writer) {
	h := r.healthy
	waits := map[string][]time.Duration{}
	last := map[string]int{}
	passed := 0
	stillWaiting := map[string]int{} // at the time limit
	limited := 0
	for _, x := range h.runs {
		if x.atLimit {
			limited++
			if x.evidence != nil {
				for _, c := range x.evidence.Checks {
					if c.Verdict != analysis.Pass {
						stillWaiting[c.Name]++
					}
				}
			}
		}
		if x.state != store.RolloutSucceeded || x.atLimit {
			continue
		}
		passed++
		var slowest string
		for _, name := range checkNames {
			d := x.checkWait[name] // 0: never seen waiting
			waits[name] = append(waits[name], d)
			if slowest == "" || d > x.checkWait[slowest] {
				slowest = name
			}
		}
		last[slowest]++
	}
	if limited > 0 {
		var ws []string
		for _, name := range slices.Sorted(maps.Keys(stillWaiting)) {
			ws = append(ws, fmt.Sprintf("%s in %d", name, stillWaiting[name]))
		}
		fmt.Fprintf(w, "\n%d canaries reached the analysis step's time limit without a pass; no check had failed, and the step "+
			"advanced (the executor's rule since f38e3d6). The checks still waiting at that moment: %s.\n", limited, strings.Join(ws, ", "))
		for _, x := range h.runs {
			if x.atLimit {
				fmt.Fprintf(w, "\n- for example #%d %s: %s\n", x.n, x.version, short(x.reason, 500))
				break
			}
		}
	}
	if passed == 0 {
		return
	}
	fmt.Fprintf(w, "\nWhat the analysis waited for, in the %d canaries that passed on evidence: the last time, after the weight step, that "+
		"the rollout's message (read through the API every %s) listed each check as still waiting; 0 if it never did.\n\n",
		passed, r.opts.interval)
	rows := [][]string{{"check", "still waiting at, p50", "max", "the last check to pass, in canaries"}}
	for _, name := range checkNames {
		s := results.StatsOf(waits[name])
		rows = append(rows, []string{name, dur(s.P50), dur(s.Max), fmt.Sprint(last[name])})
	}
	results.Table(w, rows)
}

// latencyLine gives p50, p99, p99.9 and max of sorted latencies.
func latencyLine(sorted []time.Duration) string {
	if len(sorted) == 0 {
		return "none"
	}
	at := func(num, den int) time.Duration { return sorted[min(len(sorted)-1, len(sorted)*num/den)] }
	return fmt.Sprintf("p50 %s, p99 %s, p99.9 %s, max %s (%d answers)", results.Dur(at(1, 2)), results.Dur(at(99, 100)),
		results.Dur(at(999, 1000)), results.Dur(sorted[len(sorted)-1]), len(sorted))
}
