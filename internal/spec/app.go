package spec

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file maps the fields of slipway.yaml onto the types in types.go;
// decode.go holds the machinery.

func (d *decoder) app(n *yaml.Node) *App {
	var a App
	d.object("", n, []field{
		{"name", func(p string, v *yaml.Node) { a.Name = d.str(p, v) }},
		{"build", func(p string, v *yaml.Node) { d.build(p, v, &a.Build) }},
		{"run", func(p string, v *yaml.Node) { d.run(p, v, &a.Run) }},
		{"health", func(p string, v *yaml.Node) { d.health(p, v, &a.Health) }},
		{"pipeline", func(p string, v *yaml.Node) { a.Pipeline = d.pipeline(p, v) }},
		{"source", func(p string, v *yaml.Node) { a.Source = d.source(p, v) }},
		{"environments", func(p string, v *yaml.Node) { a.Environments = d.environments(p, v) }},
	})
	return &a
}

func (d *decoder) build(path string, n *yaml.Node, b *Build) {
	d.object(path, n, []field{
		{"command", func(p string, v *yaml.Node) { b.Command = d.str(p, v) }},
		{"output", func(p string, v *yaml.Node) { b.Output = d.str(p, v) }},
	})
}

func (d *decoder) run(path string, n *yaml.Node, r *Run) {
	d.object(path, n, []field{
		{"command", func(p string, v *yaml.Node) { r.Command = d.str(p, v) }},
		{"env", func(p string, v *yaml.Node) { r.Env = d.vars(p, v) }},
		{"drain_timeout", func(p string, v *yaml.Node) { r.DrainTimeout = d.duration(p, v) }},
	})
}

func (d *decoder) health(path string, n *yaml.Node, h *Health) {
	d.object(path, n, []field{
		{"path", func(p string, v *yaml.Node) { h.Path = d.str(p, v) }},
		{"interval", func(p string, v *yaml.Node) { h.Interval = d.duration(p, v) }},
		{"timeout", func(p string, v *yaml.Node) { h.Timeout = d.duration(p, v) }},
		{"healthy_threshold", func(p string, v *yaml.Node) { h.HealthyThreshold = d.integer(p, v) }},
		{"unhealthy_threshold", func(p string, v *yaml.Node) { h.UnhealthyThreshold = d.integer(p, v) }},
		{"start_period", func(p string, v *yaml.Node) { h.StartPeriod = d.duration(p, v) }},
		{"deploy_timeout", func(p string, v *yaml.Node) { h.DeployTimeout = d.duration(p, v) }},
	})
}

func (d *decoder) environments(path string, n *yaml.Node) map[string]Environment {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	switch r.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		d.fail(r, path, "expected one entry per environment, found a list; write each as its name followed by its fields, e.g. staging: {host: hello.staging.example.com}, not - name: staging")
		return nil
	default:
		d.fail(r, path, "expected one entry per environment, found %s; write each on an indented line as its name followed by its fields, e.g. staging: {host: hello.staging.example.com}", describe(r))
		return nil
	}
	d.valPos[path] = positionOf(r)
	var envs map[string]Environment
	for _, e := range d.entries(path, r) {
		p := joinPath(path, e.key)
		d.keyPos[p] = positionOf(e.keyNode)
		d.envOrder = append(d.envOrder, e.key)
		if envs == nil {
			envs = map[string]Environment{}
		}
		envs[e.key] = d.environment(p, e.value)
	}
	return envs
}

func (d *decoder) environment(path string, n *yaml.Node) Environment {
	var env Environment
	d.object(path, n, []field{
		{"host", func(p string, v *yaml.Node) { env.Host = d.str(p, v) }},
		{"replicas", func(p string, v *yaml.Node) { env.Replicas = d.integer(p, v) }},
		{"config", func(p string, v *yaml.Node) { env.Config = d.vars(p, v) }},
		{"requires_from", func(p string, v *yaml.Node) { env.RequiresFrom = d.str(p, v) }},
		{"approvals", func(p string, v *yaml.Node) { env.Approvals = d.integer(p, v) }},
		{"approval_ttl", func(p string, v *yaml.Node) { env.ApprovalTTL = d.duration(p, v) }},
		{"permissions", func(p string, v *yaml.Node) { d.permissions(p, v, &env.Permissions) }},
		{"smoke", func(p string, v *yaml.Node) { env.Smoke = d.smoke(p, v) }},
		{"secret_files", func(p string, v *yaml.Node) { env.SecretFiles = d.secretFiles(p, v) }},
		{"rollout", func(p string, v *yaml.Node) { d.rollout(p, v, &env.Rollout) }},
	})
	return env
}

func (d *decoder) rollout(path string, n *yaml.Node, r *Rollout) {
	d.object(path, n, []field{
		{"strategy", func(p string, v *yaml.Node) { r.Strategy = d.str(p, v) }},
		{"progress_deadline", func(p string, v *yaml.Node) { r.ProgressDeadline = d.duration(p, v) }},
		{"keep_previous", func(p string, v *yaml.Node) { r.KeepPrevious = d.duration(p, v) }},
		{"preview_host", func(p string, v *yaml.Node) { r.PreviewHost = d.str(p, v) }},
		{"promotion", func(p string, v *yaml.Node) { r.Promotion = d.str(p, v) }},
		{"promote_after", func(p string, v *yaml.Node) { r.PromoteAfter = d.duration(p, v) }},
		{"max_surge", func(p string, v *yaml.Node) { r.MaxSurge = d.integer(p, v) }},
		{"max_unavailable", func(p string, v *yaml.Node) { r.MaxUnavailable = d.integer(p, v) }},
		{"steps", func(p string, v *yaml.Node) { r.Steps = d.steps(p, v) }},
		{"sticky", func(p string, v *yaml.Node) { r.Sticky = d.str(p, v) }},
		{"analysis", func(p string, v *yaml.Node) { d.analysis(p, v, &r.Analysis) }},
	})
}

func (d *decoder) steps(path string, n *yaml.Node) []Step {
	var steps []Step
	d.list(path, n, "write one step per line, e.g. - weight: 10", func(p string, v *yaml.Node) {
		var s Step
		d.item(p, v, "- weight: 10, - pause: 2m or - analysis: 5m", []field{
			{"weight", func(p string, v *yaml.Node) { s.Weight = d.weight(p, v) }},
			{"pause", func(p string, v *yaml.Node) {
				if r := d.scalar(p, v, "a duration or manual", `write it like "2m", or manual`); r != nil {
					s.Pause = r.Value
				}
			}},
			{"analysis", func(p string, v *yaml.Node) { s.Analysis = d.duration(p, v) }},
		})
		steps = append(steps, s)
	})
	return steps
}

func (d *decoder) analysis(path string, n *yaml.Node, a *Analysis) {
	d.object(path, n, []field{
		{"interval", func(p string, v *yaml.Node) { a.Interval = d.duration(p, v) }},
		{"window", func(p string, v *yaml.Node) { a.Window = d.duration(p, v) }},
		{"min_requests", func(p string, v *yaml.Node) { a.MinRequests = d.integer(p, v) }},
		{"max_error_rate", func(p string, v *yaml.Node) { a.MaxErrorRate = d.optionalNumber(p, v, fixFraction) }},
		{"max_error_rate_increase", func(p string, v *yaml.Node) { a.MaxErrorRateIncrease = d.optionalNumber(p, v, fixFraction) }},
		{"latency", func(p string, v *yaml.Node) {
			d.list(p, v, "write one check per line, e.g. - {percentile: 99, max: 500ms}", func(p string, v *yaml.Node) {
				var c LatencyCheck
				d.item(p, v, "- {percentile: 99, max: 500ms}", []field{
					{"percentile", func(p string, v *yaml.Node) { c.Percentile, _ = d.number(p, v, fixPercentile) }},
					{"max", func(p string, v *yaml.Node) { c.Max = d.duration(p, v) }},
					{"max_ratio", func(p string, v *yaml.Node) { c.MaxRatio, _ = d.number(p, v, nil) }},
				})
				a.Latency = append(a.Latency, c)
			})
		}},
		{"webhooks", func(p string, v *yaml.Node) {
			d.list(p, v, "write one webhook per line, e.g. - url: https://checks.example.com/canary", func(p string, v *yaml.Node) {
				var w Webhook
				d.item(p, v, "- url: https://checks.example.com/canary", []field{
					{"url", func(p string, v *yaml.Node) { w.URL = d.str(p, v) }},
					{"timeout", func(p string, v *yaml.Node) { w.Timeout = d.duration(p, v) }},
				})
				a.Webhooks = append(a.Webhooks, w)
			})
		}},
		{"prometheus", func(p string, v *yaml.Node) {
			d.list(p, v, "write one query per line, e.g. - {url: http://127.0.0.1:9090, query: up, min: 1}", func(p string, v *yaml.Node) {
				var c PrometheusCheck
				d.item(p, v, "- {url: http://127.0.0.1:9090, query: up, min: 1}", []field{
					{"url", func(p string, v *yaml.Node) { c.URL = d.str(p, v) }},
					{"query", func(p string, v *yaml.Node) { c.Query = d.str(p, v) }},
					{"min", func(p string, v *yaml.Node) { c.Min = d.optionalNumber(p, v, nil) }},
					{"max", func(p string, v *yaml.Node) { c.Max = d.optionalNumber(p, v, nil) }},
				})
				a.Prometheus = append(a.Prometheus, c)
			})
		}},
	})
}

// weight decodes a step's weight, which people tend to write as "10%".
func (d *decoder) weight(path string, n *yaml.Node) *int {
	if r := d.resolve(n); r != nil && r.Kind == yaml.ScalarNode {
		if num, ok := strings.CutSuffix(r.Value, "%"); ok {
			if _, err := strconv.Atoi(num); err == nil {
				d.set[path] = true
				d.fail(r, path, "%s is not a whole number; write %s (a weight is a percentage already)", literal(r), num)
				return nil
			}
		}
	}
	w := d.integer(path, n)
	if !d.set[path] || d.bad[path] {
		return nil
	}
	return &w
}

// optionalNumber decodes a number whose absence means "use the default" or
// "no limit": nil unless the field holds a number.
func (d *decoder) optionalNumber(path string, n *yaml.Node, fix func(string) string) *float64 {
	if v, ok := d.number(path, n, fix); ok {
		return &v
	}
	return nil
}

// fixFraction advises on a share written as a percentage ("5%").
func fixFraction(s string) string {
	if v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64); err == nil && strings.HasSuffix(s, "%") {
		return fmt.Sprintf("write the fraction %s (this field takes 0 to 1, not a percentage)", formatNumber(v/100))
	}
	return "write a fraction from 0 to 1, like 0.05 for 5%"
}

// fixPercentile advises on a percentile written as "p99" or "99%".
func fixPercentile(s string) string {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "p"), "P"), "%")
	if v, err := strconv.ParseFloat(t, 64); err == nil && t != s {
		return "write " + formatNumber(v)
	}
	return "write it like 99"
}
