package spec

import (
	"maps"
	"net/http"
	"slices"
	"time"
)

// Defaults for the optional fields of slipway.yaml. A field left out (or, in
// an App built in Go or decoded from JSON, left at its zero value) takes its
// default.
const (
	// DefaultDrainTimeout is run.drain_timeout.
	DefaultDrainTimeout = Duration(30 * time.Second)
	// DefaultHealthInterval is health.interval.
	DefaultHealthInterval = Duration(time.Second)
	// DefaultHealthTimeout is health.timeout.
	DefaultHealthTimeout = Duration(time.Second)
	// DefaultHealthyThreshold is health.healthy_threshold.
	DefaultHealthyThreshold = 1
	// DefaultUnhealthyThreshold is health.unhealthy_threshold.
	DefaultUnhealthyThreshold = 3
	// DefaultStartPeriod is health.start_period: no grace period.
	DefaultStartPeriod = Duration(0)
	// DefaultDeployTimeout is health.deploy_timeout.
	DefaultDeployTimeout = Duration(60 * time.Second)
	// DefaultReplicas is environments.<name>.replicas.
	DefaultReplicas = 1
)

// Defaults of environments.<name>.rollout. Those of one strategy apply only
// to environments using it.
const (
	// DefaultStrategy is rollout.strategy.
	DefaultStrategy = StrategyBlueGreen
	// DefaultProgressDeadline is rollout.progress_deadline.
	DefaultProgressDeadline = Duration(10 * time.Minute)
	// DefaultKeepPrevious is rollout.keep_previous: stop the previous
	// release once drained.
	DefaultKeepPrevious = Duration(0)
	// DefaultPromotion is rollout.promotion (blue-green).
	DefaultPromotion = PromotionAuto
	// DefaultPromoteAfter is rollout.promote_after (blue-green, auto).
	DefaultPromoteAfter = Duration(0)
	// DefaultMaxSurge is rollout.max_surge (rolling).
	DefaultMaxSurge = 1
	// DefaultMaxUnavailable is rollout.max_unavailable (rolling).
	DefaultMaxUnavailable = 0
	// DefaultSticky is rollout.sticky (canary).
	DefaultSticky = StickyCookie
	// DefaultAnalysisInterval is rollout.analysis.interval.
	DefaultAnalysisInterval = Duration(time.Second)
	// DefaultAnalysisWindow is rollout.analysis.window.
	DefaultAnalysisWindow = Duration(60 * time.Second)
	// DefaultMinRequests is rollout.analysis.min_requests.
	DefaultMinRequests = 50
	// DefaultMaxErrorRate is rollout.analysis.max_error_rate.
	DefaultMaxErrorRate = 0.05
	// DefaultMaxErrorRateIncrease is rollout.analysis.max_error_rate_increase.
	DefaultMaxErrorRateIncrease = 0.01
	// DefaultWebhookTimeout is rollout.analysis.webhooks[i].timeout.
	DefaultWebhookTimeout = Duration(5 * time.Second)
)

// Defaults of the pipeline and the source.
const (
	// DefaultStepTimeout is pipeline.stages[i].steps[j].timeout.
	DefaultStepTimeout = Duration(10 * time.Minute)
	// DefaultPoll is source.poll.
	DefaultPoll = Duration(30 * time.Second)
	// DefaultPreviewFrom is source.preview.from.
	DefaultPreviewFrom = "staging"
)

// Defaults of an environment's promotion rules, permissions and smoke
// checks.
const (
	// DefaultApprovalTTL is environments.<name>.approval_ttl, for an
	// environment that needs approvals.
	DefaultApprovalTTL = Duration(24 * time.Hour)
	// DefaultDeployRole is permissions.deploy.
	DefaultDeployRole = RoleDeployer
	// DefaultPromoteRole is permissions.promote.
	DefaultPromoteRole = RoleDeployer
	// DefaultApproveRole is permissions.approve.
	DefaultApproveRole = RoleApprover
	// DefaultSecretRole is permissions.secret.
	DefaultSecretRole = RoleDeployer
	// DefaultSmokeTimeout is smoke[i].timeout.
	DefaultSmokeTimeout = Duration(10 * time.Second)
	// DefaultSmokeMethod is smoke[i].http.method.
	DefaultSmokeMethod = http.MethodGet
	// DefaultSmokeStatus is smoke[i].http.status.
	DefaultSmokeStatus = http.StatusOK
)

// MaxApprovals is the largest approvals value an environment may ask for.
const MaxApprovals = 10

// DefaultSteps returns the steps of a canary that does not list its own:
// 10% of clients until the analysis passes (at most 1m), then 50% until it
// passes again, then everyone. The caller owns the returned slice.
func DefaultSteps() []Step {
	weight := func(w int) Step { return Step{Weight: &w} }
	analysis := Step{Analysis: Duration(time.Minute)}
	return []Step{weight(10), analysis, weight(50), analysis}
}

// MaxReplicas is the largest replicas value an environment may ask for.
const MaxReplicas = 100

// WithDefaults returns a deep copy of a in which every optional field left at
// its zero value holds its default (see the Default constants). Parse already
// applies defaults; WithDefaults is for Apps built in Go or decoded from JSON.
// It returns nil for a nil App.
func (a *App) WithDefaults() *App {
	if a == nil {
		return nil
	}
	c := *a
	c.Run.Env = maps.Clone(a.Run.Env)
	c.Pipeline = a.Pipeline.withDefaults()
	c.Source = a.Source.withDefaults()
	setDefault(&c.Run.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.Health.Interval, DefaultHealthInterval)
	setDefault(&c.Health.Timeout, DefaultHealthTimeout)
	setDefault(&c.Health.HealthyThreshold, DefaultHealthyThreshold)
	setDefault(&c.Health.UnhealthyThreshold, DefaultUnhealthyThreshold)
	setDefault(&c.Health.StartPeriod, DefaultStartPeriod)
	setDefault(&c.Health.DeployTimeout, DefaultDeployTimeout)
	if a.Environments != nil {
		c.Environments = make(map[string]Environment, len(a.Environments))
		for name, env := range a.Environments {
			env.Config = maps.Clone(env.Config)
			setDefault(&env.Replicas, DefaultReplicas)
			env.SecretFiles = maps.Clone(env.SecretFiles)
			if env.Approvals > 0 {
				setDefault(&env.ApprovalTTL, DefaultApprovalTTL)
			}
			env.Permissions = env.Permissions.withDefaults()
			env.Smoke = smokeWithDefaults(env.Smoke)
			env.Rollout = env.Rollout.withDefaults()
			c.Environments[name] = env
		}
	}
	return &c
}

// withDefaults returns a deep copy of r with the defaults of its strategy
// applied. A rollout with an unknown strategy keeps its zero fields, since
// there is no telling which defaults it wants.
func (r Rollout) withDefaults() Rollout {
	r.Steps = cloneSteps(r.Steps)
	r.Analysis = r.Analysis.clone()
	setDefault(&r.Strategy, DefaultStrategy)
	setDefault(&r.ProgressDeadline, DefaultProgressDeadline)
	switch r.Strategy {
	case StrategyBlueGreen:
		setDefault(&r.Promotion, DefaultPromotion)
	case StrategyRolling:
		setDefault(&r.MaxSurge, DefaultMaxSurge)
	case StrategyCanary:
		if len(r.Steps) == 0 {
			r.Steps = DefaultSteps()
		}
		setDefault(&r.Sticky, DefaultSticky)
		a := &r.Analysis
		setDefault(&a.Interval, DefaultAnalysisInterval)
		setDefault(&a.Window, DefaultAnalysisWindow)
		setDefault(&a.MinRequests, DefaultMinRequests)
		if a.MaxErrorRate == nil {
			a.MaxErrorRate = ptr(DefaultMaxErrorRate)
		}
		if a.MaxErrorRateIncrease == nil {
			a.MaxErrorRateIncrease = ptr(DefaultMaxErrorRateIncrease)
		}
		for i := range a.Webhooks {
			setDefault(&a.Webhooks[i].Timeout, DefaultWebhookTimeout)
		}
	}
	return r
}

// withDefaults returns a deep copy of p with its defaults applied, or nil
// for nil.
func (p *Pipeline) withDefaults() *Pipeline {
	if p == nil {
		return nil
	}
	c := Pipeline{Stages: cloneList(p.Stages), Caches: cloneList(p.Caches)}
	for i, st := range c.Stages {
		st.Steps = cloneList(st.Steps)
		for j := range st.Steps {
			s := &st.Steps[j]
			s.Env = maps.Clone(s.Env)
			setDefault(&s.Timeout, DefaultStepTimeout)
		}
		c.Stages[i] = st
	}
	for i := range c.Caches {
		c.Caches[i].Key = cloneList(c.Caches[i].Key)
	}
	return &c
}

// withDefaults returns a deep copy of s with its defaults applied, or nil
// for nil.
func (s *Source) withDefaults() *Source {
	if s == nil {
		return nil
	}
	c := *s
	setDefault(&c.Poll, DefaultPoll)
	c.Rules = cloneList(s.Rules)
	if s.Preview != nil {
		p := *s.Preview
		setDefault(&p.From, DefaultPreviewFrom)
		c.Preview = &p
	}
	return &c
}

func (p Permissions) withDefaults() Permissions {
	setDefault(&p.Deploy, DefaultDeployRole)
	setDefault(&p.Promote, DefaultPromoteRole)
	setDefault(&p.Approve, DefaultApproveRole)
	setDefault(&p.Secret, DefaultSecretRole)
	return p
}

// smokeWithDefaults returns a deep copy of checks with their defaults
// applied; an empty list becomes nil.
func smokeWithDefaults(checks []SmokeCheck) []SmokeCheck {
	checks = cloneList(checks)
	for i := range checks {
		c := &checks[i]
		setDefault(&c.Timeout, DefaultSmokeTimeout)
		if c.HTTP != nil {
			h := *c.HTTP
			setDefault(&h.Method, DefaultSmokeMethod)
			setDefault(&h.Status, DefaultSmokeStatus)
			c.HTTP = &h
		}
	}
	return checks
}

// cloneSteps deep-copies steps; an empty list becomes nil.
func cloneSteps(steps []Step) []Step {
	if len(steps) == 0 {
		return nil
	}
	out := make([]Step, len(steps))
	for i, s := range steps {
		s.Weight = clonePtr(s.Weight)
		out[i] = s
	}
	return out
}

// clone deep-copies a; empty lists become nil.
func (a Analysis) clone() Analysis {
	a.MaxErrorRate = clonePtr(a.MaxErrorRate)
	a.MaxErrorRateIncrease = clonePtr(a.MaxErrorRateIncrease)
	a.Latency = cloneList(a.Latency)
	a.Webhooks = cloneList(a.Webhooks)
	a.Prometheus = cloneList(a.Prometheus)
	for i, p := range a.Prometheus {
		a.Prometheus[i].Min, a.Prometheus[i].Max = clonePtr(p.Min), clonePtr(p.Max)
	}
	return a
}

func cloneList[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

func ptr[T any](v T) *T { return &v }

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
