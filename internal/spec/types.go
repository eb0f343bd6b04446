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
}

// Duration is a time.Duration written as a Go duration string ("500ms", "2m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
