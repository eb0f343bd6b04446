package spec

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// This file checks environments.<name>.rollout; validate.go holds the rest
// of the rules.

// rolloutEnv is what the rollout checks need to know about the environment
// around the rollout.
type rolloutEnv struct {
	name     string
	host     string
	replicas int // with its default applied; 0 when replicas is invalid
	// hosts maps each host and preview host claimed so far to the field
	// that claimed it; see validator.environments.
	hosts map[string]string
}

// strategyField is a field of Rollout that belongs to one strategy.
type strategyField struct {
	name     string
	strategy string
	plural   bool // the name is plural ("steps only apply ...")
	given    bool
}

func (v *validator) rollout(p string, r Rollout, env rolloutEnv) {
	strategy, known, defaulted := r.Strategy, true, false
	switch {
	case !v.given(p+".strategy", r.Strategy != ""):
		strategy, defaulted = DefaultStrategy, true
	case r.Strategy == StrategyBlueGreen, r.Strategy == StrategyCanary, r.Strategy == StrategyRolling:
	default:
		known = false
		v.addf(p+".strategy", "%s", choiceProblem(r.Strategy, "a rollout strategy", StrategyBlueGreen, StrategyCanary, StrategyRolling))
	}

	v.positive(p+".progress_deadline", r.ProgressDeadline, DefaultProgressDeadline)
	dl := deadline{DefaultProgressDeadline, true}
	if v.given(p+".progress_deadline", r.ProgressDeadline != 0) {
		dl = deadline{max(r.ProgressDeadline, 0), false}
	}
	if r.KeepPrevious < 0 {
		v.addf(p+".keep_previous", "%q must not be negative; write \"0s\" to stop the previous release once it has drained", r.KeepPrevious)
	}

	fields := []strategyField{
		{name: "preview_host", strategy: StrategyBlueGreen, given: v.given(p+".preview_host", r.PreviewHost != "")},
		{name: "promotion", strategy: StrategyBlueGreen, given: v.given(p+".promotion", r.Promotion != "")},
		{name: "promote_after", strategy: StrategyBlueGreen, given: v.given(p+".promote_after", r.PromoteAfter != 0)},
		{name: "max_surge", strategy: StrategyRolling, given: v.given(p+".max_surge", r.MaxSurge != 0)},
		{name: "max_unavailable", strategy: StrategyRolling, given: v.given(p+".max_unavailable", r.MaxUnavailable != 0)},
		{name: "steps", strategy: StrategyCanary, plural: true, given: v.given(p+".steps", len(r.Steps) > 0)},
		{name: "sticky", strategy: StrategyCanary, given: v.given(p+".sticky", r.Sticky != "")},
		{name: "analysis", strategy: StrategyCanary, given: v.given(p+".analysis", !r.Analysis.isZero())},
	}
	if known {
		for _, f := range fields {
			if f.given && f.strategy != strategy {
				v.addf(p+"."+f.name, "%s", misplaced(f, strategy, defaulted))
			}
		}
	}
	// With an unknown strategy, check every field that is written, so that
	// one typo does not hide the other mistakes.
	if !known || strategy == StrategyBlueGreen {
		v.blueGreen(p, r, env, dl)
	}
	if !known || strategy == StrategyRolling {
		v.rolling(p, r, env)
	}
	if !known || strategy == StrategyCanary {
		v.steps(p+".steps", r.Steps, dl)
		if v.given(p+".sticky", r.Sticky != "") {
			if msg := stickyProblem(r.Sticky); msg != "" {
				v.addf(p+".sticky", "%s", msg)
			}
		}
		v.analysis(p+".analysis", r.Analysis)
	}
}

// misplaced says that a field of one strategy is set under another.
func misplaced(f strategyField, strategy string, defaulted bool) string {
	verb, it := "applies", "it"
	if f.plural {
		verb, it = "apply", "them"
	}
	uses := strategy
	if defaulted {
		uses += ", the default"
	}
	return fmt.Sprintf("%s only %s to strategy %s (this environment uses %s); remove %s, or set strategy: %s",
		f.name, verb, f.strategy, uses, it, f.strategy)
}

// deadline is the progress deadline a rollout runs under: a timed wait
// must end before it. d is 0 when progress_deadline is invalid.
type deadline struct {
	d         Duration
	defaulted bool
}

// exceededBy reports whether a wait of w would be cut short by the
// deadline, and describes the deadline for the message.
func (dl deadline) exceededBy(w time.Duration) (bool, string) {
	desc := fmt.Sprintf("progress_deadline (%s)", dl.d)
	if dl.defaulted {
		desc = fmt.Sprintf("progress_deadline (%s, the default)", dl.d)
	}
	return dl.d > 0 && w >= dl.d.D(), desc
}

func (v *validator) blueGreen(p string, r Rollout, env rolloutEnv, dl deadline) {
	if v.given(p+".preview_host", r.PreviewHost != "") {
		v.previewHost(p+".preview_host", r.PreviewHost, env)
	}
	if v.given(p+".promotion", r.Promotion != "") && r.Promotion != PromotionAuto && r.Promotion != PromotionManual {
		v.addf(p+".promotion", "%s", choiceProblem(r.Promotion, "a promotion mode", PromotionAuto, PromotionManual))
	}
	if !v.given(p+".promote_after", r.PromoteAfter != 0) {
		return
	}
	over, desc := dl.exceededBy(r.PromoteAfter.D())
	switch {
	case r.Promotion == PromotionManual:
		v.addf(p+".promote_after", "promote_after only applies with promotion: auto (this environment waits for slipway rollout promote); remove it")
	case r.PromoteAfter < 0:
		v.addf(p+".promote_after", "%q must not be negative; write \"0s\" to switch as soon as the new release is healthy", r.PromoteAfter)
	case over:
		v.addf(p+".promote_after", "%q is not shorter than %s, so the rollout would be aborted before the switch; shorten promote_after or raise progress_deadline", r.PromoteAfter, desc)
	}
}

func (v *validator) previewHost(p, host string, env rolloutEnv) {
	suggestion := ""
	if s := "preview." + env.host; env.host != "" && s != host && env.hosts[s] == "" && validHost(s) {
		suggestion = fmt.Sprintf(", e.g. %q", s)
	}
	switch {
	case strings.TrimSpace(host) == "":
		v.addf(p, "%q is not a host name; write the host that reaches the new release before the switch%s, or remove the line for no preview", host, suggestion)
	case hostProblem(host) != "":
		v.addf(p, "%s", hostProblem(host))
	case host == env.host:
		v.addf(p, "%q is this environment's own host; the preview needs a host of its own%s", host, suggestion)
	case env.hosts[host] != "":
		v.addf(p, "%q is already %s; give the preview a host of its own%s", host, env.hosts[host], suggestion)
	default:
		env.hosts[host] = "the preview_host of environments." + env.name
	}
}

func (v *validator) rolling(p string, r Rollout, env rolloutEnv) {
	v.threshold(p+".max_surge", r.MaxSurge, DefaultMaxSurge)
	if !v.given(p+".max_unavailable", r.MaxUnavailable != 0) {
		return
	}
	n := r.MaxUnavailable
	switch {
	case n < 0:
		v.addf(p+".max_unavailable", "%d must not be negative; write 0 to keep every old instance until its replacement is healthy", n)
	case env.replicas == 1 && n >= 1:
		v.addf(p+".max_unavailable", "%d would let the only replica stop before its replacement is healthy, leaving nothing to serve requests; write 0, or raise replicas", n)
	case env.replicas > 1 && n >= env.replicas:
		v.addf(p+".max_unavailable", "%d would let all %d replicas stop before their replacements are healthy, leaving nothing to serve requests; use at most %d, or raise replicas", n, env.replicas, env.replicas-1)
	}
}

// steps checks a canary's steps. A step sets exactly one field; weights
// climb and end at most at 100; an analysis needs traffic to judge; a timed
// wait must end before the progress deadline.
func (v *validator) steps(p string, steps []Step, dl deadline) {
	if len(steps) == 0 {
		if v.set[p] {
			v.addf(p, "a canary needs at least one step; add steps such as - weight: 10, or remove the line to use the default steps (weight 10, analysis 1m, weight 50, analysis 1m)")
			return
		}
		for _, s := range DefaultSteps() {
			if over, desc := dl.exceededBy(s.Analysis.D()); over {
				v.addMissing(p, []string{p}, "the default steps wait up to %s for an analysis to pass, which is not shorter than %s; raise progress_deadline, or list steps of your own", s.Analysis, desc)
				return
			}
		}
		return
	}
	weight, weightAt := -1, "" // the weight in force and the step that set it
	for i, s := range steps {
		sp, label := fmt.Sprintf("%s[%d]", p, i), fmt.Sprintf("steps[%d]", i)
		var set []string
		var split []string
		if v.given(sp+".weight", s.Weight != nil) {
			set = append(set, "weight")
			if s.Weight != nil {
				split = append(split, fmt.Sprintf("- weight: %d", *s.Weight))
			}
		}
		if v.given(sp+".pause", s.Pause != "") {
			set = append(set, "pause")
			split = append(split, "- pause: "+s.Pause)
		}
		if v.given(sp+".analysis", s.Analysis != 0) {
			set = append(set, "analysis")
			split = append(split, "- analysis: "+s.Analysis.String())
		}
		switch len(set) {
		case 0:
			v.addMissing(sp, []string{sp + ".weight", sp + ".pause", sp + ".analysis"}, "a step needs one of weight, pause or analysis, e.g. - weight: 10")
			continue
		case 1:
		default:
			msg := fmt.Sprintf("a step sets exactly one of weight, pause or analysis, but this one sets %s; give each its own step", andList(set))
			if len(split) == len(set) {
				msg += ": " + strings.Join(split, ", ")
			}
			v.addf(sp, "%s", msg)
			continue
		}
		switch set[0] {
		case "weight":
			if s.Weight == nil {
				continue // not decoded; the decoder reported it
			}
			switch w := *s.Weight; {
			case w < 0 || w > 100:
				v.addf(sp+".weight", "%d is out of range; a weight is the percentage of clients sent to the canary, from 0 to 100", w)
			case weight == 100:
				v.addf(sp+".weight", "follows the weight 100 of %s, which already sends every client to the canary; remove this step, or lower the earlier weight", weightAt)
			case w < weight:
				v.addf(sp+".weight", "%d is less than %d, the weight of %s; weights must not decrease, or clients already on the canary would move back to stable", w, weight, weightAt)
			default:
				weight, weightAt = w, label
			}
		case "pause":
			v.pause(sp+".pause", s.Pause, dl)
		case "analysis":
			over, desc := dl.exceededBy(s.Analysis.D())
			switch {
			case s.Analysis <= 0:
				v.addf(sp+".analysis", "%q must be greater than 0; write how long to wait for the analysis to pass, like \"5m\"", s.Analysis)
			case over:
				v.addf(sp+".analysis", "%q is not shorter than %s, so the rollout would be aborted before the analysis gives up; shorten the analysis or raise progress_deadline", s.Analysis, desc)
			case weight <= 0:
				v.addf(sp+".analysis", "the canary gets no traffic before this step, so the analysis has no requests to judge and can never pass; put a step with a weight above 0 before it")
			}
		}
	}
}

func (v *validator) pause(p, s string, dl deadline) {
	const advice = `write a duration like "2m", or manual to wait for slipway rollout promote`
	if s == PauseManual {
		return
	}
	d, err := time.ParseDuration(s)
	over, desc := dl.exceededBy(d)
	switch {
	case err == nil && d <= 0:
		v.addf(p, "%q must be greater than 0; %s", s, advice)
	case err == nil && over:
		v.addf(p, "%q is not shorter than %s, so the rollout would be aborted during the pause; shorten the pause or raise progress_deadline", s, desc)
	case err == nil:
	case isDecimal(s):
		v.addf(p, "%q has no unit; write \"%ss\" or \"%sm\"", s, s, s)
	case closest(s, []string{PauseManual}) != "":
		v.addf(p, "%q is not a duration or manual; did you mean %q?", s, PauseManual)
	default:
		v.addf(p, "%q is not a duration or manual; %s", s, advice)
	}
}

// stickyProblem describes what is wrong with a sticky mode, or returns "".
func stickyProblem(s string) string {
	const example = "header:X-User-Id"
	if validSticky(s) {
		return ""
	}
	name, isHeader := strings.CutPrefix(s, StickyHeaderPrefix)
	lower := strings.ToLower(s)
	switch {
	case isHeader && name == "":
		return fmt.Sprintf("%q needs a header name after the colon, e.g. %s", s, example)
	case isHeader && validToken(strings.TrimSpace(name)):
		return fmt.Sprintf("%q has spaces around the header name; write %q", s, StickyHeaderPrefix+strings.TrimSpace(name))
	case isHeader:
		return fmt.Sprintf("%q does not name a valid HTTP header; a header name is letters, digits and any of !#$%%&'*+-.^_`|~, e.g. %s", s, example)
	case strings.HasPrefix(lower, StickyHeaderPrefix):
		return fmt.Sprintf("%q must start with %q in lowercase; write %q", s, StickyHeaderPrefix, StickyHeaderPrefix+s[len(StickyHeaderPrefix):])
	case lower == "header":
		return fmt.Sprintf("%q needs a header name, e.g. %s", s, example)
	case closest(s, []string{StickyCookie}) != "":
		return fmt.Sprintf("%q is not a sticky mode; did you mean %q?", s, StickyCookie)
	default:
		return fmt.Sprintf("%q is not a sticky mode; write cookie, or header:NAME to keep each value of a request header on one version, e.g. %s", s, example)
	}
}

func (v *validator) analysis(p string, a Analysis) {
	v.positive(p+".interval", a.Interval, DefaultAnalysisInterval)
	v.positive(p+".window", a.Window, DefaultAnalysisWindow)
	interval, intervalGiven := orDefault(a.Interval, DefaultAnalysisInterval, v.given(p+".interval", a.Interval != 0))
	window, windowGiven := orDefault(a.Window, DefaultAnalysisWindow, v.given(p+".window", a.Window != 0))
	if interval > 0 && window > 0 && window < interval {
		if windowGiven {
			v.addf(p+".window", "%q is shorter than interval (%s); the window must span at least one evaluation, so raise window or lower interval", window, describeDefault(interval, intervalGiven))
		} else {
			v.addf(p+".interval", "%q is longer than window (%s); the window must span at least one evaluation, so lower interval or raise window", interval, describeDefault(window, windowGiven))
		}
	}
	v.threshold(p+".min_requests", a.MinRequests, DefaultMinRequests)
	v.fraction(p+".max_error_rate", a.MaxErrorRate)
	v.fraction(p+".max_error_rate_increase", a.MaxErrorRateIncrease)
	if f := a.MaxErrorRateIncrease; f != nil && *f == 0 {
		// The judge passes a canary once there is evidence its excess is
		// below the limit; with 0 that needs a canary strictly better than
		// stable, so an equally good one would never pass.
		v.addf(p+".max_error_rate_increase", "0 would abort every canary that is merely as good as stable; allow a small increase such as 0.005")
	}

	checked := map[float64]string{} // percentile -> the check that has it
	for i, c := range a.Latency {
		lp, label := fmt.Sprintf("%s.latency[%d]", p, i), fmt.Sprintf("latency[%d]", i)
		switch pct := c.Percentile; {
		case !v.given(lp+".percentile", pct != 0):
			v.addMissing(lp+".percentile", []string{lp + ".percentile"}, "required; add the percentile to check, e.g. percentile: 99")
		case !(pct > 0 && pct < 100):
			v.addf(lp+".percentile", "%s is out of range; a percentile is greater than 0 and less than 100, e.g. 99 or 99.9", formatNumber(pct))
		case checked[pct] != "":
			v.addf(lp+".percentile", "percentile %s is already checked by %s; put its max and max_ratio in one entry", formatNumber(pct), checked[pct])
		default:
			checked[pct] = label
		}
		maxGiven, ratioGiven := v.given(lp+".max", c.Max != 0), v.given(lp+".max_ratio", c.MaxRatio != 0)
		if !maxGiven && !ratioGiven {
			v.addMissing(lp, []string{lp + ".max", lp + ".max_ratio"}, "a latency check needs max (a limit like \"500ms\"), max_ratio (a limit relative to stable, like 1.5) or both")
		}
		if maxGiven && c.Max <= 0 {
			v.addf(lp+".max", "%q must be greater than 0; write a limit like \"500ms\", or remove the line for no absolute limit", c.Max)
		}
		if ratioGiven && !(c.MaxRatio > 1 && !math.IsInf(c.MaxRatio, 0)) {
			v.addf(lp+".max_ratio", "%s must be a number greater than 1: the canary may be this many times slower than stable, e.g. 1.5; remove the line for no relative limit", formatNumber(c.MaxRatio))
		}
	}
	for i, w := range a.Webhooks {
		wp := fmt.Sprintf("%s.webhooks[%d]", p, i)
		if strings.TrimSpace(w.URL) == "" {
			v.addMissing(wp+".url", []string{wp + ".url"}, "required; add the URL to call, e.g. url: https://checks.example.com/canary")
		} else if msg := urlProblem(w.URL, "https"); msg != "" {
			v.addf(wp+".url", "%s", msg)
		}
		v.positive(wp+".timeout", w.Timeout, DefaultWebhookTimeout)
	}
	for i, c := range a.Prometheus {
		v.prometheus(fmt.Sprintf("%s.prometheus[%d]", p, i), c)
	}
	if e := a.Errors; e != nil {
		if n := e.MaxNewIssues; n != nil && *n < -1 {
			v.addf(p+".errors.max_new_issues", "%d is out of range; write 0 to abort on any new issue, a higher number to allow some, or -1 to turn the check off", *n)
		}
		if e.MinEvents < 0 {
			v.addf(p+".errors.min_events", "%d must not be negative; write how many events an issue needs before it counts, e.g. 1", e.MinEvents)
		}
		if f := e.MaxEventsPerRequestIncrease; f != nil && (*f < 0 || math.IsNaN(*f) || math.IsInf(*f, 0)) {
			v.addf(p+".errors.max_events_per_request_increase", "%s must be 0 or more, e.g. 0.01 (one more error event per hundred requests); remove the line to turn the check off", formatNumber(*f))
		}
	}
}

func (v *validator) prometheus(p string, c PrometheusCheck) {
	if strings.TrimSpace(c.URL) == "" {
		v.addMissing(p+".url", []string{p + ".url"}, "required; add the base URL of the Prometheus server, e.g. url: http://127.0.0.1:9090")
	} else if msg := urlProblem(c.URL, "http"); msg != "" {
		v.addf(p+".url", "%s", msg)
	}
	if strings.TrimSpace(c.Query) == "" {
		v.addMissing(p+".query", []string{p + ".query"}, "required; add the PromQL query whose result to check, e.g. query: sum(rate(http_requests_total{code=~\"5..\",release=\"{{release}}\"}[1m]))")
	} else if msg := textProblem(c.Query); msg != "" {
		v.addf(p+".query", "%s", msg)
	} else if msg := placeholderProblem(c.Query); msg != "" {
		v.addf(p+".query", "%s", msg)
	}
	finite := func(f *float64) bool { return f != nil && !math.IsInf(*f, 0) && !math.IsNaN(*f) }
	for _, b := range []struct {
		name  string
		value *float64
	}{{"min", c.Min}, {"max", c.Max}} {
		if b.value != nil && !finite(b.value) {
			v.addf(p+"."+b.name, "%s is not a finite number; write a number like 0.5", formatNumber(*b.value))
		}
	}
	switch {
	case !v.given(p+".min", c.Min != nil) && !v.given(p+".max", c.Max != nil):
		v.addMissing(p, []string{p + ".min", p + ".max"}, "a Prometheus check needs min, max or both to compare the query's result with")
	case finite(c.Min) && finite(c.Max) && *c.Min > *c.Max:
		v.addf(p+".min", "%s is greater than max (%s), so no result could pass; swap them", formatNumber(*c.Min), formatNumber(*c.Max))
	}
}

// fraction checks an optional share from 0 to 1.
func (v *validator) fraction(p string, f *float64) {
	if f == nil || *f >= 0 && *f <= 1 {
		return
	}
	msg := fmt.Sprintf("%s is out of range; write a fraction from 0 to 1", formatNumber(*f))
	if *f > 1 && *f <= 100 {
		msg += fmt.Sprintf(", such as %s for %s%%", formatNumber(*f/100), formatNumber(*f))
	}
	v.addf(p, "%s", msg)
}

// orDefault returns the value an optional duration takes and whether it was
// given; an invalid one comes back as 0.
func orDefault(d, def Duration, given bool) (Duration, bool) {
	switch {
	case !given:
		return def, false
	case d <= 0:
		return 0, true
	}
	return d, true
}

func describeDefault(d Duration, given bool) string {
	if given {
		return d.String()
	}
	return d.String() + ", the default"
}

func (a Analysis) isZero() bool {
	return a.Interval == 0 && a.Window == 0 && a.MinRequests == 0 &&
		a.MaxErrorRate == nil && a.MaxErrorRateIncrease == nil &&
		len(a.Latency) == 0 && len(a.Webhooks) == 0 && len(a.Prometheus) == 0 && a.Errors == nil
}

// choiceProblem says that value is not one of options, suggesting the one
// meant when it can tell.
func choiceProblem(value, what string, options ...string) string {
	if s := closest(value, options); s != "" {
		return fmt.Sprintf("%q is not %s; did you mean %q?", value, what, s)
	}
	return fmt.Sprintf("%q is not %s; use %s", value, what, orList(options))
}

// orList joins words as "a, b or c"; andList as "a, b and c".
func orList(words []string) string  { return joinList(words, "or") }
func andList(words []string) string { return joinList(words, "and") }

func joinList(words []string, conj string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}

// urlProblem describes why s is not an absolute http or https URL, or
// returns "". scheme is the one suggested when s has none.
func urlProblem(s, scheme string) string {
	if msg := textProblem(s); msg != "" {
		return msg
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Sprintf("%q must not contain spaces or control characters; percent-encode them (a space is %%20)", s)
	}
	example := scheme + "://checks.example.com/canary"
	if other, rest, ok := strings.Cut(s, ":"); ok && !strings.Contains(s, "://") && !startsWithPort(rest) {
		return fmt.Sprintf("%q must be an http or https URL, not %s; write it like %q", s, clip(other), example)
	}
	if !strings.Contains(s, "://") {
		fix := scheme + "://" + s
		if u, err := url.Parse(fix); err == nil && u.Hostname() != "" {
			example = fix
		}
		return fmt.Sprintf("%q is not an absolute URL; write it with its scheme, e.g. %q", s, example)
	}
	u, err := url.Parse(s)
	if err != nil {
		var cause error = err
		if ue, ok := err.(*url.Error); ok {
			cause = ue.Err
		}
		return fmt.Sprintf("%q is not a valid URL (%v); write an absolute http or https URL like %q", s, cause, example)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must be an http or https URL, not %s; write it like %q", s, u.Scheme, example)
	case u.Hostname() == "":
		return fmt.Sprintf("%q has no host; write it like %q", s, example)
	}
	return ""
}

// startsWithPort reports whether s, the text after the colon of
// host:port/path, starts with a port number.
func startsWithPort(s string) bool {
	port, _, _ := strings.Cut(s, "/")
	return isDecimal(port) && !strings.Contains(port, ".")
}

// placeholderProblem finds a {{...}} in a Prometheus query that slipway
// would not replace, or returns "".
func placeholderProblem(q string) string {
	known := []string{"release", "stable"}
	for rest := q; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return ""
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return fmt.Sprintf("%q opens {{ without closing it; the placeholders are {{release}} (the canary's release number) and {{stable}}", clip(rest[i:]))
		}
		name := rest[i+2 : i+j]
		trimmed := strings.TrimSpace(name)
		switch s := closest(trimmed, known); {
		case name == "release", name == "stable":
		case trimmed == "release", trimmed == "stable":
			return fmt.Sprintf("write {{%s}} without spaces inside the braces; slipway replaces only the exact placeholder", trimmed)
		case s != "":
			return fmt.Sprintf("{{%s}} is not a placeholder; did you mean {{%s}}?", clip(name), s)
		default:
			return fmt.Sprintf("{{%s}} is not a placeholder; the placeholders are {{release}} (the canary's release number) and {{stable}} (stable's)", clip(name))
		}
		rest = rest[i+j+2:]
	}
}
