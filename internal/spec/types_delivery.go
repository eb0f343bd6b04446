package spec

// Pipeline builds, tests and packages every commit into one artifact. Stages
// run in order; the steps of a stage run one after another, or all at once
// with Parallel. When every stage passes, the build.output directory of the
// workspace becomes the artifact. Without a pipeline, one stage runs
// build.command.
type Pipeline struct {
	// Stages run in order; a failing stage stops the run.
	Stages []Stage `yaml:"stages" json:"stages"`
	// Caches are directories kept between runs, restored before the first
	// stage and saved after a successful run.
	Caches []Cache `yaml:"caches,omitempty" json:"caches,omitempty"`
}

// Stage is a named group of steps (build, test, lint, security, ...).
type Stage struct {
	// Name of the stage: lowercase letters, digits and dashes.
	Name string `yaml:"name" json:"name"`
	// Parallel runs the stage's steps at the same time.
	Parallel bool `yaml:"parallel,omitempty" json:"parallel,omitempty"`
	// Steps of the stage.
	Steps []PipelineStep `yaml:"steps" json:"steps"`
}

// PipelineStep is one shell command.
type PipelineStep struct {
	// Name of the step, unique within its stage.
	Name string `yaml:"name" json:"name"`
	// Run is a shell command run with `sh -c`.
	Run string `yaml:"run" json:"run"`
	// Env adds environment variables for this step.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Dir is the working directory, relative to the workspace. Default: the
	// directory of slipway.yaml.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// Timeout bounds the step. Default 10m.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Cache is a directory kept between pipeline runs.
type Cache struct {
	// Path of the directory, relative to the workspace (or absolute under
	// $HOME, like ~/.cache/go-build).
	Path string `yaml:"path" json:"path"`
	// Key lists files (relative to the workspace) whose content keys the
	// cache, e.g. go.sum: a change to any makes a new cache.
	Key []string `yaml:"key" json:"key"`
}

// Source is the app's git repository and what its branches and tags do.
type Source struct {
	// Repo is a local path or a URL that `git clone` accepts.
	Repo string `yaml:"repo" json:"repo"`
	// Poll is how often the repository is checked for new commits.
	// Default 30s; webhooks make it immediate.
	Poll Duration `yaml:"poll,omitempty" json:"poll,omitempty"`
	// Rules say what a push to a branch or a tag does; the first matching
	// rule applies.
	Rules []SourceRule `yaml:"rules" json:"rules"`
	// Preview configures preview environments for branches.
	Preview *Preview `yaml:"preview,omitempty" json:"preview,omitempty"`
}

// SourceRule matches a branch or a tag (exactly one of them) by glob.
type SourceRule struct {
	// Branch is a glob of branch names ("main", "release/*", "*").
	Branch string `yaml:"branch,omitempty" json:"branch,omitempty"`
	// Tag is a glob of tag names ("v*").
	Tag string `yaml:"tag,omitempty" json:"tag,omitempty"`
	// Deploy names the environment a passing run deploys to at once.
	Deploy string `yaml:"deploy,omitempty" json:"deploy,omitempty"`
	// Candidate names an environment the passing run's artifact becomes a
	// candidate for: it is not deployed until `slipway promote`.
	Candidate string `yaml:"candidate,omitempty" json:"candidate,omitempty"`
	// Preview gives each matching branch its own preview environment,
	// torn down when the branch is deleted.
	Preview bool `yaml:"preview,omitempty" json:"preview,omitempty"`
}

// Preview configures branch preview environments.
type Preview struct {
	// Host is the preview's host name; "{branch}" is replaced by the
	// branch name made DNS-safe, e.g. "{branch}.hello.preview.localhost".
	Host string `yaml:"host" json:"host"`
	// From is the environment whose replicas, config and rollout a
	// preview copies. Default staging.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
}

// Permissions raise the role an action in an environment needs. Roles, in
// order: viewer, deployer, approver, admin.
type Permissions struct {
	// Deploy covers deploy, rollback, config and rollout commands here.
	// Default deployer.
	Deploy string `yaml:"deploy,omitempty" json:"deploy,omitempty"`
	// Promote is needed to promote a release into this environment.
	// Default deployer.
	Promote string `yaml:"promote,omitempty" json:"promote,omitempty"`
	// Approve is needed to approve a promotion into this environment.
	// Default approver.
	Approve string `yaml:"approve,omitempty" json:"approve,omitempty"`
	// Secret is needed to set or unset secrets here. Default deployer.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
}

// SmokeCheck runs after every deploy to its environment; a failure rolls
// the environment back to the previous release automatically.
type SmokeCheck struct {
	// Name of the check.
	Name string `yaml:"name" json:"name"`
	// HTTP sends a request through the proxy to the environment's host.
	HTTP *SmokeHTTP `yaml:"http,omitempty" json:"http,omitempty"`
	// Command runs a shell command on the server, with SLIPWAY_URL set to
	// the environment's URL; exit 0 passes.
	Command string `yaml:"command,omitempty" json:"command,omitempty"`
	// Timeout of the check. Default 10s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// SmokeHTTP is an HTTP smoke check.
type SmokeHTTP struct {
	// Method, default GET.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Path of the request, starting with /.
	Path string `yaml:"path" json:"path"`
	// Status expected. Default 200.
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// Contains is a substring the body must contain.
	Contains string `yaml:"contains,omitempty" json:"contains,omitempty"`
	// MaxLatency fails a slower answer. Default: no limit.
	MaxLatency Duration `yaml:"max_latency,omitempty" json:"max_latency,omitempty"`
}
