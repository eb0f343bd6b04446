package spec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestValidateDelivery checks the rules of the pipeline, the source and an
// environment's promotion rules, permissions, smoke checks and secret
// files on Apps built in Go, where a zero field means "use the default".
func TestValidateDelivery(t *testing.T) {
	const prod = "environments.production"
	steps := []PipelineStep{{Name: "a", Run: "x"}}
	tests := []struct {
		name string
		edit func(*App)
		want string // the error text; "" for valid
	}{
		{"every section, defaults left out", func(a *App) {
			a.Pipeline = deliveryPipeline()
			a.Source = deliverySource()
			a.Environments["production"] = Environment{Host: "hello.localhost", RequiresFrom: "staging", Approvals: MaxApprovals,
				Permissions: Permissions{Deploy: RoleAdmin, Promote: RoleApprover, Approve: RoleApprover},
				Smoke: []SmokeCheck{
					{Name: "home", HTTP: &SmokeHTTP{Method: "HEAD", Path: "/?x=1", Status: 204, MaxLatency: Duration(9 * time.Second)}},
					{Name: "home again", HTTP: &SmokeHTTP{Path: "/", Contains: "hello"}, Timeout: Duration(time.Minute)},
					{Name: "cli", Command: "true"},
				},
				SecretFiles: map[string]string{"TLS_KEY": "secrets/tls.key", "TLS_CERT": "./secrets/tls.crt", "_X": "x"},
			}
		}, ""},
		{"a rule with no action, a plain name before a glob", func(a *App) {
			a.Source = &Source{Repo: "./repo", Rules: []SourceRule{{Branch: "main", Deploy: "staging"}, {Branch: "*"}, {Tag: "main"}}}
		}, ""},

		{"pipeline without stages", func(a *App) { a.Pipeline = &Pipeline{} },
			`pipeline.stages: a pipeline needs at least one stage; add one, e.g. stages: [{name: test, steps: [{name: unit, run: go test ./...}]}], or remove the pipeline to build with build.command`},
		{"pipeline stages and steps", func(a *App) {
			a.Pipeline = &Pipeline{Stages: []Stage{
				{},
				{Name: "Build", Steps: []PipelineStep{{}}},
				{Name: "test", Steps: []PipelineStep{
					{Name: "a", Run: "x"},
					{Name: "a", Run: " ", Dir: "../x", Timeout: -1, Env: map[string]string{"PORT": "1", "bad-name": "x"}},
					{Name: "b\nc", Run: "x", Dir: "/abs"},
					{Name: "d", Run: "x", Dir: "~/x"},
					{Name: "e", Run: "x", Dir: "a/../.."},
				}},
				{Name: "test"},
			}}
		}, `pipeline.stages[0].name: required; add the stage's name, e.g. name: test (lowercase letters, digits and dashes)
pipeline.stages[0].steps: a stage needs at least one step; add one, e.g. steps: [{name: unit, run: go test ./...}]
pipeline.stages[1].name: "Build" is not a valid stage name; use lowercase letters, digits and dashes, starting with a letter, e.g. "build"
pipeline.stages[1].steps[0].name: required; add the step's name, e.g. name: unit
pipeline.stages[1].steps[0].run: required; add the shell command the step runs, e.g. run: go test ./...
pipeline.stages[2].steps[1].name: "a" is already the name of steps[0] of this stage; give each step of a stage its own name
pipeline.stages[2].steps[1].run: required; add the shell command the step runs, e.g. run: go test ./...
pipeline.stages[2].steps[1].env.bad-name: "bad-name" is not a valid environment variable name; use letters, digits and underscores, not starting with a digit, e.g. "bad_name"
pipeline.stages[2].steps[1].dir: "../x" leads outside the workspace; write a path inside it, e.g. cmd/api, or remove the line to run in the directory of slipway.yaml
pipeline.stages[2].steps[1].timeout: "-1ns" must be greater than 0; write a duration like "10m0s", or remove the line to use the default 10m0s
pipeline.stages[2].steps[2].name: "b\nc" must be one line, without control characters such as a newline or tab
pipeline.stages[2].steps[2].dir: "/abs" is an absolute path; write it relative to the workspace, e.g. cmd/api, or remove the line to run in the directory of slipway.yaml
pipeline.stages[2].steps[3].dir: "~/x" starts with ~, which is not expanded here; write it relative to the workspace, e.g. cmd/api, or remove the line to run in the directory of slipway.yaml
pipeline.stages[2].steps[4].dir: "a/../.." leads outside the workspace; write a path inside it, e.g. cmd/api, or remove the line to run in the directory of slipway.yaml
pipeline.stages[3].name: "test" is already the name of stages[2]; give each stage its own name
pipeline.stages[3].steps: a stage needs at least one step; add one, e.g. steps: [{name: unit, run: go test ./...}]`},
		{"caches", func(a *App) {
			a.Pipeline = &Pipeline{Stages: []Stage{{Name: "s", Steps: steps}}, Caches: []Cache{
				{},
				{Path: "~", Key: []string{"go.sum"}},
				{Path: "~/", Key: []string{"go.sum"}},
				{Path: "~root/x", Key: []string{"go.sum"}},
				{Path: "/var/cache", Key: []string{"/go.sum", "../x", "", "~/k"}},
				{Path: "~/../x", Key: []string{"a"}},
				{Path: "../x", Key: []string{"a"}},
				{Path: ".", Key: []string{"a"}},
				{Path: "~/.cache/go-build", Key: []string{"go.sum"}},
				{Path: "~/.cache/go-build/", Key: []string{"go.sum"}},
				{Path: "~/.cache", Key: []string{"go.sum"}},
				{Path: "node_modules", Key: []string{"package-lock.json"}},
				{Path: "./node_modules/x", Key: []string{"package-lock.json"}},
				{Path: "~//x", Key: []string{"a"}},
			}}
		}, `pipeline.caches[0].path: required; add the directory to keep between runs, relative to the workspace or under ~/, e.g. path: ~/.cache/go-build
pipeline.caches[0].key: required; list the files whose content keys the cache, relative to the workspace, e.g. key: [go.sum]
pipeline.caches[1].path: "~" is the whole home directory; cache a directory inside it, e.g. ~/.cache/go-build
pipeline.caches[2].path: "~/" is the whole home directory; cache a directory inside it, e.g. ~/.cache/go-build
pipeline.caches[3].path: "~root/x" names another user's home directory; write a path under ~/ (the home directory of the user running the pipeline) or relative to the workspace
pipeline.caches[4].path: "/var/cache" is an absolute path; write it relative to the workspace (node_modules) or under the home directory as ~/..., e.g. ~/.cache/go-build
pipeline.caches[4].key[0]: "/go.sum" is an absolute path; write it relative to the workspace, e.g. go.sum
pipeline.caches[4].key[1]: "../x" leads outside the workspace; write a path inside it, e.g. go.sum
pipeline.caches[4].key[2]: "" is blank; write a path relative to the workspace, e.g. go.sum
pipeline.caches[4].key[3]: "~/k" starts with ~, which is not expanded here; write it relative to the workspace, e.g. go.sum
pipeline.caches[5].path: "~/../x" leads outside the home directory; write a path inside it, e.g. ~/.cache/go-build
pipeline.caches[6].path: "../x" leads outside the workspace; write a path inside it, or under the home directory as ~/..., e.g. ~/.cache/go-build
pipeline.caches[7].path: "." is the whole workspace, which each run checks out afresh; cache a directory inside it, e.g. node_modules
pipeline.caches[9].path: "~/.cache/go-build/" is already cached by caches[8]; list each directory once
pipeline.caches[10].path: "~/.cache" overlaps the directory of caches[8]; caches nested in each other would overwrite each other when restored, so keep one
pipeline.caches[12].path: "./node_modules/x" overlaps the directory of caches[11]; caches nested in each other would overwrite each other when restored, so keep one
pipeline.caches[13].path: "~//x" has more than one slash after ~; write it like ~/.cache/go-build`},

		{"source repo and poll", func(a *App) { a.Source = &Source{Repo: "--upload-pack=evil", Poll: -1} },
			`source.repo: "--upload-pack=evil" starts with a dash, which git would read as an option; write a local path as ./--upload-pack=evil
source.poll: "-1ns" must be greater than 0; write a duration like "30s", or remove the line to use the default 30s
source.rules: a source needs at least one rule saying what a push does, e.g. rules: [{branch: main, deploy: staging}]`},
		{"source without anything", func(a *App) { a.Source = &Source{} },
			`source.repo: required; add the git repository to watch, a path or a URL that git clone accepts, e.g. repo: https://github.com/acme/hello.git
source.rules: a source needs at least one rule saying what a push does, e.g. rules: [{branch: main, deploy: staging}]`},
		{"source rules", func(a *App) {
			a.Source = &Source{Repo: "https://x/y.git", Rules: []SourceRule{
				{},
				{Branch: "main", Tag: "v*"},
				{Branch: "[main"},
				{Branch: "refs/heads/main"},
				{Branch: "my branch"},
				{Branch: "main", Deploy: "stagin"},
				{Branch: "main"},
				{Branch: "*", Deploy: "staging"},
				{Branch: "hotfix", Deploy: "qa"},
				{Tag: "v*", Candidate: "prod", Deploy: "staging"},
				{Tag: "v1", Preview: true},
				{Branch: "x", Preview: true},
				{Branch: "feature/**", Deploy: "staging", Preview: true},
				{Branch: "feature/a/b"},
			}}
		}, `source.rules[0]: a rule needs branch or tag, a glob of the names it matches, e.g. branch: main or tag: v*
source.rules[1]: a rule matches a branch or a tag, not both; split it into a branch rule and a tag rule
source.rules[2].branch: "[main" is not a valid glob: a [ is left open or a \ ends it; * matches any characters but a slash, ** any characters, ? one character, [abc] one of a set
source.rules[3].branch: "refs/heads/main" is a full ref; write the branch name alone, "main"
source.rules[4].branch: "my branch" contains a space or control character, which git does not allow in a branch name, so it matches nothing; remove it
source.rules[5].deploy: "stagin" is not an environment of this spec; did you mean "staging"?
source.rules[6].branch: rules[5] matches branch "main" already, and the first matching rule applies, so this one never would; remove one of them
source.rules[8].branch: "hotfix" is matched by "*" of rules[7] first, and the first matching rule applies, so this one never would; move it above rules[7]
source.rules[8].deploy: "qa" is not an environment of this spec; the environments are production and staging
source.rules[9]: a rule sets at most one of deploy, candidate and preview, but this one sets deploy and candidate; a push either deploys to an environment, waits as a candidate for one, or gets a preview environment of its own, so keep one (a rule with none only runs the pipeline)
source.rules[10].tag: "v1" is matched by "v*" of rules[9] first, and the first matching rule applies, so this one never would; move it above rules[9]
source.rules[10].preview: only a branch rule can have previews: a preview lives until its branch is deleted; remove preview, or match a branch
source.rules[11].branch: "x" is matched by "*" of rules[7] first, and the first matching rule applies, so this one never would; move it above rules[7]
source.rules[11].preview: previews need a preview section in source with their host, e.g. preview: {host: "{branch}.hello.preview.example.com"}; add it
source.rules[12]: a rule sets at most one of deploy, candidate and preview, but this one sets deploy and preview; a push either deploys to an environment, waits as a candidate for one, or gets a preview environment of its own, so keep one (a rule with none only runs the pipeline)
source.rules[13].branch: "feature/a/b" is matched by "feature/**" of rules[12] first, and the first matching rule applies, so this one never would; move it above rules[12]`},
		{"deploy into gated environments", func(a *App) {
			a.Environments["production"] = Environment{Host: "hello.localhost", RequiresFrom: "staging"}
			a.Environments["gated"] = Environment{Host: "gated.localhost", Approvals: 1}
			a.Source = &Source{Repo: "r", Rules: []SourceRule{{Branch: "main", Deploy: "production"}, {Branch: "dev", Deploy: "gated"}}}
		}, `source.rules[0].deploy: environments.production only takes artifacts that went live in staging first (requires_from), so the server would refuse every deploy of a fresh build; deploy to staging, or write candidate: production and promote
source.rules[1].deploy: environments.gated needs approvals before a release goes live, which a deploy would skip; write candidate: gated so that releases wait for slipway promote and its approvals`},
		{"preview section unused, without host, from unknown", func(a *App) {
			a.Source = &Source{Repo: "r", Rules: []SourceRule{{Branch: "main"}}, Preview: &Preview{From: "prod"}}
		}, `source.preview: no rule has preview: true, so no preview would ever be made; add preview: true to a branch rule, or remove this section
source.preview.host: required; add the previews' host name, where {branch} stands for the branch, e.g. host: "{branch}.hello.preview.example.com"
source.preview.from: "prod" is not an environment of this spec; did you mean "production"?`},
		{"previews copy staging, which is missing", func(a *App) {
			delete(a.Environments, "staging")
			a.Source = &Source{Repo: "r", Rules: []SourceRule{{Branch: "*", Preview: true}}, Preview: &Preview{Host: "{branch}.p.localhost"}}
		}, `source.preview.from: previews copy environments.staging unless from says otherwise, and there is no such environment; add from: naming the environment to copy, e.g. from: production`},

		{"requires_from: unknown, itself, cycles", func(a *App) {
			a.Environments = map[string]Environment{
				"a": {Host: "a.localhost", RequiresFrom: "b"},
				"b": {Host: "b.localhost", RequiresFrom: "c"},
				"c": {Host: "c.localhost", RequiresFrom: "a"},
				"d": {Host: "d.localhost", RequiresFrom: "d"},
				"e": {Host: "e.localhost", RequiresFrom: "stagin"},
				"f": {Host: "f.localhost", RequiresFrom: "g"},
				"g": {Host: "g.localhost", RequiresFrom: "f"},
				"h": {Host: "h.localhost", RequiresFrom: "a"},
			}
		}, `environments.d.requires_from: "d" is this environment itself; name another environment, one whose live releases this one takes, e.g. requires_from: a
environments.e.requires_from: "stagin" is not an environment of this spec; the environments are a, b, c, d, e, f, g and h
environments.a.requires_from: a requires b, which requires c, which requires a: a cycle, so no artifact could ever go live in any of them first; remove one of these requires_from
environments.f.requires_from: f requires g, which requires f: a cycle, so no artifact could ever go live in any of them first; remove one of these requires_from`},
		{"approvals and approval_ttl", func(a *App) {
			a.Environments["production"] = Environment{Host: "hello.localhost", Approvals: 11, ApprovalTTL: -1}
			a.Environments["staging"] = Environment{Host: "hello.staging.localhost", Approvals: -1}
			a.Environments["qa"] = Environment{Host: "qa.localhost", ApprovalTTL: Duration(time.Hour)}
		}, prod + `.approvals: 11 is out of range; approvals must be between 0 and 10
` + prod + `.approval_ttl: "-1ns" must be greater than 0; write a duration like "24h0m0s", or remove the line to use the default 24h0m0s
environments.qa.approval_ttl: approval_ttl only applies to an environment that needs approvals (this one needs none); remove it, or set approvals
environments.staging.approvals: -1 is out of range; approvals must be between 0 and 10`},
		{"permissions", func(a *App) {
			a.Environments["production"] = Environment{Host: "hello.localhost",
				Permissions: Permissions{Deploy: "viewer", Promote: "Admin", Approve: "deployer", Secret: "root"}}
		}, prod + `.permissions.deploy: viewer is below deployer, the default role for deploy, rollback, config and rollout commands; permissions only raise it, so use deployer, approver or admin, or remove the line
` + prod + `.permissions.promote: "Admin" is not a role; did you mean "admin"?
` + prod + `.permissions.approve: deployer is below approver, the default role for approving a promotion here; permissions only raise it, so use approver or admin, or remove the line
` + prod + `.permissions.secret: "root" is not a role; use viewer, deployer, approver or admin`},
		{"smoke checks", func(a *App) {
			a.Environments["production"] = Environment{Host: "hello.localhost", Smoke: []SmokeCheck{
				{},
				{Name: "a", HTTP: &SmokeHTTP{Path: "/"}, Command: "true"},
				{Name: "a", Command: "true"},
				{Name: "h", HTTP: &SmokeHTTP{}},
				{Name: "i", HTTP: &SmokeHTTP{Path: "health", Method: "get", Status: 1000, MaxLatency: -1}},
				{Name: "j", HTTP: &SmokeHTTP{Path: "http://x/y", Method: "FETCH", Status: 99, MaxLatency: Duration(10 * time.Second)}},
				{Name: "k", HTTP: &SmokeHTTP{Path: "/", Method: "HEAD", Contains: "x", MaxLatency: Duration(2 * time.Second)}, Timeout: Duration(time.Second)},
				{Name: "l", Command: " ", Timeout: -1},
			}}
		}, prod + `.smoke[0].name: required; add a name for the check, e.g. name: home
` + prod + `.smoke[0]: a smoke check needs http, a request to send (e.g. http: {path: /}), or command, a shell command that must exit 0 (e.g. command: curl -fsS $SLIPWAY_URL/)
` + prod + `.smoke[1]: a smoke check sets exactly one of http and command, but this one sets both; make them two checks
` + prod + `.smoke[2].name: "a" is already the name of smoke[1]; give each check its own name
` + prod + `.smoke[3].http.path: required; add the path to request, e.g. path: /
` + prod + `.smoke[4].http.method: "get" must be uppercase; write GET
` + prod + `.smoke[4].http.path: "health" must start with "/"; write "/health"
` + prod + `.smoke[4].http.status: 1000 is out of range; write the HTTP status expected, from 100 to 599, e.g. 200
` + prod + `.smoke[4].http.max_latency: "-1ns" must be greater than 0; write a limit like "500ms", or remove the line for no limit
` + prod + `.smoke[5].http.method: "FETCH" is not an HTTP method a smoke check can send; did you mean "PATCH"?
` + prod + `.smoke[5].http.path: "http://x/y" must be a path, not a URL; write "/y"
` + prod + `.smoke[5].http.status: 99 is out of range; write the HTTP status expected, from 100 to 599, e.g. 200
` + prod + `.smoke[5].http.max_latency: "10s" is not shorter than the check's timeout (10s, the default), which would end the request first; lower max_latency or raise timeout
` + prod + `.smoke[6].http.contains: the answer to HEAD has no body, so contains could never match; use method: GET, or remove contains
` + prod + `.smoke[6].http.max_latency: "2s" is not shorter than the check's timeout (1s), which would end the request first; lower max_latency or raise timeout
` + prod + `.smoke[7].command: required; write the shell command to run, e.g. command: curl -fsS $SLIPWAY_URL/, or remove the line
` + prod + `.smoke[7].timeout: "-1ns" must be greater than 0; write a duration like "10s", or remove the line to use the default 10s`},
		{"secret files", func(a *App) {
			a.Environments["production"] = Environment{Host: "hello.localhost", SecretFiles: map[string]string{
				"A": "/etc/a", "B": "../b", "C": "", "D": ".", "E": "certs/", "F": "certs/f", "G": "./certs/f", "H": "certs", "I": "certs/f/x",
				"PORT": "p", "SLIPWAY_X": "s", "bad-name": "n", "J": "~/j",
			}}
		}, prod + `.secret_files.A: "/etc/a" is an absolute path; write it relative to the instance's directory, e.g. secrets/tls.key
` + prod + `.secret_files.B: "../b" leads outside the instance's directory; write a path inside it, e.g. secrets/tls.key
` + prod + `.secret_files.C: "" is blank; write a path relative to the instance's directory, e.g. secrets/tls.key
` + prod + `.secret_files.D: "." is the instance's directory itself; write the path of a file inside it, e.g. secrets/tls.key
` + prod + `.secret_files.E: "certs/" names a directory; write the path of the file to hold the secret, e.g. certs/e
` + prod + `.secret_files.G: "./certs/f" is already the file of secret F; give each secret its own file
` + prod + `.secret_files.H: "certs" is a directory holding "certs/f", the file of secret F; a path cannot be both a file and a directory
` + prod + `.secret_files.I: "certs/f/x" is inside "certs/f", the file of secret F; a path cannot be both a file and a directory
` + prod + `.secret_files.J: "~/j" starts with ~, which is not expanded here; write it relative to the instance's directory, e.g. secrets/tls.key
` + prod + `.secret_files.PORT: PORT is set by slipway for each instance and cannot be a secret; rename the secret
` + prod + `.secret_files.SLIPWAY_X: "SLIPWAY_X" starts with SLIPWAY_, which slipway reserves for the variables it sets; rename the secret
` + prod + `.secret_files.bad-name: "bad-name" is not a valid secret name; use letters, digits and underscores, not starting with a digit, e.g. "bad_name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := rawApp(tt.edit)
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

func TestPreviewHostProblems(t *testing.T) {
	envs := newEnvSet(map[string]Environment{
		"staging":    {Host: "hello.staging.localhost"},
		"production": {Host: "hello.localhost", Rollout: Rollout{PreviewHost: "next.hello.localhost"}},
	}, []string{"staging", "production"})
	tests := []struct{ host, want string }{
		{"{branch}.hello.preview.localhost", ""},
		{"pr-{branch}.hello.localhost", ""},
		{"hello.preview.localhost", `"hello.preview.localhost" does not contain {branch}, so every branch's preview would get the same host; write it like "{branch}.hello.preview.localhost"`},
		{"{branch}.{branch}.localhost", `"{branch}.{branch}.localhost" contains {branch} 2 times; write it once, e.g. "{branch}.localhost"`},
		{"{branch}.Hello.localhost", `"{branch}.Hello.localhost", with {branch} replaced by a branch name, must be lowercase; write "{branch}.hello.localhost"`},
		{"https://{branch}.hello.localhost/", `"https://{branch}.hello.localhost/", with {branch} replaced by a branch name, must be a bare host name, without a scheme; write "{branch}.hello.localhost"`},
		{"-{branch}.x", `"-{branch}.x", with {branch} replaced by a branch name, is not a valid host name; use dot-separated labels of lowercase letters, digits and dashes, like hello.example.com (a label is at most 63 characters and neither starts nor ends with a dash)`},
		{"{branch}.staging.localhost", `"{branch}.staging.localhost" would give a branch named hello the host "hello.staging.localhost", already the host of environments.staging; put previews under a domain of their own, e.g. "{branch}.preview.staging.localhost"`},
		{"{branch}.hello.localhost", `"{branch}.hello.localhost" would give a branch named next the host "next.hello.localhost", already the rollout.preview_host of environments.production; put previews under a domain of their own, e.g. "{branch}.preview.hello.localhost"`},
		{"hello.{branch}", `"hello.{branch}" would give a branch named localhost the host "hello.localhost", already the host of environments.production; put previews under a domain of their own, e.g. "hello.{branch}.preview"`},
		{"hello.{branch}.example.com", ""},
		{"{branch}", ""},
	}
	for _, tt := range tests {
		got := previewHostProblem(tt.host)
		if got == "" {
			got = previewHostClash(tt.host, envs)
		}
		if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.host, got, tt.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"main", "main", true},
		{"main", "mainline", false},
		{"*", "main", true},
		{"*", "feature/login", false},
		{"feature/*", "feature/login", true},
		{"feature/*", "feature/a/b", false},
		{"feature/**", "feature/a/b", true},
		{"feature/**", "feature/", true},
		{"**", "a/b/c", true},
		{"**/fix", "a/b/fix", true},
		{"v?", "v1", true},
		{"v?", "v10", false},
		{"v[0-9]*", "v1.2.3", true},
		{"release-**.x", "release-1/2.x", true},
		{"a.b**", "axb", false}, // a dot is a dot
		{"[", "[", false},
	}
	for _, tt := range tests {
		if got := GlobMatch(tt.glob, tt.name); got != tt.want {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestWithDefaultsDelivery(t *testing.T) {
	a := rawApp(func(a *App) {
		a.Pipeline = deliveryPipeline()
		a.Source = deliverySource()
		a.Environments["production"] = Environment{Host: "hello.localhost", Approvals: 1,
			Permissions: Permissions{Deploy: RoleAdmin},
			Smoke:       []SmokeCheck{{Name: "home", HTTP: &SmokeHTTP{Path: "/"}}, {Name: "cli", Command: "true", Timeout: Duration(time.Second)}},
			SecretFiles: map[string]string{"K": "k"},
		}
	})
	d := a.WithDefaults()

	steps := d.Pipeline.Stages[1].Steps
	if d.Pipeline.Stages[0].Steps[0].Timeout != DefaultStepTimeout || steps[0].Timeout != Duration(5*time.Minute) || steps[1].Timeout != DefaultStepTimeout {
		t.Errorf("step timeouts = %v, %v, %v", d.Pipeline.Stages[0].Steps[0].Timeout, steps[0].Timeout, steps[1].Timeout)
	}
	if d.Source.Poll != DefaultPoll || d.Source.Preview.From != DefaultPreviewFrom {
		t.Errorf("source = %+v, preview %+v", d.Source, d.Source.Preview)
	}
	prod, staging := d.Environments["production"], d.Environments["staging"]
	if prod.ApprovalTTL != DefaultApprovalTTL || staging.ApprovalTTL != 0 {
		t.Errorf("approval_ttl = %v in production (approvals 1), %v in staging (none)", prod.ApprovalTTL, staging.ApprovalTTL)
	}
	wantPerms := Permissions{Deploy: RoleAdmin, Promote: DefaultPromoteRole, Approve: DefaultApproveRole, Secret: DefaultSecretRole}
	if prod.Permissions != wantPerms {
		t.Errorf("permissions = %+v, want %+v", prod.Permissions, wantPerms)
	}
	wantSmoke := []SmokeCheck{
		{Name: "home", HTTP: &SmokeHTTP{Method: DefaultSmokeMethod, Path: "/", Status: DefaultSmokeStatus}, Timeout: DefaultSmokeTimeout},
		{Name: "cli", Command: "true", Timeout: Duration(time.Second)},
	}
	if !reflect.DeepEqual(prod.Smoke, wantSmoke) {
		t.Errorf("smoke = %+v, want %+v", prod.Smoke, wantSmoke)
	}

	// A deep copy: changing the result leaves the input alone.
	d.Pipeline.Stages[0].Steps[0].Env["CGO_ENABLED"] = "1"
	d.Pipeline.Stages[0].Name = "x"
	d.Pipeline.Caches[0].Key[0] = "x"
	d.Source.Rules[0].Deploy = "x"
	d.Source.Preview.Host = "x"
	prod.Smoke[0].HTTP.Path = "/x"
	prod.Smoke[0].Name = "x"
	prod.SecretFiles["K"] = "x"
	in := a.Environments["production"]
	if a.Pipeline.Stages[0].Steps[0].Env["CGO_ENABLED"] != "0" || a.Pipeline.Stages[0].Name != "build" || a.Pipeline.Caches[0].Key[0] != "go.sum" ||
		a.Source.Rules[0].Deploy != "staging" || a.Source.Preview.Host == "x" || a.Source.Preview.From != "" ||
		in.Smoke[0].HTTP.Path != "/" || in.Smoke[0].HTTP.Method != "" || in.Smoke[0].Name != "home" || in.SecretFiles["K"] != "k" ||
		a.Pipeline.Stages[0].Steps[0].Timeout != 0 || a.Source.Poll != 0 || in.Permissions.Promote != "" {
		t.Error("WithDefaults shares memory with its input or changed it")
	}
	if none := (&App{}).WithDefaults(); none.Pipeline != nil || none.Source != nil {
		t.Errorf("WithDefaults made up a pipeline or source: %+v %+v", none.Pipeline, none.Source)
	}
	if strings.Contains(FormatChanges(Diff(a, d)), "+") {
		t.Errorf("Diff of an app and itself with defaults: %s", FormatChanges(Diff(a, d)))
	}
}
