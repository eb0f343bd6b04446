package spec

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode"
)

// Validate checks every rule of the spec that does not depend on YAML, for
// an App built in Go or decoded from JSON. Optional fields at their zero
// value count as unset and take their defaults (see WithDefaults), so both an
// App straight from Parse and one without defaults pass. It returns an
// ErrorList whose entries carry a Path but no position, in spec order.
func (a *App) Validate() error {
	if a == nil {
		return ErrorList{{Message: "no app to validate"}}.err()
	}
	var list ErrorList
	for _, p := range validate(a, nil, nil) {
		list = append(list, &Error{Path: p.path, Message: p.msg})
	}
	return list.err()
}

// problem is a rule violation found by validate, before a position is known.
type problem struct {
	path string
	// atKey says the problem is the map key at path (an environment or
	// variable name) rather than its value.
	atKey bool
	msg   string
	// missing lists the fields whose absence the problem reports; any one
	// of them would settle it.
	missing []string
}

// validator collects problems. set holds the paths of optional fields that
// were written explicitly (Parse); a written zero is then an error rather
// than "use the default". Validate passes nil.
type validator struct {
	set      map[string]bool
	problems []problem
}

// validate checks a. envOrder is the order in which environments were
// written, so a duplicate host is reported on the later one; environments
// missing from it are checked afterwards in name order.
func validate(a *App, set map[string]bool, envOrder []string) []problem {
	v := &validator{set: set}
	v.appName("name", a.Name)
	v.required("build.command", a.Build.Command, "add the shell command that builds the app, e.g. command: go build -o dist/hello .")
	v.output("build.output", a.Build.Output)
	v.required("run.command", a.Run.Command, "add the shell command that starts one instance, e.g. command: ./hello (it must listen on $PORT)")
	v.vars("run.env", a.Run.Env)
	v.positive("run.drain_timeout", a.Run.DrainTimeout, DefaultDrainTimeout)
	v.healthPath("health.path", a.Health.Path)
	v.positive("health.interval", a.Health.Interval, DefaultHealthInterval)
	v.positive("health.timeout", a.Health.Timeout, DefaultHealthTimeout)
	v.threshold("health.healthy_threshold", a.Health.HealthyThreshold, DefaultHealthyThreshold)
	v.threshold("health.unhealthy_threshold", a.Health.UnhealthyThreshold, DefaultUnhealthyThreshold)
	if a.Health.StartPeriod < 0 {
		v.add(problem{path: "health.start_period", msg: fmt.Sprintf("%q must not be negative; write \"0s\" for no grace period", a.Health.StartPeriod)})
	}
	v.positive("health.deploy_timeout", a.Health.DeployTimeout, DefaultDeployTimeout)
	envs := newEnvSet(a.Environments, envOrder)
	v.pipeline("pipeline", a.Pipeline)
	v.source("source", a.Source, envs)
	v.environments(envs)
	return v.problems
}

// envSet is the environments of a spec with their names in the order
// written, for the rules that relate one environment to another.
type envSet struct {
	envs  map[string]Environment
	names []string
}

// newEnvSet orders the environments as in order, followed by any missing
// from it in name order.
func newEnvSet(envs map[string]Environment, order []string) envSet {
	seen := make(map[string]bool, len(envs))
	names := make([]string, 0, len(envs))
	for _, name := range order {
		if _, ok := envs[name]; ok && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(envs)) {
		if !seen[name] {
			names = append(names, name)
		}
	}
	return envSet{envs: envs, names: names}
}

// refProblem describes why name, written where an environment of the spec
// belongs, names none, or returns "".
func (s envSet) refProblem(name string) string {
	if _, ok := s.envs[name]; ok {
		return ""
	}
	if c := closest(name, s.names); c != "" {
		return fmt.Sprintf("%q is not an environment of this spec; did you mean %q?", name, c)
	}
	if len(s.names) == 0 {
		return fmt.Sprintf("%q is not an environment of this spec, which has none yet", name)
	}
	return fmt.Sprintf("%q is not an environment of this spec; the environments are %s", name, andList(s.names))
}

func (v *validator) add(p problem) { v.problems = append(v.problems, p) }

func (v *validator) addf(path, format string, args ...any) {
	v.add(problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// addMissing reports that none of fields is set.
func (v *validator) addMissing(path string, fields []string, format string, args ...any) {
	v.add(problem{path: path, msg: fmt.Sprintf(format, args...), missing: fields})
}

// given reports whether an optional field holds a value to check, rather
// than being unset.
func (v *validator) given(path string, nonzero bool) bool { return nonzero || v.set[path] }

// required reports a missing or blank field and checks a present one. It
// returns false when the field is missing.
func (v *validator) required(path, s, hint string) bool {
	if strings.TrimSpace(s) == "" {
		v.addMissing(path, []string{path}, "required; %s", hint)
		return false
	}
	if msg := textProblem(s); msg != "" {
		v.addf(path, "%s", msg)
	}
	return true
}

func (v *validator) appName(path, name string) {
	if name == "" {
		v.addMissing(path, []string{path}, "required; add the app's name, e.g. name: hello (lowercase letters, digits and dashes)")
		return
	}
	if msg := nameProblem(name, "app name"); msg != "" {
		v.addf(path, "%s", msg)
	}
}

// nameProblem describes what is wrong with an app or environment name, or
// returns "".
func nameProblem(name, what string) string {
	if validName(name) {
		return ""
	}
	if len(name) > maxNameLen && validName(name[:maxNameLen]) {
		return fmt.Sprintf("%q is %d characters long; shorten it to at most %d", name, len(name), maxNameLen)
	}
	msg := fmt.Sprintf("%q is not a valid %s; use lowercase letters, digits and dashes, starting with a letter", name, what)
	if s := suggestName(name); s != "" {
		msg += fmt.Sprintf(", e.g. %q", s)
	}
	return msg
}

func (v *validator) output(p, out string) {
	if !v.required(p, out, "add the directory the build command fills, relative to slipway.yaml, e.g. output: dist") {
		return
	}
	clean := path.Clean(out)
	switch {
	case strings.HasPrefix(out, "/"):
		v.addf(p, "%q is an absolute path; write it relative to the directory of slipway.yaml, e.g. dist", out)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		v.addf(p, "%q points outside the directory of slipway.yaml; build into a directory inside it, e.g. dist", out)
	}
}

func (v *validator) healthPath(p, s string) {
	if !v.required(p, s, "add the path slipway requests to check an instance, e.g. path: /healthz") {
		return
	}
	if msg := urlPathProblem(s); msg != "" {
		v.addf(p, "%s", msg)
	}
}

// urlPathProblem describes why s is not the path of a request, such as
// /healthz?full=1, or returns "".
func urlPathProblem(s string) string {
	switch {
	case strings.Contains(s, "://"):
		fix := "/"
		if u, err := url.Parse(s); err == nil && strings.HasPrefix(u.Path, "/") {
			fix = u.RequestURI()
		}
		return fmt.Sprintf("%q must be a path, not a URL; write %q", s, fix)
	case !strings.HasPrefix(s, "/"):
		return fmt.Sprintf("%q must start with \"/\"; write %q", s, "/"+s)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Sprintf("%q must not contain spaces or control characters; percent-encode them (a space is %%20)", s)
	}
	return ""
}

func (v *validator) positive(path string, d, def Duration) {
	if v.given(path, d != 0) && d <= 0 {
		v.addf(path, "%q must be greater than 0; write a duration like %q, or remove the line to use the default %s", d, def, def)
	}
}

func (v *validator) threshold(path string, n, def int) {
	if v.given(path, n != 0) && n < 1 {
		v.addf(path, "%d must be at least 1; remove the line to use the default %d", n, def)
	}
}

// vars checks run.env or an environment's config.
func (v *validator) vars(path string, vars map[string]string) { v.varsOf(path, vars, true) }

// varsOf checks variables; instance says they reach an instance, where
// slipway sets PORT itself.
func (v *validator) varsOf(path string, vars map[string]string, instance bool) {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		p := path + "." + k
		switch {
		case instance && k == reservedVar:
			v.add(problem{path: p, atKey: true, msg: "PORT is set by slipway to the port an instance must listen on; remove it and read $PORT in the app"})
		case !validEnvVar(k):
			msg := fmt.Sprintf("%q is not a valid environment variable name; use letters, digits and underscores, not starting with a digit", k)
			if s := suggestEnvVar(k); s != "" {
				msg += fmt.Sprintf(", e.g. %q", s)
			}
			v.add(problem{path: p, atKey: true, msg: msg})
		}
		if msg := textProblem(vars[k]); msg != "" {
			v.addf(p, "%s", msg)
		}
	}
}

func (v *validator) environments(set envSet) {
	envs, names := set.envs, set.names
	if len(envs) == 0 {
		v.addMissing("environments", []string{"environments"}, "at least one environment is required; add one with its host, e.g. environments: {production: {host: hello.example.com}}")
		return
	}

	// hosts maps each host and preview host to the field that claimed it
	// first, such as "the host of environments.staging".
	hosts := make(map[string]string, len(envs))
	for _, name := range names {
		env := envs[name]
		p := "environments." + name
		if msg := nameProblem(name, "environment name"); msg != "" {
			v.add(problem{path: p, atKey: true, msg: msg})
		}
		v.host(p+".host", env.Host)
		if env.Host != "" {
			if other, dup := hosts[env.Host]; dup {
				v.addf(p+".host", "%q is already %s; give each environment its own host", env.Host, other)
			} else {
				hosts[env.Host] = "the host of environments." + name
			}
		}
		replicas := env.Replicas
		if v.given(p+".replicas", env.Replicas != 0) && (env.Replicas < 1 || env.Replicas > MaxReplicas) {
			v.addf(p+".replicas", "%d is out of range; replicas must be between 1 and %d", env.Replicas, MaxReplicas)
			replicas = 0
		} else if replicas == 0 {
			replicas = DefaultReplicas
		}
		v.vars(p+".config", env.Config)
		v.promotionRules(p, name, env, set)
		v.permissions(p+".permissions", env.Permissions)
		v.smoke(p+".smoke", env.Smoke)
		v.secretFiles(p+".secret_files", env.SecretFiles)
		v.rollout(p+".rollout", env.Rollout, rolloutEnv{name: name, host: env.Host, replicas: replicas, hosts: hosts})
	}
	v.requirementCycles(set)
}

func (v *validator) host(path, host string) {
	if host == "" {
		v.addMissing(path, []string{path}, "required; add the host name the proxy routes to this environment, e.g. host: hello.example.com")
		return
	}
	if msg := hostProblem(host); msg != "" {
		v.addf(path, "%s", msg)
	}
}

// hostProblem describes what is wrong with a host name, or returns "".
func hostProblem(host string) string {
	if validHost(host) {
		return ""
	}
	msg := hostReason(host)
	if fix := cleanHost(host); fix != host && validHost(fix) {
		msg += fmt.Sprintf("; write %q", fix)
	}
	return fmt.Sprintf("%q %s", host, msg)
}

// hostReason says why host, which is not valid, is not a host name, with
// the host as the subject: "must be lowercase".
func hostReason(host string) string {
	var msg string
	switch {
	case strings.Contains(host, "://"):
		msg = "must be a bare host name, without a scheme"
	case strings.ContainsAny(host, "/?#"):
		msg = "must be a bare host name, without a path"
	case strings.Contains(host, ":"):
		msg = "must not include a port (the proxy serves every host on its own port)"
	case host != strings.ToLower(host):
		msg = "must be lowercase"
	case strings.HasSuffix(host, "."):
		msg = "must not end with a dot"
	case len(host) > maxHostLen:
		msg = fmt.Sprintf("is %d characters long; a host name may have at most %d", len(host), maxHostLen)
	default:
		msg = "is not a valid host name; use dot-separated labels of lowercase letters, digits and dashes, like hello.example.com (a label is at most 63 characters and neither starts nor ends with a dash)"
	}
	return msg
}
