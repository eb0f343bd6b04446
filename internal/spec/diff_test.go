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
+ environments.canary.approvals = 0
+ environments.canary.permissions.deploy = "deployer"
+ environments.canary.permissions.promote = "deployer"
+ environments.canary.permissions.approve = "approver"
+ environments.canary.permissions.secret = "deployer"
+ environments.canary.rollout.strategy = "blue-green"
+ environments.canary.rollout.progress_deadline = "10m0s"
+ environments.canary.rollout.keep_previous = "0s"
+ environments.canary.rollout.promotion = "auto"
+ environments.canary.rollout.promote_after = "0s"
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
+ environments.staging.approvals = 0
+ environments.staging.permissions.deploy = "deployer"
+ environments.staging.permissions.promote = "deployer"
+ environments.staging.permissions.approve = "approver"
+ environments.staging.permissions.secret = "deployer"
+ environments.staging.rollout.strategy = "blue-green"
+ environments.staging.rollout.progress_deadline = "10m0s"
+ environments.staging.rollout.keep_previous = "0s"
+ environments.staging.rollout.promotion = "auto"
+ environments.staging.rollout.promote_after = "0s"
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
			name: "blue-green to canary: the fields of each strategy come and go",
			from: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2,
					Rollout: Rollout{PreviewHost: "preview.hello.localhost", Promotion: PromotionManual}}
			}),
			to: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2,
					Rollout: Rollout{Strategy: StrategyCanary, Analysis: Analysis{MaxErrorRate: ptr(0.1)}}}
			}),
			want: `~ environments.production.rollout.strategy: "blue-green" -> "canary"
- environments.production.rollout.preview_host = "preview.hello.localhost"
- environments.production.rollout.promotion = "manual"
+ environments.production.rollout.steps[0].weight = 10
+ environments.production.rollout.steps[1].analysis = "1m0s"
+ environments.production.rollout.steps[2].weight = 50
+ environments.production.rollout.steps[3].analysis = "1m0s"
+ environments.production.rollout.sticky = "cookie"
+ environments.production.rollout.analysis.interval = "1s"
+ environments.production.rollout.analysis.window = "1m0s"
+ environments.production.rollout.analysis.min_requests = 50
+ environments.production.rollout.analysis.max_error_rate = 0.1
+ environments.production.rollout.analysis.max_error_rate_increase = 0.01
`,
		},
		{
			name: "canary steps and checks, item by item",
			from: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Rollout: Rollout{
					Strategy: StrategyCanary,
					Steps:    []Step{{Weight: ptr(10)}, {Pause: "1m"}, {Weight: ptr(50)}},
					Analysis: Analysis{
						Latency:    []LatencyCheck{{Percentile: 99, Max: Duration(time.Second)}},
						Webhooks:   []Webhook{{URL: "https://a.example.com"}},
						Prometheus: []PrometheusCheck{{URL: "http://p:9090", Query: "up", Min: ptr(1.0)}},
					},
				}}
			}),
			to: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Rollout: Rollout{
					Strategy: StrategyCanary,
					Steps:    []Step{{Weight: ptr(10)}, {Pause: PauseManual}, {Weight: ptr(60)}, {Analysis: Duration(5 * time.Minute)}},
					Sticky:   "header:X-User",
					Analysis: Analysis{
						Latency:    []LatencyCheck{{Percentile: 99.9, Max: Duration(time.Second), MaxRatio: 1.5}},
						Prometheus: []PrometheusCheck{{URL: "http://p:9090", Query: "up", Max: ptr(1e6)}},
					},
				}}
			}),
			want: `~ environments.production.rollout.steps[1].pause: "1m" -> "manual"
~ environments.production.rollout.steps[2].weight: 50 -> 60
+ environments.production.rollout.steps[3].analysis = "5m0s"
~ environments.production.rollout.sticky: "cookie" -> "header:X-User"
~ environments.production.rollout.analysis.latency[0].percentile: 99 -> 99.9
+ environments.production.rollout.analysis.latency[0].max_ratio = 1.5
- environments.production.rollout.analysis.webhooks[0].url = "https://a.example.com"
- environments.production.rollout.analysis.webhooks[0].timeout = "5s"
- environments.production.rollout.analysis.prometheus[0].min = 1
+ environments.production.rollout.analysis.prometheus[0].max = 1000000
`,
		},
		{
			name: "list items sort by number",
			from: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Rollout: Rollout{Strategy: StrategyCanary,
					Steps: []Step{{Weight: ptr(1)}}}}
			}),
			to: testApp(func(a *App) {
				var steps []Step
				for i := range 12 {
					steps = append(steps, Step{Weight: ptr(i + 1)})
				}
				a.Environments["production"] = Environment{Host: "hello.localhost", Rollout: Rollout{Strategy: StrategyCanary, Steps: steps}}
			}),
			want: `+ environments.production.rollout.steps[1].weight = 2
+ environments.production.rollout.steps[2].weight = 3
+ environments.production.rollout.steps[3].weight = 4
+ environments.production.rollout.steps[4].weight = 5
+ environments.production.rollout.steps[5].weight = 6
+ environments.production.rollout.steps[6].weight = 7
+ environments.production.rollout.steps[7].weight = 8
+ environments.production.rollout.steps[8].weight = 9
+ environments.production.rollout.steps[9].weight = 10
+ environments.production.rollout.steps[10].weight = 11
+ environments.production.rollout.steps[11].weight = 12
`,
		},
		{
			name: "rolling",
			from: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2, Rollout: Rollout{Strategy: StrategyRolling}}
			}),
			to: testApp(func(a *App) {
				a.Environments["production"] = Environment{Host: "hello.localhost", Replicas: 2,
					Rollout: Rollout{Strategy: StrategyRolling, MaxSurge: 2, MaxUnavailable: 1, KeepPrevious: Duration(time.Minute)}}
			}),
			want: `~ environments.production.rollout.keep_previous: "0s" -> "1m0s"
~ environments.production.rollout.max_surge: 1 -> 2
~ environments.production.rollout.max_unavailable: 0 -> 1
`,
		},
		{
			name: "pipeline and source added, fields in the order of slipway.yaml",
			from: testApp(nil),
			to: testApp(func(a *App) {
				a.Pipeline = deliveryPipeline()
				a.Source = deliverySource()
			}),
			want: `+ pipeline.stages[0].name = "build"
+ pipeline.stages[0].parallel = false
+ pipeline.stages[0].steps[0].name = "compile"
+ pipeline.stages[0].steps[0].run = "make"
+ pipeline.stages[0].steps[0].env.CGO_ENABLED = "0"
+ pipeline.stages[0].steps[0].timeout = "10m0s"
+ pipeline.stages[1].name = "test"
+ pipeline.stages[1].parallel = true
+ pipeline.stages[1].steps[0].name = "unit"
+ pipeline.stages[1].steps[0].run = "go test ./..."
+ pipeline.stages[1].steps[0].timeout = "5m0s"
+ pipeline.stages[1].steps[1].name = "web"
+ pipeline.stages[1].steps[1].run = "npm test"
+ pipeline.stages[1].steps[1].dir = "web"
+ pipeline.stages[1].steps[1].timeout = "10m0s"
+ pipeline.caches[0].path = "~/.cache/go-build"
+ pipeline.caches[0].key[0] = "go.sum"
+ pipeline.caches[0].key[1] = "go.mod"
+ source.repo = "https://github.com/acme/hello.git"
+ source.poll = "30s"
+ source.rules[0].branch = "main"
+ source.rules[0].deploy = "staging"
+ source.rules[1].tag = "v*"
+ source.rules[1].candidate = "production"
+ source.rules[2].branch = "feature/**"
+ source.rules[2].preview = true
+ source.rules[3].branch = "*"
+ source.preview.host = "{branch}.hello.preview.localhost"
+ source.preview.from = "staging"
`,
		},
		{
			name: "pipeline and source removed: one line each",
			from: testApp(func(a *App) {
				a.Pipeline = deliveryPipeline()
				a.Source = deliverySource()
			}),
			to:   testApp(nil),
			want: "- pipeline\n- source\n",
		},
		{
			name: "pipeline and source edited",
			from: testApp(func(a *App) {
				a.Pipeline = deliveryPipeline()
				a.Source = deliverySource()
			}),
			to: testApp(func(a *App) {
				a.Pipeline = deliveryPipeline()
				a.Pipeline.Stages[1].Parallel = false
				a.Pipeline.Stages[1].Steps[1].Dir = ""
				a.Pipeline.Caches = nil
				a.Source = deliverySource()
				a.Source.Poll = Duration(time.Minute)
				a.Source.Rules[1] = SourceRule{Tag: "v*", Deploy: "staging"}
				a.Source.Preview = nil
				a.Source.Rules = a.Source.Rules[:2]
			}),
			want: `~ pipeline.stages[1].parallel: true -> false
- pipeline.stages[1].steps[1].dir = "web"
- pipeline.caches[0].path = "~/.cache/go-build"
- pipeline.caches[0].key[0] = "go.sum"
- pipeline.caches[0].key[1] = "go.mod"
~ source.poll: "30s" -> "1m0s"
+ source.rules[1].deploy = "staging"
- source.rules[1].candidate = "production"
- source.rules[2].branch = "feature/**"
- source.rules[2].preview = true
- source.rules[3].branch = "*"
- source.preview.host = "{branch}.hello.preview.localhost"
- source.preview.from = "staging"
`,
		},
		{
			name: "promotion rules, permissions, smoke checks and secret files",
			from: testApp(nil),
			to: testApp(func(a *App) {
				a.Environments["production"] = Environment{
					Host: "hello.localhost", Replicas: 2,
					RequiresFrom: "staging", Approvals: 2,
					Permissions: Permissions{Deploy: RoleApprover, Secret: RoleAdmin},
					Smoke: []SmokeCheck{
						{Name: "home", HTTP: &SmokeHTTP{Path: "/", Contains: "hello", MaxLatency: Duration(500 * time.Millisecond)}},
						{Name: "api", Command: "curl -fsS $SLIPWAY_URL/api", Timeout: Duration(time.Minute)},
					},
					SecretFiles: map[string]string{"TLS_KEY": "secrets/tls.key"},
				}
			}),
			want: `+ environments.production.requires_from = "staging"
~ environments.production.approvals: 0 -> 2
+ environments.production.approval_ttl = "24h0m0s"
~ environments.production.permissions.deploy: "deployer" -> "approver"
~ environments.production.permissions.secret: "deployer" -> "admin"
+ environments.production.smoke[0].name = "home"
+ environments.production.smoke[0].http.method = "GET"
+ environments.production.smoke[0].http.path = "/"
+ environments.production.smoke[0].http.status = 200
+ environments.production.smoke[0].http.contains = "hello"
+ environments.production.smoke[0].http.max_latency = "500ms"
+ environments.production.smoke[0].timeout = "10s"
+ environments.production.smoke[1].name = "api"
+ environments.production.smoke[1].command = "curl -fsS $SLIPWAY_URL/api"
+ environments.production.smoke[1].timeout = "1m0s"
+ environments.production.secret_files.TLS_KEY = "secrets/tls.key"
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

// deliveryPipeline and deliverySource return a pipeline and a source for
// testApp's environments, without defaults.
func deliveryPipeline() *Pipeline {
	return &Pipeline{
		Stages: []Stage{
			{Name: "build", Steps: []PipelineStep{{Name: "compile", Run: "make", Env: map[string]string{"CGO_ENABLED": "0"}}}},
			{Name: "test", Parallel: true, Steps: []PipelineStep{
				{Name: "unit", Run: "go test ./...", Timeout: Duration(5 * time.Minute)},
				{Name: "web", Run: "npm test", Dir: "web"},
			}},
		},
		Caches: []Cache{{Path: "~/.cache/go-build", Key: []string{"go.sum", "go.mod"}}},
	}
}

func deliverySource() *Source {
	return &Source{
		Repo: "https://github.com/acme/hello.git",
		Rules: []SourceRule{
			{Branch: "main", Deploy: "staging"},
			{Tag: "v*", Candidate: "production"},
			{Branch: "feature/**", Preview: true},
			{Branch: "*"},
		},
		Preview: &Preview{Host: "{branch}.hello.preview.localhost"},
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
