package spec

// Pipeline builds, tests and packages every commit into one artifact. Stages
// run in order; the steps of a stage run one after another, or all at once
// with parallel. When every stage passes, the build.output directory of the
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
	// Name of the stage: lowercase letters, digits and dashes, starting
	// with a letter; unique in the pipeline.
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
	// Dir is the working directory, relative to the workspace and inside
	// it. Default: the directory of slipway.yaml.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// Timeout bounds the step. Default 10m.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Cache is a directory kept between pipeline runs.
type Cache struct {
	// Path of the directory, relative to the workspace (or under $HOME,
	// written ~/.cache/go-build); it may not lead outside either. Unique
	// among the caches.
	Path string `yaml:"path" json:"path"`
	// Key lists files (relative to the workspace) whose content keys the
	// cache, e.g. go.sum: a change to any makes a new cache.
	Key []string `yaml:"key" json:"key"`
}

// Source is the app's git repository and what its branches and tags do.
type Source struct {
	// Repo is a local path or a URL that `git clone` accepts; it may not
	// start with a dash.
	Repo string `yaml:"repo" json:"repo"`
	// Poll is how often the repository is checked for new commits.
	// Default 30s; webhooks make it immediate.
	Poll Duration `yaml:"poll,omitempty" json:"poll,omitempty"`
	// Rules say what a push to a branch or a tag does; the first matching
	// rule applies, and a push no rule matches does nothing.
	Rules []SourceRule `yaml:"rules" json:"rules"`
	// Preview configures preview environments for branches.
	Preview *Preview `yaml:"preview,omitempty" json:"preview,omitempty"`
}

// SourceRule matches a branch or a tag (exactly one of them) by glob, and
// sets at most one of deploy, candidate and preview; a rule with none of
// them only runs the pipeline.
type SourceRule struct {
	// Branch is a glob of branch names ("main", "release/*", "feature/**")
	// in the syntax of Go's path.Match, where * and ? do not match a slash,
	// plus ** for any characters, slashes included.
	Branch string `yaml:"branch,omitempty" json:"branch,omitempty"`
	// Tag is a glob of tag names ("v*"), in the same syntax.
	Tag string `yaml:"tag,omitempty" json:"tag,omitempty"`
	// Deploy names the environment a passing run deploys to at once; it
	// may not have requires_from or approvals, which a deploy would skip.
	Deploy string `yaml:"deploy,omitempty" json:"deploy,omitempty"`
	// Candidate names an environment the passing run's artifact becomes a
	// candidate for: it is not deployed until `slipway promote`.
	Candidate string `yaml:"candidate,omitempty" json:"candidate,omitempty"`
	// Preview gives each matching branch its own preview environment,
	// torn down when the branch is deleted. Branch rules only; needs the
	// source's preview section.
	Preview bool `yaml:"preview,omitempty" json:"preview,omitempty"`
}

// Preview configures branch preview environments.
type Preview struct {
	// Host is the preview's host name; "{branch}", written once, is
	// replaced by the branch name made DNS-safe, e.g.
	// "{branch}.hello.preview.localhost".
	Host string `yaml:"host" json:"host"`
	// From is the environment whose replicas, config and rollout a
	// preview copies. Default staging.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
}

// Roles, from least to most trusted; each may do what those before it may.
const (
	RoleViewer   = "viewer"
	RoleDeployer = "deployer"
	RoleApprover = "approver"
	RoleAdmin    = "admin"
)

// BranchPlaceholder is replaced by a branch's name in Preview.Host.
const BranchPlaceholder = "{branch}"

// Permissions raise the role an action in an environment needs. Roles, in
// order: viewer, deployer, approver, admin. A role below an action's
// default is an error.
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
	// Name of the check, unique in its environment.
	Name string `yaml:"name" json:"name"`
	// HTTP sends a request through the proxy to the environment's host.
	// A check sets exactly one of http and command.
	HTTP *SmokeHTTP `yaml:"http,omitempty" json:"http,omitempty"`
	// Command runs a shell command on the server, with SLIPWAY_URL set to
	// the environment's URL; exit 0 passes.
	Command string `yaml:"command,omitempty" json:"command,omitempty"`
	// Timeout of the check. Default 10s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// SmokeHTTP is an HTTP smoke check.
type SmokeHTTP struct {
	// Method is GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Path of the request, starting with /.
	Path string `yaml:"path" json:"path"`
	// Status expected, from 100 to 599. Default 200.
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// Contains is a substring the body must contain (not with HEAD, whose
	// answer has no body).
	Contains string `yaml:"contains,omitempty" json:"contains,omitempty"`
	// MaxLatency fails a slower answer; shorter than the check's timeout.
	// Default: no limit.
	MaxLatency Duration `yaml:"max_latency,omitempty" json:"max_latency,omitempty"`
}
