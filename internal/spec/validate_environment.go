package spec

import (
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
)

// This file checks an environment's promotion rules (requires_from,
// approvals, approval_ttl), permissions, smoke checks and secret files;
// validate.go holds the rest of the rules.

func (v *validator) promotionRules(p, name string, env Environment, envs envSet) {
	if v.given(p+".requires_from", env.RequiresFrom != "") {
		switch from := env.RequiresFrom; {
		case strings.TrimSpace(from) == "":
			v.addf(p+".requires_from", "%q names no environment; write the environment releases must go live in first, e.g. requires_from: staging, or remove the line", from)
		case from == name:
			msg := fmt.Sprintf("%q is this environment itself; name another environment, one whose live releases this one takes", from)
			if i := slices.IndexFunc(envs.names, func(n string) bool { return n != name }); i >= 0 {
				msg += fmt.Sprintf(", e.g. requires_from: %s", envs.names[i])
			}
			v.addf(p+".requires_from", "%s", msg)
		case envs.refProblem(from) != "":
			v.addf(p+".requires_from", "%s", envs.refProblem(from))
		}
	}
	approvals := v.given(p+".approvals", env.Approvals != 0)
	if approvals && (env.Approvals < 0 || env.Approvals > MaxApprovals) {
		v.addf(p+".approvals", "%d is out of range; approvals must be between 0 and %d", env.Approvals, MaxApprovals)
	}
	if v.given(p+".approval_ttl", env.ApprovalTTL != 0) {
		if env.Approvals == 0 {
			v.addf(p+".approval_ttl", "approval_ttl only applies to an environment that needs approvals (this one needs none); remove it, or set approvals")
		} else {
			v.positive(p+".approval_ttl", env.ApprovalTTL, DefaultApprovalTTL)
		}
	}
}

// requirementCycles reports each cycle of requires_from once, on the
// environment of the cycle written first: no artifact could ever go live
// in any environment of it.
func (v *validator) requirementCycles(envs envSet) {
	next := func(name string) string {
		from := envs.envs[name].RequiresFrom
		if _, ok := envs.envs[from]; !ok || from == name {
			return "" // reported as a bad reference
		}
		return from
	}
	reported := map[string]bool{}
	for _, start := range envs.names {
		if reported[start] {
			continue
		}
		chain := []string{start}
		for name := next(start); name != "" && !slices.Contains(chain, name); name = next(name) {
			chain = append(chain, name)
		}
		if len(chain) < 2 || next(chain[len(chain)-1]) != start {
			continue
		}
		for _, name := range chain {
			reported[name] = true
		}
		steps := make([]string, 0, len(chain))
		for _, name := range chain[1:] {
			steps = append(steps, "which requires "+name)
		}
		steps = append(steps, "which requires "+start)
		v.addf("environments."+start+".requires_from", "%s requires %s, %s: a cycle, so no artifact could ever go live in any of them first; remove one of these requires_from",
			start, chain[1], strings.Join(steps[1:], ", "))
	}
}

// roles lists the roles from least to most trusted.
func roles() []string { return []string{RoleViewer, RoleDeployer, RoleApprover, RoleAdmin} }

func (v *validator) permissions(p string, perms Permissions) {
	for _, f := range []struct {
		name, value, def, covers string
	}{
		{"deploy", perms.Deploy, DefaultDeployRole, "deploy, rollback, config and rollout commands"},
		{"promote", perms.Promote, DefaultPromoteRole, "promoting a release here"},
		{"approve", perms.Approve, DefaultApproveRole, "approving a promotion here"},
		{"secret", perms.Secret, DefaultSecretRole, "setting and unsetting secrets here"},
	} {
		fp := p + "." + f.name
		if !v.given(fp, f.value != "") {
			continue
		}
		rank, def := slices.Index(roles(), f.value), slices.Index(roles(), f.def)
		switch {
		case rank < 0:
			v.addf(fp, "%s", choiceProblem(f.value, "a role", roles()...))
		case rank < def:
			v.addf(fp, "%s is below %s, the default role for %s; permissions only raise it, so use %s, or remove the line",
				f.value, f.def, f.covers, orList(roles()[def:]))
		}
	}
}

// smokeMethods are the methods a smoke check may send.
func smokeMethods() []string {
	return []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
}

func (v *validator) smoke(p string, checks []SmokeCheck) {
	names := map[string]string{} // check name -> the check that has it
	for i, c := range checks {
		cp, label := fmt.Sprintf("%s[%d]", p, i), fmt.Sprintf("smoke[%d]", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			v.addMissing(cp+".name", []string{cp + ".name"}, "required; add a name for the check, e.g. name: home")
		case lineProblem(c.Name) != "":
			v.addf(cp+".name", "%s", lineProblem(c.Name))
		case names[c.Name] != "":
			v.addf(cp+".name", "%q is already the name of %s; give each check its own name", c.Name, names[c.Name])
		default:
			names[c.Name] = label
		}
		isHTTP, isCommand := c.HTTP != nil || v.set[cp+".http"], v.given(cp+".command", c.Command != "")
		switch {
		case isHTTP && isCommand:
			v.addf(cp, "a smoke check sets exactly one of http and command, but this one sets both; make them two checks")
		case !isHTTP && !isCommand:
			v.addMissing(cp, []string{cp + ".http", cp + ".command"}, "a smoke check needs http, a request to send (e.g. http: {path: /}), or command, a shell command that must exit 0 (e.g. command: curl -fsS $SLIPWAY_URL/)")
		case isCommand:
			v.required(cp+".command", c.Command, "write the shell command to run, e.g. command: curl -fsS $SLIPWAY_URL/, or remove the line")
		case c.HTTP != nil:
			timeout, timeoutGiven := orDefault(c.Timeout, DefaultSmokeTimeout, v.given(cp+".timeout", c.Timeout != 0))
			v.smokeHTTP(cp+".http", *c.HTTP, timeout, timeoutGiven)
		}
		v.positive(cp+".timeout", c.Timeout, DefaultSmokeTimeout)
	}
}

// smokeHTTP checks an HTTP smoke check; timeout is the check's (0 when
// invalid).
func (v *validator) smokeHTTP(p string, h SmokeHTTP, timeout Duration, timeoutGiven bool) {
	method := DefaultSmokeMethod
	if v.given(p+".method", h.Method != "") {
		method = h.Method
		switch upper := strings.ToUpper(h.Method); {
		case slices.Contains(smokeMethods(), h.Method):
		case slices.Contains(smokeMethods(), upper):
			v.addf(p+".method", "%q must be uppercase; write %s", h.Method, upper)
		default:
			v.addf(p+".method", "%s", choiceProblem(h.Method, "an HTTP method a smoke check can send", smokeMethods()...))
		}
	}
	if v.required(p+".path", h.Path, "add the path to request, e.g. path: /") {
		if msg := urlPathProblem(h.Path); msg != "" {
			v.addf(p+".path", "%s", msg)
		}
	}
	if v.given(p+".status", h.Status != 0) && (h.Status < 100 || h.Status > 599) {
		v.addf(p+".status", "%d is out of range; write the HTTP status expected, from 100 to 599, e.g. 200", h.Status)
	}
	if v.given(p+".contains", h.Contains != "") {
		switch {
		case textProblem(h.Contains) != "":
			v.addf(p+".contains", "%s", textProblem(h.Contains))
		case strings.EqualFold(method, http.MethodHead):
			v.addf(p+".contains", "the answer to HEAD has no body, so contains could never match; use method: GET, or remove contains")
		}
	}
	if !v.given(p+".max_latency", h.MaxLatency != 0) {
		return
	}
	switch {
	case h.MaxLatency <= 0:
		v.addf(p+".max_latency", "%q must be greater than 0; write a limit like \"500ms\", or remove the line for no limit", h.MaxLatency)
	case timeout > 0 && h.MaxLatency >= timeout:
		v.addf(p+".max_latency", "%q is not shorter than the check's timeout (%s), which would end the request first; lower max_latency or raise timeout",
			h.MaxLatency, describeDefault(timeout, timeoutGiven))
	}
}

func (v *validator) secretFiles(p string, files map[string]string) {
	const example = "secrets/tls.key"
	owner := map[string]string{} // cleaned path -> the secret written there
	var paths []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fp, file := p+"."+name, files[name]
		if msg := secretNameProblem(name); msg != "" {
			v.add(problem{path: fp, atKey: true, msg: msg})
		}
		if msg := relPathProblem(file, "the instance's directory", example); msg != "" {
			v.addf(fp, "%s", msg)
			continue
		}
		clean := path.Clean(file)
		switch {
		case clean == ".":
			v.addf(fp, "%q is the instance's directory itself; write the path of a file inside it, e.g. %s", file, example)
			continue
		case strings.HasSuffix(file, "/"):
			v.addf(fp, "%q names a directory; write the path of the file to hold the secret, e.g. %s%s", file, file, strings.ToLower(name))
			continue
		}
		if msg := fileClash(clean, file, paths, owner); msg != "" {
			v.addf(fp, "%s", msg)
			continue
		}
		owner[clean] = name
		paths = append(paths, clean)
	}
}

// fileClash describes how the secret file at clean (written as file)
// clashes with one of those before it, or returns "".
func fileClash(clean, file string, before []string, owner map[string]string) string {
	for _, other := range before {
		switch {
		case clean == other:
			return fmt.Sprintf("%q is already the file of secret %s; give each secret its own file", file, owner[other])
		case within(clean, other):
			return fmt.Sprintf("%q is inside %q, the file of secret %s; a path cannot be both a file and a directory", file, other, owner[other])
		case within(other, clean):
			return fmt.Sprintf("%q is a directory holding %q, the file of secret %s; a path cannot be both a file and a directory", file, other, owner[other])
		}
	}
	return ""
}

// reservedSecretPrefix starts the names of the variables slipway sets
// itself, which no secret may take.
const reservedSecretPrefix = "SLIPWAY_"

// secretNameProblem describes why name cannot name a secret, or returns "".
func secretNameProblem(name string) string {
	switch {
	case name == reservedVar:
		return "PORT is set by slipway for each instance and cannot be a secret; rename the secret"
	case strings.HasPrefix(name, reservedSecretPrefix):
		return fmt.Sprintf("%q starts with %s, which slipway reserves for the variables it sets; rename the secret", name, reservedSecretPrefix)
	case !validEnvVar(name):
		msg := fmt.Sprintf("%q is not a valid secret name; use letters, digits and underscores, not starting with a digit", name)
		if s := suggestEnvVar(name); s != "" {
			msg += fmt.Sprintf(", e.g. %q", s)
		}
		return msg
	}
	return ""
}
