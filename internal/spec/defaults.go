package spec

import (
	"maps"
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
			c.Environments[name] = env
		}
	}
	return &c
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
