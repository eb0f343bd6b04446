// Package spec defines slipway.yaml, the declarative description of an app:
// its types, a strict parser that reports file:line:column, validation, a
// JSON Schema for editors, and a field-by-field diff used by `slipway plan`.
package spec

import "time"

// App is the root of slipway.yaml.
type App struct {
	// Name identifies the app on the server: lowercase letters, digits and
	// dashes, starting with a letter, at most 63 characters.
	Name string `yaml:"name" json:"name"`
	// Build says how to turn the source next to slipway.yaml into an artifact.
	Build Build `yaml:"build" json:"build"`
	// Run says how to start one instance from the unpacked artifact.
	Run Run `yaml:"run" json:"run"`
	// Health is the HTTP health check that gates traffic to an instance.
	Health Health `yaml:"health" json:"health"`
	// Pipeline builds, tests and packages every commit. Optional.
	Pipeline *Pipeline `yaml:"pipeline,omitempty" json:"pipeline,omitempty"`
	// Source is the git repository whose pushes trigger pipeline runs.
	// Optional.
	Source *Source `yaml:"source,omitempty" json:"source,omitempty"`
	// Environments are the isolated places the app runs, keyed by name
	// (staging, production, pr-42, ...).
	Environments map[string]Environment `yaml:"environments" json:"environments"`
}

// Build runs on the machine that calls `slipway deploy`.
type Build struct {
	// Command is a shell command run with `sh -c` in the spec's directory.
	Command string `yaml:"command" json:"command"`
	// Output is the directory, relative to the spec's directory, that the
	// command fills; its contents become the artifact.
	Output string `yaml:"output" json:"output"`
}

// Run describes how an instance starts.
type Run struct {
	// Command is a shell command run with `sh -c` inside the unpacked
	// artifact. The port to listen on arrives as $PORT.
	Command string `yaml:"command" json:"command"`
	// Env holds environment variables common to every environment; an
	// environment's config wins over these on a clash.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// DrainTimeout is how long a stopping instance may take to finish its
	// in-flight requests after SIGTERM before it is killed. Default 30s.
	DrainTimeout Duration `yaml:"drain_timeout,omitempty" json:"drain_timeout,omitempty"`
}

// Health is an HTTP GET check; any 2xx or 3xx answer is healthy.
type Health struct {
	// Path is the URL path the check requests, such as /healthz. It must
	// start with a slash.
	Path string `yaml:"path" json:"path"`
	// Interval between checks. Default 1s.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Timeout of one check. Default 1s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// HealthyThreshold consecutive passes make an instance healthy. Default 1.
	HealthyThreshold int `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	// UnhealthyThreshold consecutive failures make it unhealthy. Default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
	// StartPeriod is a grace period after start during which failures do not
	// count. Default 0.
	StartPeriod Duration `yaml:"start_period,omitempty" json:"start_period,omitempty"`
	// DeployTimeout bounds how long a new release may take to become
	// healthy before the deploy fails. Default 60s.
	DeployTimeout Duration `yaml:"deploy_timeout,omitempty" json:"deploy_timeout,omitempty"`
}

// Environment is one isolated place the app runs.
type Environment struct {
	// Host is the Host header the proxy routes to this environment
	// (e.g. hello.staging.localhost). Unique across all apps.
	Host string `yaml:"host" json:"host"`
	// Replicas is the number of instances. Default 1.
	Replicas int `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	// Config values reach instances as environment variables.
	Config map[string]string `yaml:"config,omitempty" json:"config,omitempty"`
	// RequiresFrom makes this environment accept only artifacts that went
	// live in the named environment first (build once, deploy everywhere):
	// the server refuses any other deploy or promotion. Another environment
	// of this spec; requirements may not form a cycle.
	RequiresFrom string `yaml:"requires_from,omitempty" json:"requires_from,omitempty"`
	// Approvals is how many approvals (`slipway approve`, by users other
	// than the one who asked) a promotion into this environment needs
	// before it deploys, from 0 to 10. Default 0.
	Approvals int `yaml:"approvals,omitempty" json:"approvals,omitempty"`
	// ApprovalTTL is how long a pending promotion waits for approvals
	// before it expires; only with approvals. Default 24h.
	ApprovalTTL Duration `yaml:"approval_ttl,omitempty" json:"approval_ttl,omitempty"`
	// Permissions raise the role actions here need; they never lower it.
	Permissions Permissions `yaml:"permissions,omitempty" json:"permissions,omitzero"`
	// Smoke checks run after every deploy here; a failure rolls back.
	Smoke []SmokeCheck `yaml:"smoke,omitempty" json:"smoke,omitempty"`
	// SecretFiles delivers secrets as files instead of environment
	// variables: secret name -> path relative to the instance's directory,
	// inside it, one secret per path.
	SecretFiles map[string]string `yaml:"secret_files,omitempty" json:"secret_files,omitempty"`
	// Rollout says how a new release replaces the live one here.
	// Default: blue-green with automatic promotion.
	Rollout Rollout `yaml:"rollout,omitempty" json:"rollout,omitzero"`
}

// Rollout strategies.
const (
	StrategyBlueGreen = "blue-green"
	StrategyCanary    = "canary"
	StrategyRolling   = "rolling"
)

// Blue-green promotion modes.
const (
	PromotionAuto   = "auto"
	PromotionManual = "manual"
)

// PauseManual is the Step.Pause that waits for `slipway rollout promote`.
const PauseManual = "manual"

// Sticky modes: StickyCookie, or StickyHeaderPrefix followed by a header
// name.
const (
	StickyCookie       = "cookie"
	StickyHeaderPrefix = "header:"
)

// Rollout configures how a new release replaces the live one. Fields marked
// with a strategy apply to that strategy only; setting them under another
// strategy is an error.
type Rollout struct {
	// Strategy is blue-green (default), canary or rolling.
	Strategy string `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	// ProgressDeadline aborts a rollout that makes no progress (no step
	// completes) for this long, including one left waiting for
	// `slipway rollout promote`; a timed wait (a pause, an analysis step,
	// promote_after) must be shorter. Default 10m.
	ProgressDeadline Duration `yaml:"progress_deadline,omitempty" json:"progress_deadline,omitempty"`
	// KeepPrevious keeps the previous release's instances running this
	// long after a rollout succeeds, so a rollback inside the window is a
	// route flip. Default 0s (stop them once drained).
	KeepPrevious Duration `yaml:"keep_previous,omitempty" json:"keep_previous,omitempty"`

	// PreviewHost (blue-green) reaches the new release before the switch.
	// A host name like the environment's host, distinct from every host
	// and preview host in the spec. Default: none.
	PreviewHost string `yaml:"preview_host,omitempty" json:"preview_host,omitempty"`
	// Promotion (blue-green) is auto (default): switch once healthy and
	// promote_after has passed; or manual: wait for `slipway rollout promote`.
	Promotion string `yaml:"promotion,omitempty" json:"promotion,omitempty"`
	// PromoteAfter (blue-green, auto promotion) waits this long after the
	// new release is healthy before switching. Default 0s.
	PromoteAfter Duration `yaml:"promote_after,omitempty" json:"promote_after,omitempty"`

	// MaxSurge (rolling) is how many new instances start per batch, at
	// least 1; a value above replicas counts as replicas. Default 1.
	MaxSurge int `yaml:"max_surge,omitempty" json:"max_surge,omitempty"`
	// MaxUnavailable (rolling) is how many old instances may stop before
	// their replacements are healthy: 0 up to replicas-1. Default 0.
	MaxUnavailable int `yaml:"max_unavailable,omitempty" json:"max_unavailable,omitempty"`

	// Steps (canary) run in order; each sets a weight, pauses, or runs an
	// analysis. After the last step the canary gets all traffic. Default:
	// weight 10, analysis 1m, weight 50, analysis 1m.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
	// Sticky (canary) keeps a client on one version for the whole rollout:
	// "cookie" (default) or "header:NAME" (hash of that request header).
	Sticky string `yaml:"sticky,omitempty" json:"sticky,omitempty"`
	// Analysis (canary) is the judge that runs while the canary has
	// traffic and in analysis steps.
	Analysis Analysis `yaml:"analysis,omitempty" json:"analysis,omitzero"`
}

// Step is one canary step: exactly one of its fields is set.
type Step struct {
	// Weight sends this percentage (0-100) of clients to the canary.
	// Weights never decrease from step to step, and 100 may only be the
	// last weight.
	Weight *int `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Pause waits: a duration ("2m"), or "manual" to wait for
	// `slipway rollout promote`.
	Pause string `yaml:"pause,omitempty" json:"pause,omitempty"`
	// Analysis waits until the analysis passes (enough evidence that the
	// canary is no worse than stable), at most this long; when the time is
	// up without a pass, the canary advances if no check failed and it
	// served enough requests to judge, and is aborted otherwise.
	Analysis Duration `yaml:"analysis,omitempty" json:"analysis,omitempty"`
}

// Analysis configures the checks that judge a canary against stable. The
// built-in checks compare the two releases over the same sliding window of
// proxy metrics.
type Analysis struct {
	// Interval between evaluations. Default 1s.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Window is the sliding window of proxy metrics evaluated, at least
	// interval. Default 60s.
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// MinRequests the canary must have served in the window before any
	// verdict. Default 50.
	MinRequests int `yaml:"min_requests,omitempty" json:"min_requests,omitempty"`
	// MaxErrorRate is the largest acceptable share of 5xx answers from the
	// canary (0-1). Default 0.05.
	MaxErrorRate *float64 `yaml:"max_error_rate,omitempty" json:"max_error_rate,omitempty"`
	// MaxErrorRateIncrease is the largest acceptable excess of the
	// canary's 5xx share over stable's (0-1), judged by a sequential test.
	// Default 0.01.
	MaxErrorRateIncrease *float64 `yaml:"max_error_rate_increase,omitempty" json:"max_error_rate_increase,omitempty"`
	// Latency checks on percentiles of the canary's response time.
	Latency []LatencyCheck `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Webhooks are POSTed the evaluation's request counts as JSON each
	// evaluation; a 2xx answer passes unless its JSON body says
	// {"pass": false}, which fails the analysis.
	Webhooks []Webhook `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	// Prometheus instant queries compared with a threshold.
	Prometheus []PrometheusCheck `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Errors judges the error events the app's Sentry SDK sends to
	// Slipway (docs/errors.md). Without it, a canary that brings any new
	// error issue is aborted.
	Errors *ErrorsCheck `yaml:"errors,omitempty" json:"errors,omitempty"`
}

// ErrorsCheck configures the judge's checks on error events.
type ErrorsCheck struct {
	// MaxNewIssues is how many new error issues (first seen in the
	// canary's release) a canary may bring; one more aborts it. Default
	// 0; -1 turns the check off.
	MaxNewIssues *int `yaml:"max_new_issues,omitempty" json:"max_new_issues,omitempty"`
	// MinEvents is how many events an issue needs in the canary's release
	// before it counts as new. Default 1.
	MinEvents int `yaml:"min_events,omitempty" json:"min_events,omitempty"`
	// MaxEventsPerRequestIncrease, when set, aborts a canary whose error
	// events per request exceed stable's by more than this (e.g. 0.01:
	// one more event per hundred requests). Default: not checked.
	MaxEventsPerRequestIncrease *float64 `yaml:"max_events_per_request_increase,omitempty" json:"max_events_per_request_increase,omitempty"`
}

// LatencyCheck bounds one percentile of the canary's latency with max,
// max_ratio or both.
type LatencyCheck struct {
	// Percentile to check, greater than 0 and less than 100: 50, 95, 99.9.
	Percentile float64 `yaml:"percentile" json:"percentile"`
	// Max is an absolute limit ("500ms"); 0 means none.
	Max Duration `yaml:"max,omitempty" json:"max,omitempty"`
	// MaxRatio limits canary/stable at that percentile (e.g. 1.5), above 1;
	// 0 means none.
	MaxRatio float64 `yaml:"max_ratio,omitempty" json:"max_ratio,omitempty"`
}

// Webhook is an external check answered over HTTP.
type Webhook struct {
	// URL is the absolute http or https URL called.
	URL string `yaml:"url" json:"url"`
	// Timeout of one call. Default 5s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// PrometheusCheck runs an instant query against a user's Prometheus; the
// result (a single number) must stay within min and max, of which it sets
// one or both.
type PrometheusCheck struct {
	// URL of the Prometheus server, e.g. http://127.0.0.1:9090.
	URL string `yaml:"url" json:"url"`
	// Query is PromQL; "{{release}}" and "{{stable}}" are replaced by the
	// canary's and stable's release numbers.
	Query string `yaml:"query" json:"query"`
	// Min is the smallest passing result; unset means no lower bound.
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	// Max is the largest passing result; unset means no upper bound.
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("500ms", "2m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
