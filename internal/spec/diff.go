package spec

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Op is what a Change does to a field.
type Op string

// The kinds of Change.
const (
	OpAdd    Op = "add"
	OpRemove Op = "remove"
	OpUpdate Op = "update"
)

// Change is one difference between two versions of an App, as shown by
// `slipway plan`.
type Change struct {
	// Path is the dotted path of the field, such as
	// environments.production.config.GREETING.
	Path string `json:"path"`
	Op   Op     `json:"op"`
	// Old and New are the values as written in slipway.yaml: strings and
	// durations quoted, numbers and booleans bare. Old is empty for OpAdd
	// and New for OpRemove. A removed environment, pipeline or source is
	// one OpRemove at its path (environments.<name>, pipeline, source) with
	// no Old: it stands for all its fields.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// Diff lists the field-by-field differences that deploying to would make
// to from. Both are compared with defaults applied, so leaving out a field
// and writing its default are the same. from may be nil, for a new app:
// then every field of to is an OpAdd. Changes come in the order of the
// fields in slipway.yaml, with map keys (environments, variables) sorted.
func Diff(from, to *App) []Change {
	before, after := leaves(from.WithDefaults()), leaves(to.WithDefaults())
	type ordered struct {
		Change
		order string
	}
	var out []ordered
	for path, l := range after {
		switch b, ok := before[path]; {
		case !ok:
			out = append(out, ordered{Change{Path: path, Op: OpAdd, New: l.value}, l.order})
		case b.value != l.value:
			out = append(out, ordered{Change{Path: path, Op: OpUpdate, Old: b.value, New: l.value}, l.order})
		}
	}
	// Sections (an environment, the pipeline, the source) removed as a
	// whole show as one change.
	kept := map[string]bool{}
	for _, l := range after {
		kept[l.section] = true
	}
	gone := map[string]bool{}
	for _, l := range before {
		if l.section != "" && !kept[l.section] && !gone[l.section] {
			gone[l.section] = true
			out = append(out, ordered{Change{Path: l.section, Op: OpRemove}, sectionOrder(l.section)})
		}
	}
	for path, l := range before {
		if _, ok := after[path]; !ok && !gone[l.section] {
			out = append(out, ordered{Change{Path: path, Op: OpRemove, Old: l.value}, l.order})
		}
	}
	slices.SortFunc(out, func(a, b ordered) int {
		return cmp.Or(strings.Compare(a.order, b.order), strings.Compare(a.Path, b.Path))
	})
	changes := make([]Change, len(out))
	for i, c := range out {
		changes[i] = c.Change
	}
	return changes
}

// FormatChanges renders changes the way `slipway plan` prints them, one per
// line, terraform-style: an addition as `+ environments.staging.replicas = 2`,
// an update as `~ health.path: "/healthz" -> "/ready"`, a removal as
// `- environments.preview` (with ` = old` for a single field). It returns
// "No changes." when there are none. Every line ends in a newline.
func FormatChanges(changes []Change) string {
	if len(changes) == 0 {
		return "No changes.\n"
	}
	var b strings.Builder
	for _, c := range changes {
		switch c.Op {
		case OpAdd:
			fmt.Fprintf(&b, "+ %s = %s\n", c.Path, c.New)
		case OpUpdate:
			fmt.Fprintf(&b, "~ %s: %s -> %s\n", c.Path, c.Old, c.New)
		case OpRemove:
			if c.Old == "" {
				fmt.Fprintf(&b, "- %s\n", c.Path)
			} else {
				fmt.Fprintf(&b, "- %s = %s\n", c.Path, c.Old)
			}
		default:
			fmt.Fprintf(&b, "? %s: %s -> %s\n", c.Path, c.Old, c.New)
		}
	}
	return b.String()
}

// leaf is one field's value, flattened.
type leaf struct {
	value string
	// order sorts leaves in the order fields appear in slipway.yaml: one
	// segment per path element, a two-digit rank for a fixed field and the
	// key itself for a map entry.
	order string
	// section is the environment (environments.<name>), pipeline or
	// source the field belongs to, if any: removing it removes the field.
	section string
}

// leaves flattens a into its fields, keyed by path. It returns nil for nil.
func leaves(a *App) map[string]leaf {
	if a == nil {
		return nil
	}
	m := map[string]leaf{}
	put := func(path, value string, order ...string) {
		m[path] = leaf{value: value, order: strings.Join(order, "\x00")}
	}
	q := strconv.Quote
	put("name", q(a.Name), "00")
	put("build.command", q(a.Build.Command), "01", "00")
	put("build.output", q(a.Build.Output), "01", "01")
	put("run.command", q(a.Run.Command), "02", "00")
	for k, v := range a.Run.Env {
		put("run.env."+k, q(v), "02", "01", "\x01"+k)
	}
	put("run.drain_timeout", q(a.Run.DrainTimeout.String()), "02", "02")
	put("health.path", q(a.Health.Path), "03", "00")
	put("health.interval", q(a.Health.Interval.String()), "03", "01")
	put("health.timeout", q(a.Health.Timeout.String()), "03", "02")
	put("health.healthy_threshold", strconv.Itoa(a.Health.HealthyThreshold), "03", "03")
	put("health.unhealthy_threshold", strconv.Itoa(a.Health.UnhealthyThreshold), "03", "04")
	put("health.start_period", q(a.Health.StartPeriod.String()), "03", "05")
	put("health.deploy_timeout", q(a.Health.DeployTimeout.String()), "03", "06")
	// section returns a put for the fields under section, whose paths it
	// is given relative to the section.
	section := func(section string) func(path, value string, order ...string) {
		o := sectionOrder(section)
		return func(path, value string, order ...string) {
			m[section+path] = leaf{value: value, order: o + "\x00" + strings.Join(order, "\x00"), section: section}
		}
	}
	if a.Pipeline != nil {
		pipelineLeaves(*a.Pipeline, section("pipeline"))
	}
	if a.Source != nil {
		sourceLeaves(*a.Source, section("source"))
	}
	for _, name := range slices.Sorted(maps.Keys(a.Environments)) {
		environmentLeaves(a.Environments[name], section("environments."+name))
	}
	return m
}

// environmentLeaves flattens env.
func environmentLeaves(env Environment, put func(path, value string, order ...string)) {
	q := strconv.Quote
	put(".host", q(env.Host), "00")
	put(".replicas", strconv.Itoa(env.Replicas), "01")
	for k, v := range env.Config {
		put(".config."+k, q(v), "02", "\x01"+k)
	}
	promotionLeaves(env, put)
	rolloutLeaves(env.Rollout, func(path, value string, order ...string) {
		put(".rollout"+path, value, append([]string{"09"}, order...)...)
	})
}

// rolloutLeaves flattens r. Fields of another strategy than r's show only
// when set, so a valid rollout lists just the fields that apply to it.
func rolloutLeaves(r Rollout, put func(path, value string, order ...string)) {
	q := strconv.Quote
	dur := func(d Duration) string { return q(d.String()) }
	num := formatNumber
	blueGreen, rolling, canary := r.Strategy == StrategyBlueGreen, r.Strategy == StrategyRolling, r.Strategy == StrategyCanary
	put(".strategy", q(r.Strategy), "00")
	put(".progress_deadline", dur(r.ProgressDeadline), "01")
	put(".keep_previous", dur(r.KeepPrevious), "02")
	if r.PreviewHost != "" {
		put(".preview_host", q(r.PreviewHost), "03")
	}
	if blueGreen || r.Promotion != "" {
		put(".promotion", q(r.Promotion), "04")
	}
	if blueGreen && r.Promotion != PromotionManual || r.PromoteAfter != 0 {
		put(".promote_after", dur(r.PromoteAfter), "05")
	}
	if rolling || r.MaxSurge != 0 {
		put(".max_surge", strconv.Itoa(r.MaxSurge), "06")
	}
	if rolling || r.MaxUnavailable != 0 {
		put(".max_unavailable", strconv.Itoa(r.MaxUnavailable), "07")
	}
	for i, s := range r.Steps {
		p, o := fmt.Sprintf(".steps[%d]", i), index(i)
		if s.Weight != nil {
			put(p+".weight", strconv.Itoa(*s.Weight), "08", o, "00")
		}
		if s.Pause != "" {
			put(p+".pause", q(s.Pause), "08", o, "01")
		}
		if s.Analysis != 0 {
			put(p+".analysis", dur(s.Analysis), "08", o, "02")
		}
	}
	if canary || r.Sticky != "" {
		put(".sticky", q(r.Sticky), "09")
	}
	a := r.Analysis
	if !canary && a.isZero() {
		return
	}
	put(".analysis.interval", dur(a.Interval), "10", "00")
	put(".analysis.window", dur(a.Window), "10", "01")
	put(".analysis.min_requests", strconv.Itoa(a.MinRequests), "10", "02")
	if a.MaxErrorRate != nil {
		put(".analysis.max_error_rate", num(*a.MaxErrorRate), "10", "03")
	}
	if a.MaxErrorRateIncrease != nil {
		put(".analysis.max_error_rate_increase", num(*a.MaxErrorRateIncrease), "10", "04")
	}
	for i, c := range a.Latency {
		p, o := fmt.Sprintf(".analysis.latency[%d]", i), index(i)
		put(p+".percentile", num(c.Percentile), "10", "05", o, "00")
		if c.Max != 0 {
			put(p+".max", dur(c.Max), "10", "05", o, "01")
		}
		if c.MaxRatio != 0 {
			put(p+".max_ratio", num(c.MaxRatio), "10", "05", o, "02")
		}
	}
	for i, w := range a.Webhooks {
		p, o := fmt.Sprintf(".analysis.webhooks[%d]", i), index(i)
		put(p+".url", q(w.URL), "10", "06", o, "00")
		put(p+".timeout", dur(w.Timeout), "10", "06", o, "01")
	}
	for i, c := range a.Prometheus {
		p, o := fmt.Sprintf(".analysis.prometheus[%d]", i), index(i)
		put(p+".url", q(c.URL), "10", "07", o, "00")
		put(p+".query", q(c.Query), "10", "07", o, "01")
		if c.Min != nil {
			put(p+".min", num(*c.Min), "10", "07", o, "02")
		}
		if c.Max != nil {
			put(p+".max", num(*c.Max), "10", "07", o, "03")
		}
	}
}

// index is the order segment of a list item: fixed width, so that items
// sort by number.
func index(i int) string { return fmt.Sprintf("\x02%010d", i) }

// sectionOrder is the order segment of a section: pipeline, source or
// environments.<name>.
func sectionOrder(section string) string {
	switch section {
	case "pipeline":
		return "04"
	case "source":
		return "05"
	}
	return "06\x00\x01" + strings.TrimPrefix(section, "environments.")
}
