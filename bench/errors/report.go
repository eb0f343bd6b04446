package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/results"
)

// report is everything a run prints at the end, as Markdown.
type report struct {
	opts     options
	args     []string
	info     []string
	memory   string
	versions []string
	corpus   corpusInfo
	rows     []row
	loadEnd  string
	elapsed  time.Duration
}

// row is one load: against the baseline, then against slipway.
type row struct {
	base baselineRun
	in   ingestRun
}

// corpusInfo describes the events sent.
type corpusInfo struct {
	events, kinds        int
	sizeMin, sizeMax     int
	sizeMean             float64
	framesMin, framesMax int
	inApp                float64 // share of frames in app
	crumbsMin, crumbsMax int
	top1, top5           float64 // share of the events of the commonest kind, and of the five commonest
	plainBody, gzipBody  float64 // mean envelope body bytes
	releases             int
}

func describeCorpus(kinds []kind, c corpus) corpusInfo {
	ci := corpusInfo{events: len(c.events), kinds: len(kinds), sizeMin: 1 << 30, framesMin: 1 << 30, crumbsMin: 1 << 30}
	var frames, app int
	perKind := make([]int, len(kinds))
	rels := map[string]bool{}
	for i, ev := range c.events {
		ci.sizeMin, ci.sizeMax = min(ci.sizeMin, len(ev)), max(ci.sizeMax, len(ev))
		ci.sizeMean += float64(len(ev)) / float64(len(c.events))
		k := kinds[c.kinds[i]]
		ci.framesMin, ci.framesMax = min(ci.framesMin, len(k.frames)), max(ci.framesMax, len(k.frames))
		for _, f := range k.frames {
			frames++
			if f.InApp {
				app++
			}
		}
		var crumbs struct {
			Breadcrumbs []json.RawMessage `json:"breadcrumbs"`
		}
		_ = json.Unmarshal(ev, &crumbs)
		ci.crumbsMin, ci.crumbsMax = min(ci.crumbsMin, len(crumbs.Breadcrumbs)), max(ci.crumbsMax, len(crumbs.Breadcrumbs))
		perKind[c.kinds[i]]++
		rels[c.releases[i]] = true
	}
	ci.inApp = float64(app) / float64(frames)
	slices.SortFunc(perKind, func(a, b int) int { return b - a })
	for i, n := range perKind {
		if i < 5 {
			ci.top5 += float64(n) / float64(len(c.events))
		}
	}
	ci.top1 = float64(perKind[0]) / float64(len(c.events))
	ci.releases = len(rels)
	p := project{dsn: "http://0123456789abcdef0123456789abcdef@127.0.0.1:7070/1", addr: "127.0.0.1:7070", key: "0123456789abcdef0123456789abcdef", id: "1"}
	for _, gz := range []bool{false, true} {
		reqs, err := c.requests(p, gz)
		if err != nil {
			continue
		}
		var sum float64
		for _, r := range reqs {
			sum += float64(r.bodyLen)
		}
		if gz {
			ci.gzipBody = sum / float64(len(reqs))
		} else {
			ci.plainBody = sum / float64(len(reqs))
		}
	}
	return ci
}

func (r *report) print(w io.Writer) {
	fmt.Fprintln(w, "# Slipway error ingest benchmark")
	fmt.Fprintln(w)
	cmd := "go run ./bench/errors"
	if len(r.args) > 0 {
		cmd += " " + strings.Join(r.args, " ")
	}
	for _, l := range r.info {
		fmt.Fprintln(w, "- "+l)
	}
	fmt.Fprintln(w, "- memory: "+r.memory)
	fmt.Fprintln(w, "- load average at end: "+r.loadEnd)
	fmt.Fprintln(w, "- software: "+strings.Join(r.versions, ", "))
	fmt.Fprintf(w, "- command: `%s` (%s in all)\n", cmd, r.elapsed.Round(time.Second))
	fmt.Fprintln(w, "- pinning: none; the load generator (this process) shares both CPUs with the server under test")
	c := r.corpus
	fmt.Fprintf(w, "- events: %d distinct fingerprints, corpus of %d events sent in turn; JSON %d–%d bytes (mean %.0f), "+
		"%d–%d frames (%.0f%% in app), %d–%d breadcrumbs, %d releases; the commonest fingerprint has %.0f%% of the events, "+
		"the five commonest %.0f%%; envelope bodies %.0f bytes plain, %.0f gzip (mean)\n",
		c.kinds, c.events, c.sizeMin, c.sizeMax, c.sizeMean, c.framesMin, c.framesMax, 100*c.inApp, c.crumbsMin, c.crumbsMax,
		c.releases, 100*c.top1, 100*c.top5, c.plainBody, c.gzipBody)
	fmt.Fprintf(w, "- server: `slipway server --errors-rate %s`, every other setting its default; a fresh data dir per run\n", r.opts.errorsRate)

	fmt.Fprintf(w, "\n## 1. Sustained ingest, end to end\n\n")
	fmt.Fprintf(w, "Closed-loop keep-alive clients POST envelopes for %s. Accepted/s is 200 answers over the sending time; "+
		"end to end is the accepted events over the time from the first send until the API counted all of them "+
		"(polled every 20 ms after the load); drain is the time from the end of the load to that point. Ceiling "+
		"is the baseline server's rate with the same clients and bodies, and the last column the end-to-end rate as "+
		"a share of it. Latency is the client's, over every answer. Server CPU/event is the server process's "+
		"CPU time from the first send to all queryable, divided by the accepted events; others' CPU is the CPU "+
		"other processes on the machine (not the server, not this one) used meanwhile, in cores (of %d).\n\n", r.opts.duration, runtime.NumCPU())
	rows := [][]string{{"body", "clients", "sent", "200", "429", "503", "other", "accepted/s", "drain", "end-to-end events/s",
		"ceiling req/s", "of ceiling", "p50", "p90", "p99", "max", "server CPU/event", "client CPU/req", "others' CPU", "issues"}}
	for _, x := range r.rows {
		in, bl := x.in, x.base
		e2e, share := "never all", "–"
		if !in.queryable.IsZero() {
			e2e = fmt.Sprintf("%.0f", in.endToEnd())
			if bl.load.rate() > 0 {
				share = fmt.Sprintf("%.2f", in.endToEnd()/bl.load.rate())
			}
		}
		rows = append(rows, []string{bodyName(in.load.gzipped), fmt.Sprint(in.load.clients), fmt.Sprint(in.load.sent()),
			fmt.Sprint(in.load.statuses[200]), fmt.Sprint(in.load.statuses[429]), fmt.Sprint(in.load.statuses[503]), fmt.Sprint(in.load.other()),
			fmt.Sprintf("%.0f", in.load.rate()), results.Dur(in.drain()), e2e, fmt.Sprintf("%.0f", bl.load.rate()), share,
			results.Dur(percentile(in.load.lat, 50)), results.Dur(percentile(in.load.lat, 90)), results.Dur(percentile(in.load.lat, 99)), results.Dur(percentile(in.load.lat, 100)),
			perEvent(in.serverCPU, in.accepted()), perEvent(in.clientCPU, int64(in.load.sent())), cores(in.others()), fmt.Sprint(in.issues)})
	}
	results.Table(w, rows)
	fmt.Fprintln(w)
	for _, x := range r.rows {
		in := x.in
		name := fmt.Sprintf("%s, %d clients", bodyName(in.load.gzipped), in.load.clients)
		if in.load.firstErr != "" {
			fmt.Fprintf(w, "- %s: first answer other than 200: %s\n", name, in.load.firstErr)
		}
		if in.queryable.IsZero() {
			fmt.Fprintf(w, "- %s: **the API counted %d of %d accepted events after waiting %s**\n", name, in.stored, in.accepted(), r.opts.drainTimeout)
		} else if in.stored != in.accepted() {
			fmt.Fprintf(w, "- %s: **the API counted %d events for %d accepted**\n", name, in.stored, in.accepted())
		}
		fmt.Fprintf(w, "- %s: when the load stopped %d of %d accepted events were queryable (stored at %.0f/s while sending)\n",
			name, in.storedLoad, in.accepted(), float64(in.storedLoad)/in.load.end.Sub(in.load.start).Seconds())
		for _, e := range in.sampleErrs {
			fmt.Fprintf(w, "- %s: sampling error: %s\n", name, e)
		}
	}

	fmt.Fprintf(w, "\n## 2. Server memory and disk\n\n")
	fmt.Fprintf(w, "RSS of the `slipway server` process (not its proxy) sampled every 100 ms from the first send to all "+
		"queryable; peak is VmHWM, the highest RSS since it started. errors.db is the database with its WAL, read "+
		"while the server still ran and again after it stopped (SIGTERM). Each issue keeps its newest 100 events.\n\n")
	rows = [][]string{{"body", "clients", "RSS at first send", "RSS median", "RSS max sampled", "peak (VmHWM)", "errors.db + WAL, running", "errors.db after stop"}}
	for _, x := range r.rows {
		in := x.in
		var rss []int
		for _, p := range in.points {
			if p.rssKiB > 0 {
				rss = append(rss, p.rssKiB)
			}
		}
		first := 0
		if len(rss) > 0 {
			first = rss[0]
		}
		slices.Sort(rss)
		med, top := 0, 0
		if len(rss) > 0 {
			med, top = rss[(len(rss)-1)/2], rss[len(rss)-1]
		}
		rows = append(rows, []string{bodyName(in.load.gzipped), fmt.Sprint(in.load.clients), results.MiB(first), results.MiB(med),
			results.MiB(top), results.MiB(in.hwmKiB), mb(in.dbBytes), mb(in.dbStopped)})
	}
	results.Table(w, rows)

	if x, ok := r.longest(); ok {
		fmt.Fprintf(w, "\nOne run second by second (%s, %d clients): events the API counted and the server's RSS.\n\n",
			bodyName(x.in.load.gzipped), x.in.load.clients)
		rows = [][]string{{"second", "queryable events", "RSS"}}
		for _, p := range x.in.points {
			if p.stored >= 0 {
				rows = append(rows, []string{fmt.Sprintf("%.0f", p.at.Seconds()), fmt.Sprint(p.stored), results.MiB(p.rssKiB)})
			}
		}
		results.Table(w, rows)
	}

	fmt.Fprintf(w, "\n## 3. Baseline: the HTTP ceiling\n\n")
	fmt.Fprintf(w, "The same clients and bodies for %s against a plain Go net/http server in a child process that reads "+
		"each body and answers 200 {\"id\": ...} without decompressing, parsing or storing it.\n\n", r.opts.baselineDuration)
	rows = [][]string{{"body", "clients", "req/s", "p50", "p99", "max", "server CPU/req", "client CPU/req", "others' CPU", "not 200"}}
	for _, x := range r.rows {
		bl := x.base
		rows = append(rows, []string{bodyName(bl.load.gzipped), fmt.Sprint(bl.load.clients), fmt.Sprintf("%.0f", bl.load.rate()),
			results.Dur(percentile(bl.load.lat, 50)), results.Dur(percentile(bl.load.lat, 99)), results.Dur(percentile(bl.load.lat, 100)),
			perEvent(bl.serverCPU, int64(bl.load.statuses[200])), perEvent(bl.clientCPU, int64(bl.load.sent())),
			cores(bl.others()), fmt.Sprint(bl.load.sent() - bl.load.statuses[200])})
	}
	results.Table(w, rows)

	fmt.Fprintf(w, "\n## 4. Published figures of other self-hosted trackers (not measured here)\n\n")
	fmt.Fprintln(w, "- Bugsink: about 30 events/s with 50 KB events on 2 vCPU / 4 GB.")
	fmt.Fprintln(w, "- Telebugs: about 50 events/s on 2 vCPU / 4 GB.")
	fmt.Fprintln(w, "- Self-hosted Sentry: needs about 14 GB of RAM (and dozens of containers).")
}

// longest returns the run with the most points in its stored timeline:
// the one that took longest to be queryable.
func (r *report) longest() (row, bool) {
	var best row
	ok := false
	for _, x := range r.rows {
		if !ok || len(x.in.points) > len(best.in.points) {
			best, ok = x, true
		}
	}
	return best, ok
}

// perEvent prints d / n.
func perEvent(d time.Duration, n int64) string {
	if n <= 0 {
		return "–"
	}
	return results.Dur(d / time.Duration(n))
}

// cores prints a CPU share in cores.
func cores(c float64) string { return fmt.Sprintf("%.2f", max(c, 0)) }

// mb prints bytes as MB (10^6).
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
