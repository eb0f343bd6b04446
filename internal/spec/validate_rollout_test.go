package spec

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestValidateRollout checks the rollout rules on Apps built in Go, where a
// zero field means "use the default".
func TestValidateRollout(t *testing.T) {
	const p = "environments.production.rollout"
	tests := []struct {
		name    string
		rollout Rollout
		want    string // the error text; "" for valid
	}{
		{"zero is blue-green with defaults", Rollout{}, ""},
		{"blue-green, every field", Rollout{
			Strategy: StrategyBlueGreen, ProgressDeadline: Duration(time.Hour), KeepPrevious: Duration(time.Minute),
			PreviewHost: "preview.hello.localhost", Promotion: PromotionAuto, PromoteAfter: Duration(5 * time.Minute),
		}, ""},
		{"blue-green, manual", Rollout{PreviewHost: "preview.hello.localhost", Promotion: PromotionManual}, ""},
		{"rolling, defaults", Rollout{Strategy: StrategyRolling}, ""},
		{"rolling, surge above replicas is capped", Rollout{Strategy: StrategyRolling, MaxSurge: 50, MaxUnavailable: 1}, ""},
		{"canary, default steps and analysis", Rollout{Strategy: StrategyCanary}, ""},
		{"canary, every field", Rollout{
			Strategy: StrategyCanary,
			Steps: []Step{{Weight: ptr(0)}, {Pause: PauseManual}, {Weight: ptr(20)}, {Analysis: Duration(time.Minute)},
				{Pause: "30s"}, {Weight: ptr(100)}, {Analysis: Duration(time.Minute)}},
			Sticky: "header:X-User-Id",
			Analysis: Analysis{
				Interval: Duration(time.Second), Window: Duration(time.Second), MinRequests: 1,
				MaxErrorRate: ptr(0.0), MaxErrorRateIncrease: ptr(1.0),
				Latency:    []LatencyCheck{{Percentile: 99.9, Max: Duration(time.Second)}, {Percentile: 0.1, MaxRatio: 1.01}},
				Webhooks:   []Webhook{{URL: "https://checks.example.com/x?y=1"}, {URL: "HTTP://127.0.0.1:8080", Timeout: Duration(time.Second)}},
				Prometheus: []PrometheusCheck{{URL: "http://[::1]:9090", Query: `up{release="{{release}}"} - up{release="{{stable}}"}`, Min: ptr(-1.0), Max: ptr(-1.0)}},
			},
		}, ""},

		{"unknown strategy: every field is still checked", Rollout{Strategy: "Canary", MaxSurge: -1, Steps: []Step{{}}},
			p + `.strategy: "Canary" is not a rollout strategy; did you mean "canary"?
` + p + `.max_surge: -1 must be at least 1; remove the line to use the default 1
` + p + `.steps[0]: a step needs one of weight, pause or analysis, e.g. - weight: 10`},
		{"fields of other strategies", Rollout{Promotion: PromotionAuto, MaxUnavailable: 1, Steps: []Step{{Weight: ptr(10)}},
			Sticky: StickyCookie, Analysis: Analysis{MinRequests: 10}},
			p + `.max_unavailable: max_unavailable only applies to strategy rolling (this environment uses blue-green, the default); remove it, or set strategy: rolling
` + p + `.steps: steps only apply to strategy canary (this environment uses blue-green, the default); remove them, or set strategy: canary
` + p + `.sticky: sticky only applies to strategy canary (this environment uses blue-green, the default); remove it, or set strategy: canary
` + p + `.analysis: analysis only applies to strategy canary (this environment uses blue-green, the default); remove it, or set strategy: canary`},
		{"blue-green fields under rolling", Rollout{Strategy: StrategyRolling, PreviewHost: "p.localhost", PromoteAfter: 1},
			p + `.preview_host: preview_host only applies to strategy blue-green (this environment uses rolling); remove it, or set strategy: blue-green
` + p + `.promote_after: promote_after only applies to strategy blue-green (this environment uses rolling); remove it, or set strategy: blue-green`},
		{"negative durations", Rollout{ProgressDeadline: -1, KeepPrevious: -1, PromoteAfter: -1},
			p + `.progress_deadline: "-1ns" must be greater than 0; write a duration like "10m0s", or remove the line to use the default 10m0s
` + p + `.keep_previous: "-1ns" must not be negative; write "0s" to stop the previous release once it has drained
` + p + `.promote_after: "-1ns" must not be negative; write "0s" to switch as soon as the new release is healthy`},
		{"promote_after with manual promotion", Rollout{Promotion: PromotionManual, PromoteAfter: Duration(time.Second)},
			p + `.promote_after: promote_after only applies with promotion: auto (this environment waits for slipway rollout promote); remove it`},
		{"promote_after against the default deadline", Rollout{PromoteAfter: DefaultProgressDeadline},
			p + `.promote_after: "10m0s" is not shorter than progress_deadline (10m0s, the default), so the rollout would be aborted before the switch; shorten promote_after or raise progress_deadline`},
		{"preview host clashes: the later environment by name is at fault", Rollout{PreviewHost: "hello.staging.localhost"},
			`environments.staging.host: "hello.staging.localhost" is already the preview_host of environments.production; give each environment its own host`},
		{"preview host is the environment's own", Rollout{PreviewHost: "hello.localhost"},
			p + `.preview_host: "hello.localhost" is this environment's own host; the preview needs a host of its own, e.g. "preview.hello.localhost"`},
		{"preview host invalid", Rollout{PreviewHost: "Preview.Hello.localhost"},
			p + `.preview_host: "Preview.Hello.localhost" must be lowercase; write "preview.hello.localhost"`},
		{"rolling: everything unavailable", Rollout{Strategy: StrategyRolling, MaxUnavailable: 2},
			p + `.max_unavailable: 2 would let all 2 replicas stop before their replacements are healthy, leaving nothing to serve requests; use at most 1, or raise replicas`},
		{"canary: malformed steps", Rollout{Strategy: StrategyCanary, Steps: []Step{
			{Weight: ptr(10), Pause: "1m", Analysis: Duration(time.Minute)}, {}, {Weight: ptr(101)}, {Weight: ptr(50)}, {Weight: ptr(30)},
			{Pause: "1"}, {Pause: "manuel"}, {Pause: "-1s"}, {Analysis: -1}, {Weight: ptr(100)}, {Weight: ptr(100)},
		}},
			p + `.steps[0]: a step sets exactly one of weight, pause or analysis, but this one sets weight, pause and analysis; give each its own step: - weight: 10, - pause: 1m, - analysis: 1m0s
` + p + `.steps[1]: a step needs one of weight, pause or analysis, e.g. - weight: 10
` + p + `.steps[2].weight: 101 is out of range; a weight is the percentage of clients sent to the canary, from 0 to 100
` + p + `.steps[4].weight: 30 is less than 50, the weight of steps[3]; weights must not decrease, or clients already on the canary would move back to stable
` + p + `.steps[5].pause: "1" has no unit; write "1s" or "1m"
` + p + `.steps[6].pause: "manuel" is not a duration or manual; did you mean "manual"?
` + p + `.steps[7].pause: "-1s" must be greater than 0; write a duration like "2m", or manual to wait for slipway rollout promote
` + p + `.steps[8].analysis: "-1ns" must be greater than 0; write how long to wait for the analysis to pass, like "5m"
` + p + `.steps[10].weight: follows the weight 100 of steps[9], which already sends every client to the canary; remove this step, or lower the earlier weight`},
		{"canary: waits against the deadline", Rollout{Strategy: StrategyCanary, ProgressDeadline: Duration(time.Minute),
			Steps: []Step{{Analysis: Duration(time.Second)}, {Weight: ptr(1)}, {Pause: "1m"}, {Analysis: Duration(time.Hour)}, {Pause: PauseManual}}},
			p + `.steps[0].analysis: the canary gets no traffic before this step, so the analysis has no requests to judge and can never pass; put a step with a weight above 0 before it
` + p + `.steps[2].pause: "1m" is not shorter than progress_deadline (1m0s), so the rollout would be aborted during the pause; shorten the pause or raise progress_deadline
` + p + `.steps[3].analysis: "1h0m0s" is not shorter than progress_deadline (1m0s), so the rollout would be aborted before the analysis gives up; shorten the analysis or raise progress_deadline`},
		{"canary: default steps against a short deadline", Rollout{Strategy: StrategyCanary, ProgressDeadline: Duration(30 * time.Second)},
			p + `.steps: the default steps wait up to 1m0s for an analysis to pass, which is not shorter than progress_deadline (30s); raise progress_deadline, or list steps of your own`},
		{"canary: sticky", Rollout{Strategy: StrategyCanary, Sticky: "header:X-User\n"},
			p + `.sticky: "header:X-User\n" has spaces around the header name; write "header:X-User"`},
		{"canary: analysis numbers", Rollout{Strategy: StrategyCanary, Analysis: Analysis{
			Interval: Duration(2 * time.Minute), MinRequests: -1, MaxErrorRate: ptr(math.NaN()), MaxErrorRateIncrease: ptr(50.0),
			Latency: []LatencyCheck{{Max: Duration(time.Second)}, {Percentile: math.Inf(1), MaxRatio: math.Inf(1)}, {Percentile: 50, Max: -1}},
		}},
			p + `.analysis.interval: "2m0s" is longer than window (1m0s, the default); the window must span at least one evaluation, so lower interval or raise window
` + p + `.analysis.min_requests: -1 must be at least 1; remove the line to use the default 50
` + p + `.analysis.max_error_rate: NaN is out of range; write a fraction from 0 to 1
` + p + `.analysis.max_error_rate_increase: 50 is out of range; write a fraction from 0 to 1, such as 0.5 for 50%
` + p + `.analysis.latency[0].percentile: required; add the percentile to check, e.g. percentile: 99
` + p + `.analysis.latency[1].percentile: +Inf is out of range; a percentile is greater than 0 and less than 100, e.g. 99 or 99.9
` + p + `.analysis.latency[1].max_ratio: +Inf must be a number greater than 1: the canary may be this many times slower than stable, e.g. 1.5; remove the line for no relative limit
` + p + `.analysis.latency[2].max: "-1ns" must be greater than 0; write a limit like "500ms", or remove the line for no absolute limit`},
		{"canary: error checks", Rollout{Strategy: StrategyCanary, Analysis: Analysis{
			Errors: &ErrorsCheck{MaxNewIssues: ptr(-2), MinEvents: -1, MaxEventsPerRequestIncrease: ptr(math.NaN())},
		}},
			p + `.analysis.errors.max_new_issues: -2 is out of range; write 0 to abort on any new issue, a higher number to allow some, or -1 to turn the check off
` + p + `.analysis.errors.min_events: -1 must not be negative; write how many events an issue needs before it counts, e.g. 1
` + p + `.analysis.errors.max_events_per_request_increase: NaN must be 0 or more, e.g. 0.01 (one more error event per hundred requests); remove the line to turn the check off`},
		{"canary: error checks off and set", Rollout{Strategy: StrategyCanary, Analysis: Analysis{
			Errors: &ErrorsCheck{MaxNewIssues: ptr(-1), MinEvents: 3, MaxEventsPerRequestIncrease: ptr(0.0)},
		}}, ""},
		{"canary: webhooks and prometheus", Rollout{Strategy: StrategyCanary, Analysis: Analysis{
			Webhooks: []Webhook{{}, {URL: "https://", Timeout: -1}, {URL: "mailto:ops@example.com"}, {URL: "https://x\x00"}},
			Prometheus: []PrometheusCheck{
				{},
				{URL: "http://p:9090", Query: "up {{release", Min: ptr(math.Inf(-1))},
				{URL: "http://p:9090", Query: "{{Release}}", Min: ptr(2.0), Max: ptr(1.0)},
			},
		}},
			p + `.analysis.webhooks[0].url: required; add the URL to call, e.g. url: https://checks.example.com/canary
` + p + `.analysis.webhooks[1].url: "https://" has no host; write it like "https://checks.example.com/canary"
` + p + `.analysis.webhooks[1].timeout: "-1ns" must be greater than 0; write a duration like "5s", or remove the line to use the default 5s
` + p + `.analysis.webhooks[2].url: "mailto:ops@example.com" must be an http or https URL, not mailto; write it like "https://checks.example.com/canary"
` + p + `.analysis.webhooks[3].url: the value contains a NUL character (\0), which commands and environment variables cannot hold; remove it
` + p + `.analysis.prometheus[0].url: required; add the base URL of the Prometheus server, e.g. url: http://127.0.0.1:9090
` + p + `.analysis.prometheus[0].query: required; add the PromQL query whose result to check, e.g. query: sum(rate(http_requests_total{code=~"5..",release="{{release}}"}[1m]))
` + p + `.analysis.prometheus[0]: a Prometheus check needs min, max or both to compare the query's result with
` + p + `.analysis.prometheus[1].query: "{{release" opens {{ without closing it; the placeholders are {{release}} (the canary's release number) and {{stable}}
` + p + `.analysis.prometheus[1].min: -Inf is not a finite number; write a number like 0.5
` + p + `.analysis.prometheus[2].query: {{Release}} is not a placeholder; did you mean {{release}}?
` + p + `.analysis.prometheus[2].min: 2 is greater than max (1), so no result could pass; swap them`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := rawApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2, Rollout: tt.rollout}
			})
			got := ""
			if err := a.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.want != "" {
				return
			}
			d := a.WithDefaults()
			if err := d.Validate(); err != nil {
				t.Errorf("valid app fails after WithDefaults: %v", err)
			}
			if changes := Diff(a, d); len(changes) != 0 {
				t.Errorf("defaults written out differ from defaults left out: %v", changes)
			}
		})
	}
}

func TestWithDefaultsRollout(t *testing.T) {
	a := &App{Environments: map[string]Environment{
		"bg":      {},
		"manual":  {Rollout: Rollout{Promotion: PromotionManual, ProgressDeadline: Duration(time.Hour)}},
		"rolling": {Rollout: Rollout{Strategy: StrategyRolling}},
		"canary": {Rollout: Rollout{Strategy: StrategyCanary, Analysis: Analysis{
			MaxErrorRate: ptr(0.0),
			Webhooks:     []Webhook{{URL: "https://a"}, {URL: "https://b", Timeout: Duration(time.Second)}},
			Prometheus:   []PrometheusCheck{{Min: ptr(1.0)}},
		}}},
		"custom":  {Rollout: Rollout{Strategy: StrategyCanary, Steps: []Step{{Weight: ptr(5)}}, Sticky: "header:X"}},
		"unknown": {Rollout: Rollout{Strategy: "linear", Steps: []Step{}}},
	}}
	d := a.WithDefaults()
	want := map[string]Rollout{
		"bg":      {Strategy: StrategyBlueGreen, ProgressDeadline: DefaultProgressDeadline, Promotion: PromotionAuto},
		"manual":  {Strategy: StrategyBlueGreen, ProgressDeadline: Duration(time.Hour), Promotion: PromotionManual},
		"rolling": {Strategy: StrategyRolling, ProgressDeadline: DefaultProgressDeadline, MaxSurge: DefaultMaxSurge},
		"canary": {Strategy: StrategyCanary, ProgressDeadline: DefaultProgressDeadline, Steps: DefaultSteps(), Sticky: StickyCookie,
			Analysis: Analysis{
				Interval: DefaultAnalysisInterval, Window: DefaultAnalysisWindow, MinRequests: DefaultMinRequests,
				MaxErrorRate: ptr(0.0), MaxErrorRateIncrease: ptr(DefaultMaxErrorRateIncrease),
				Webhooks:   []Webhook{{URL: "https://a", Timeout: DefaultWebhookTimeout}, {URL: "https://b", Timeout: Duration(time.Second)}},
				Prometheus: []PrometheusCheck{{Min: ptr(1.0)}},
			}},
		"custom": {Strategy: StrategyCanary, ProgressDeadline: DefaultProgressDeadline, Steps: []Step{{Weight: ptr(5)}}, Sticky: "header:X",
			Analysis: Analysis{Interval: DefaultAnalysisInterval, Window: DefaultAnalysisWindow, MinRequests: DefaultMinRequests,
				MaxErrorRate: ptr(DefaultMaxErrorRate), MaxErrorRateIncrease: ptr(DefaultMaxErrorRateIncrease)}},
		"unknown": {Strategy: "linear", ProgressDeadline: DefaultProgressDeadline},
	}
	for name, w := range want {
		if got := d.Environments[name].Rollout; !reflect.DeepEqual(got, w) {
			t.Errorf("%s: rollout =\n%s\nwant\n%s", name, describeRollout(got), describeRollout(w))
		}
	}

	// A deep copy: changing the result leaves the input alone.
	c := d.Environments["canary"].Rollout
	*c.Analysis.MaxErrorRate = 0.5
	c.Analysis.Webhooks[1].Timeout = 0
	*c.Analysis.Prometheus[0].Min = 7
	*d.Environments["custom"].Rollout.Steps[0].Weight = 6
	in := a.Environments["canary"].Rollout.Analysis
	if *in.MaxErrorRate != 0 || in.Webhooks[1].Timeout != Duration(time.Second) || in.Webhooks[0].Timeout != 0 || *in.Prometheus[0].Min != 1 ||
		*a.Environments["custom"].Rollout.Steps[0].Weight != 5 {
		t.Errorf("WithDefaults shares memory with its input: %s", describeRollout(a.Environments["canary"].Rollout))
	}
	// Each call hands out its own default steps.
	*DefaultSteps()[0].Weight = 99
	if *DefaultSteps()[0].Weight != 10 {
		t.Error("DefaultSteps returns shared memory")
	}
}

// describeRollout shows a rollout with its pointers followed.
func describeRollout(r Rollout) string {
	b, err := json.Marshal(r)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
