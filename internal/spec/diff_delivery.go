package spec

import (
	"fmt"
	"strconv"
)

// This file flattens the fields of types_delivery.go for Diff; diff.go
// holds the rest. Optional fields without a default show only when set.

func pipelineLeaves(p Pipeline, put func(path, value string, order ...string)) {
	q := strconv.Quote
	for i, st := range p.Stages {
		sp, so := fmt.Sprintf(".stages[%d]", i), index(i)
		put(sp+".name", q(st.Name), "00", so, "00")
		put(sp+".parallel", strconv.FormatBool(st.Parallel), "00", so, "01")
		for j, s := range st.Steps {
			p, o := fmt.Sprintf("%s.steps[%d]", sp, j), index(j)
			put(p+".name", q(s.Name), "00", so, "02", o, "00")
			put(p+".run", q(s.Run), "00", so, "02", o, "01")
			for k, v := range s.Env {
				put(p+".env."+k, q(v), "00", so, "02", o, "02", "\x01"+k)
			}
			if s.Dir != "" {
				put(p+".dir", q(s.Dir), "00", so, "02", o, "03")
			}
			put(p+".timeout", q(s.Timeout.String()), "00", so, "02", o, "04")
		}
	}
	for i, c := range p.Caches {
		cp, co := fmt.Sprintf(".caches[%d]", i), index(i)
		put(cp+".path", q(c.Path), "01", co, "00")
		for j, k := range c.Key {
			put(fmt.Sprintf("%s.key[%d]", cp, j), q(k), "01", co, "01", index(j))
		}
	}
}

func sourceLeaves(s Source, put func(path, value string, order ...string)) {
	q := strconv.Quote
	put(".repo", q(s.Repo), "00")
	put(".poll", q(s.Poll.String()), "01")
	for i, r := range s.Rules {
		p, o := fmt.Sprintf(".rules[%d]", i), index(i)
		for j, f := range []struct{ name, value string }{
			{"branch", r.Branch}, {"tag", r.Tag}, {"deploy", r.Deploy}, {"candidate", r.Candidate},
		} {
			if f.value != "" {
				put(p+"."+f.name, q(f.value), "02", o, index(j))
			}
		}
		if r.Preview {
			put(p+".preview", "true", "02", o, index(4))
		}
	}
	if s.Preview != nil {
		put(".preview.host", q(s.Preview.Host), "03", "00")
		put(".preview.from", q(s.Preview.From), "03", "01")
	}
}

// promotionLeaves flattens an environment's promotion rules, permissions,
// smoke checks and secret files. approval_ttl shows only where approvals
// are needed, like its default.
func promotionLeaves(env Environment, put func(path, value string, order ...string)) {
	q := strconv.Quote
	dur := func(d Duration) string { return q(d.String()) }
	if env.RequiresFrom != "" {
		put(".requires_from", q(env.RequiresFrom), "03")
	}
	put(".approvals", strconv.Itoa(env.Approvals), "04")
	if env.Approvals > 0 || env.ApprovalTTL != 0 {
		put(".approval_ttl", dur(env.ApprovalTTL), "05")
	}
	perms := env.Permissions
	put(".permissions.deploy", q(perms.Deploy), "06", "00")
	put(".permissions.promote", q(perms.Promote), "06", "01")
	put(".permissions.approve", q(perms.Approve), "06", "02")
	put(".permissions.secret", q(perms.Secret), "06", "03")
	for i, c := range env.Smoke {
		p, o := fmt.Sprintf(".smoke[%d]", i), index(i)
		put(p+".name", q(c.Name), "07", o, "00")
		if h := c.HTTP; h != nil {
			put(p+".http.method", q(h.Method), "07", o, "01", "00")
			put(p+".http.path", q(h.Path), "07", o, "01", "01")
			put(p+".http.status", strconv.Itoa(h.Status), "07", o, "01", "02")
			if h.Contains != "" {
				put(p+".http.contains", q(h.Contains), "07", o, "01", "03")
			}
			if h.MaxLatency != 0 {
				put(p+".http.max_latency", dur(h.MaxLatency), "07", o, "01", "04")
			}
		}
		if c.Command != "" {
			put(p+".command", q(c.Command), "07", o, "02")
		}
		put(p+".timeout", dur(c.Timeout), "07", o, "03")
	}
	for k, v := range env.SecretFiles {
		put(".secret_files."+k, q(v), "08", "\x01"+k)
	}
}
