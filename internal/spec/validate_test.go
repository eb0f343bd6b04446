package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*App)
		want string // the error text; "" for valid
	}{
		{"valid", nil, ""},
		{"valid without defaults: zero means default", func(a *App) {
			a.Health = Health{Path: "/healthz"}
			a.Run.DrainTimeout = 0
			a.Environments = map[string]Environment{"p": {Host: "p.localhost"}}
		}, ""},
		{"nil maps and empty maps", func(a *App) {
			a.Run.Env = map[string]string{}
			a.Environments = map[string]Environment{"p": {Host: "p.localhost", Config: map[string]string{}}}
		}, ""},
		{"missing everything", func(a *App) { *a = App{} }, `name: required; add the app's name, e.g. name: hello (lowercase letters, digits and dashes)
build.command: required; add the shell command that builds the app, e.g. command: go build -o dist/hello .
build.output: required; add the directory the build command fills, relative to slipway.yaml, e.g. output: dist
run.command: required; add the shell command that starts one instance, e.g. command: ./hello (it must listen on $PORT)
health.path: required; add the path slipway requests to check an instance, e.g. path: /healthz
environments: at least one environment is required; add one with its host, e.g. environments: {production: {host: hello.example.com}}`},
		{"negative numbers", func(a *App) {
			a.Health.Interval = -1
			a.Health.HealthyThreshold = -1
			a.Run.DrainTimeout = -1
			a.Environments["staging"] = Environment{Host: "hello.staging.localhost", Replicas: -3}
		}, `run.drain_timeout: "-1ns" must be greater than 0; write a duration like "30s", or remove the line to use the default 30s
health.interval: "-1ns" must be greater than 0; write a duration like "1s", or remove the line to use the default 1s
health.healthy_threshold: -1 must be at least 1; remove the line to use the default 1
environments.staging.replicas: -3 is out of range; replicas must be between 1 and 100`},
		{"duplicate hosts are reported on the later name", func(a *App) {
			a.Environments["aaa"] = Environment{Host: "hello.localhost"}
		}, `environments.production.host: "hello.localhost" is already the host of environments.aaa; give each environment its own host`},
		{"bad keys and text", func(a *App) {
			a.Run.Env = map[string]string{"PORT": "1", "bad key": "x", "OK": "a\x00b"}
			a.Build.Command = "make \xff"
			a.Environments = map[string]Environment{"Prod": {Host: "x.localhost"}}
		}, `build.command: the value is not valid UTF-8; save the file as UTF-8 and check escapes like \x in double-quoted strings
run.env.OK: the value contains a NUL character (\0), which commands and environment variables cannot hold; remove it
run.env.PORT: PORT is set by slipway to the port an instance must listen on; remove it and read $PORT in the app
run.env.bad key: "bad key" is not a valid environment variable name; use letters, digits and underscores, not starting with a digit, e.g. "bad_key"
environments.Prod: "Prod" is not a valid environment name; use lowercase letters, digits and dashes, starting with a letter, e.g. "prod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := rawApp(tt.edit)
			err := a.Validate()
			got := ""
			if err != nil {
				got = err.Error()
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("error is %T, want ErrorList", err)
				}
				for _, e := range list {
					if e.File != "" || e.Line != 0 || e.Column != 0 || e.Path == "" {
						t.Errorf("entry %#v: want a path and no position", e)
					}
				}
			}
			if got != tt.want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.want == "" {
				if err := a.WithDefaults().Validate(); err != nil {
					t.Errorf("valid app fails after WithDefaults: %v", err)
				}
			}
		})
	}
}

// rawApp is testApp without WithDefaults, so zero values reach Validate.
func rawApp(edit func(*App)) *App {
	a := &App{
		Name:   "hello",
		Build:  Build{Command: "make", Output: "dist"},
		Run:    Run{Command: "./hello"},
		Health: Health{Path: "/healthz"},
		Environments: map[string]Environment{
			"staging":    {Host: "hello.staging.localhost"},
			"production": {Host: "hello.localhost", Replicas: 2},
		},
	}
	if edit != nil {
		edit(a)
	}
	return a
}

func TestValidateNil(t *testing.T) {
	var a *App
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "no app") {
		t.Errorf("Validate on nil = %v", err)
	}
}

func TestWithDefaults(t *testing.T) {
	a := &App{
		Run:          Run{Env: map[string]string{"A": "1"}},
		Environments: map[string]Environment{"p": {Host: "h", Config: map[string]string{"B": "2"}}, "q": {Replicas: 5}},
	}
	d := a.WithDefaults()
	want := Health{
		Interval:           DefaultHealthInterval,
		Timeout:            DefaultHealthTimeout,
		HealthyThreshold:   DefaultHealthyThreshold,
		UnhealthyThreshold: DefaultUnhealthyThreshold,
		StartPeriod:        DefaultStartPeriod,
		DeployTimeout:      DefaultDeployTimeout,
	}
	if d.Health != want {
		t.Errorf("Health = %+v, want %+v", d.Health, want)
	}
	if d.Run.DrainTimeout != DefaultDrainTimeout {
		t.Errorf("DrainTimeout = %v", d.Run.DrainTimeout)
	}
	if d.Environments["p"].Replicas != DefaultReplicas || d.Environments["q"].Replicas != 5 {
		t.Errorf("Replicas = %d, %d", d.Environments["p"].Replicas, d.Environments["q"].Replicas)
	}
	// A deep copy: changing the result leaves the input alone.
	d.Run.Env["A"] = "changed"
	d.Environments["p"].Config["B"] = "changed"
	if a.Run.Env["A"] != "1" || a.Environments["p"].Config["B"] != "2" || a.Environments["p"].Replicas != 0 {
		t.Errorf("WithDefaults modified its input: %+v", a)
	}
	if (*App)(nil).WithDefaults() != nil {
		t.Error("WithDefaults on nil is not nil")
	}
	if explicit := (&App{Health: Health{Interval: 5}}).WithDefaults(); explicit.Health.Interval != 5 {
		t.Error("WithDefaults overwrote a set value")
	}
}
