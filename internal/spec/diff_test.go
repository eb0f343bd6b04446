package spec

import (
	"testing"
	"time"
)

// testApp returns a small valid App with defaults applied; edit adjusts it.
func testApp(edit func(*App)) *App {
	a := &App{
		Name:   "hello",
		Build:  Build{Command: "make", Output: "dist"},
		Run:    Run{Command: "./hello"},
		Health: Health{Path: "/healthz"},
		Environments: map[string]Environment{
			"staging":    {Host: "hello.staging.localhost", Config: map[string]string{"GREETING": "hi"}},
			"production": {Host: "hello.localhost", Replicas: 2},
		},
	}
	if edit != nil {
		edit(a)
	}
	return a.WithDefaults()
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		from, to *App
		want     string // FormatChanges of the result
	}{
		{
			name: "identical",
			from: testApp(nil),
			to:   testApp(nil),
			want: "No changes.\n",
		},
		{
			name: "both nil",
			want: "No changes.\n",
		},
		{
			name: "default written out equals default left out",
			from: &App{Name: "hello", Environments: map[string]Environment{"p": {Host: "h"}}},
			to: &App{Name: "hello", Run: Run{DrainTimeout: DefaultDrainTimeout},
				Environments: map[string]Environment{"p": {Host: "h", Replicas: 1}}},
			want: "No changes.\n",
		},
		{
			name: "update scalars",
			from: testApp(nil),
			to: testApp(func(a *App) {
				a.Health.Path = "/ready"
				a.Health.Interval = Duration(1500 * time.Millisecond)
				a.Health.UnhealthyThreshold = 5
				a.Build.Command = `make "all"`
			}),
			want: `~ build.command: "make" -> "make \"all\""
~ health.path: "/healthz" -> "/ready"
~ health.interval: "1s" -> "1.5s"
~ health.unhealthy_threshold: 3 -> 5
`,
		},
		{
			name: "config and env keys",
			from: testApp(func(a *App) { a.Run.Env = map[string]string{"A": "1", "B": "2"} }),
			to: testApp(func(a *App) {
				a.Run.Env = map[string]string{"B": "3", "C": "4"}
				a.Environments["staging"] = Environment{Host: "hello.staging.localhost", Config: map[string]string{"GREETING": "hello", "NEW": "x\ny"}}
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2, Config: map[string]string{"GREETING": "hi"}}
			}),
			want: `- run.env.A = "1"
~ run.env.B: "2" -> "3"
+ run.env.C = "4"
+ environments.production.config.GREETING = "hi"
~ environments.staging.config.GREETING: "hi" -> "hello"
+ environments.staging.config.NEW = "x\ny"
`,
		},
		{
			name: "add and remove environments",
			from: testApp(func(a *App) {
				a.Environments["preview"] = Environment{Host: "preview.localhost", Config: map[string]string{"X": "1"}}
			}),
			to: testApp(func(a *App) {
				delete(a.Environments, "staging")
				a.Environments["canary"] = Environment{Host: "canary.localhost", Replicas: 2}
			}),
			want: `+ environments.canary.host = "canary.localhost"
+ environments.canary.replicas = 2
- environments.preview
- environments.staging
`,
		},
		{
			name: "new app",
			to: testApp(func(a *App) {
				delete(a.Environments, "production")
				a.Run.Env = map[string]string{"MODE": "fast"}
			}),
			want: `+ name = "hello"
+ build.command = "make"
+ build.output = "dist"
+ run.command = "./hello"
+ run.env.MODE = "fast"
+ run.drain_timeout = "30s"
+ health.path = "/healthz"
+ health.interval = "1s"
+ health.timeout = "1s"
+ health.healthy_threshold = 1
+ health.unhealthy_threshold = 3
+ health.start_period = "0s"
+ health.deploy_timeout = "1m0s"
+ environments.staging.host = "hello.staging.localhost"
+ environments.staging.replicas = 1
+ environments.staging.config.GREETING = "hi"
`,
		},
		{
			name: "deleted app",
			from: testApp(func(a *App) { delete(a.Environments, "production") }),
			want: `- name = "hello"
- build.command = "make"
- build.output = "dist"
- run.command = "./hello"
- run.drain_timeout = "30s"
- health.path = "/healthz"
- health.interval = "1s"
- health.timeout = "1s"
- health.healthy_threshold = 1
- health.unhealthy_threshold = 3
- health.start_period = "0s"
- health.deploy_timeout = "1m0s"
- environments.staging
`,
		},
		{
			name: "environment names that sort around each other",
			from: &App{Environments: map[string]Environment{"a": {Host: "a"}, "ab": {Host: "ab"}}},
			to:   &App{Environments: map[string]Environment{"a": {Host: "a2", Config: map[string]string{"Z": "z"}}, "ab": {Host: "ab2"}}},
			want: `~ environments.a.host: "a" -> "a2"
+ environments.a.config.Z = "z"
~ environments.ab.host: "ab" -> "ab2"
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := Diff(tt.from, tt.to)
			if got := FormatChanges(changes); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			for i := range 3 {
				if again := FormatChanges(Diff(tt.from, tt.to)); again != FormatChanges(changes) {
					t.Fatalf("run %d gave a different order:\n%s", i, again)
				}
			}
		})
	}
}

func TestDiffChangeFields(t *testing.T) {
	from := testApp(nil)
	to := testApp(func(a *App) { a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 3} })
	got := Diff(from, to)
	want := []Change{{Path: "environments.production.replicas", Op: OpUpdate, Old: "2", New: "3"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("Diff = %#v, want %#v", got, want)
	}
}

func TestDiffDoesNotModifyInputs(t *testing.T) {
	from := &App{Name: "a", Environments: map[string]Environment{"p": {Host: "h"}}}
	Diff(from, testApp(nil))
	if from.Environments["p"].Replicas != 0 || from.Health.Interval != 0 {
		t.Errorf("Diff applied defaults to its input: %+v", from)
	}
}

func TestFormatChanges(t *testing.T) {
	tests := []struct {
		name    string
		changes []Change
		want    string
	}{
		{"nil", nil, "No changes.\n"},
		{"empty", []Change{}, "No changes.\n"},
		{"add", []Change{{Path: "environments.staging.replicas", Op: OpAdd, New: "2"}}, "+ environments.staging.replicas = 2\n"},
		{"update", []Change{{Path: "health.path", Op: OpUpdate, Old: `"/healthz"`, New: `"/ready"`}}, "~ health.path: \"/healthz\" -> \"/ready\"\n"},
		{"remove whole", []Change{{Path: "environments.preview", Op: OpRemove}}, "- environments.preview\n"},
		{"remove leaf", []Change{{Path: "run.env.A", Op: OpRemove, Old: `""`}}, "- run.env.A = \"\"\n"},
		{"unknown op", []Change{{Path: "x", Op: "rename", Old: "a", New: "b"}}, "? x: a -> b\n"},
		{"several keep their order", []Change{
			{Path: "b", Op: OpAdd, New: "1"},
			{Path: "a", Op: OpRemove, Old: "2"},
		}, "+ b = 1\n- a = 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatChanges(tt.changes); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
