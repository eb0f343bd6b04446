package spec

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file maps the fields of types_delivery.go (the pipeline, the source,
// and an environment's permissions, smoke checks and secret files) onto
// their types; app.go holds the rest.

// pipeline decodes the pipeline section; nil when it is left out.
func (d *decoder) pipeline(path string, n *yaml.Node) *Pipeline {
	var p Pipeline
	d.object(path, n, []field{
		{"stages", func(path string, v *yaml.Node) {
			d.list(path, v, "write one stage per line, e.g. - name: test", func(path string, v *yaml.Node) {
				p.Stages = append(p.Stages, d.stage(path, v))
			})
		}},
		{"caches", func(path string, v *yaml.Node) {
			d.list(path, v, "write one cache per line, e.g. - {path: ~/.cache/go-build, key: [go.sum]}", func(path string, v *yaml.Node) {
				var c Cache
				d.item(path, v, "- {path: ~/.cache/go-build, key: [go.sum]}", []field{
					{"path", func(p string, v *yaml.Node) { c.Path = d.str(p, v) }},
					{"key", func(p string, v *yaml.Node) {
						c.Key = d.stringList(p, v, "list the files whose content keys the cache, e.g. key: [go.sum]")
					}},
				})
				p.Caches = append(p.Caches, c)
			})
		}},
	})
	if !d.set[path] {
		return nil
	}
	return &p
}

func (d *decoder) stage(path string, n *yaml.Node) Stage {
	var s Stage
	d.item(path, n, "- name: test", []field{
		{"name", func(p string, v *yaml.Node) { s.Name = d.str(p, v) }},
		{"parallel", func(p string, v *yaml.Node) { s.Parallel = d.boolean(p, v) }},
		{"steps", func(path string, v *yaml.Node) {
			d.list(path, v, "write one step per line, e.g. - {name: unit, run: go test ./...}", func(path string, v *yaml.Node) {
				var st PipelineStep
				d.item(path, v, "- {name: unit, run: go test ./...}", []field{
					{"name", func(p string, v *yaml.Node) { st.Name = d.str(p, v) }},
					{"run", func(p string, v *yaml.Node) { st.Run = d.str(p, v) }},
					{"env", func(p string, v *yaml.Node) { st.Env = d.vars(p, v) }},
					{"dir", func(p string, v *yaml.Node) { st.Dir = d.str(p, v) }},
					{"timeout", func(p string, v *yaml.Node) { st.Timeout = d.duration(p, v) }},
				})
				s.Steps = append(s.Steps, st)
			})
		}},
	})
	return s
}

// source decodes the source section; nil when it is left out.
func (d *decoder) source(path string, n *yaml.Node) *Source {
	var s Source
	d.object(path, n, []field{
		{"repo", func(p string, v *yaml.Node) { s.Repo = d.str(p, v) }},
		{"poll", func(p string, v *yaml.Node) { s.Poll = d.duration(p, v) }},
		{"rules", func(path string, v *yaml.Node) {
			d.list(path, v, "write one rule per line, e.g. - {branch: main, deploy: staging}", func(path string, v *yaml.Node) {
				var r SourceRule
				d.item(path, v, "- {branch: main, deploy: staging}", []field{
					{"branch", func(p string, v *yaml.Node) { r.Branch = d.str(p, v) }},
					{"tag", func(p string, v *yaml.Node) { r.Tag = d.str(p, v) }},
					{"deploy", func(p string, v *yaml.Node) { r.Deploy = d.str(p, v) }},
					{"candidate", func(p string, v *yaml.Node) { r.Candidate = d.str(p, v) }},
					{"preview", func(p string, v *yaml.Node) { r.Preview = d.boolean(p, v) }},
				})
				s.Rules = append(s.Rules, r)
			})
		}},
		{"preview", func(path string, v *yaml.Node) {
			var p Preview
			d.object(path, v, []field{
				{"host", func(path string, v *yaml.Node) { p.Host = d.str(path, v) }},
				{"from", func(path string, v *yaml.Node) { p.From = d.str(path, v) }},
			})
			if d.set[path] {
				s.Preview = &p
			}
		}},
	})
	if !d.set[path] {
		return nil
	}
	return &s
}

func (d *decoder) permissions(path string, n *yaml.Node, p *Permissions) {
	d.object(path, n, []field{
		{"deploy", func(path string, v *yaml.Node) { p.Deploy = d.str(path, v) }},
		{"promote", func(path string, v *yaml.Node) { p.Promote = d.str(path, v) }},
		{"approve", func(path string, v *yaml.Node) { p.Approve = d.str(path, v) }},
		{"secret", func(path string, v *yaml.Node) { p.Secret = d.str(path, v) }},
	})
}

func (d *decoder) smoke(path string, n *yaml.Node) []SmokeCheck {
	const example = "- {name: home, http: {path: /}}"
	var checks []SmokeCheck
	d.list(path, n, "write one check per line, e.g. "+example, func(path string, v *yaml.Node) {
		var c SmokeCheck
		d.item(path, v, example, []field{
			{"name", func(p string, v *yaml.Node) { c.Name = d.str(p, v) }},
			{"http", func(path string, v *yaml.Node) {
				var h SmokeHTTP
				d.object(path, v, []field{
					{"method", func(p string, v *yaml.Node) { h.Method = d.str(p, v) }},
					{"path", func(p string, v *yaml.Node) { h.Path = d.str(p, v) }},
					{"status", func(p string, v *yaml.Node) { h.Status = d.integer(p, v) }},
					{"contains", func(p string, v *yaml.Node) { h.Contains = d.str(p, v) }},
					{"max_latency", func(p string, v *yaml.Node) { h.MaxLatency = d.duration(p, v) }},
				})
				if d.set[path] {
					c.HTTP = &h
				}
			}},
			{"command", func(p string, v *yaml.Node) { c.Command = d.str(p, v) }},
			{"timeout", func(p string, v *yaml.Node) { c.Timeout = d.duration(p, v) }},
		})
		checks = append(checks, c)
	})
	return checks
}

// secretFiles decodes SECRET_NAME: path pairs.
func (d *decoder) secretFiles(path string, n *yaml.Node) map[string]string {
	return d.pairs(path, n, pairForm{
		key: "SECRET_NAME", value: "path", what: "secret",
		noValue: func(key string) string {
			return fmt.Sprintf("write the path of the file to hold it, relative to the instance's directory, e.g. %s: secrets/%s", key, strings.ToLower(key))
		},
	})
}

// stringList decodes a list of single values, such as a cache's key files. A
// single value where a list belongs is reported with hint.
func (d *decoder) stringList(path string, n *yaml.Node, hint string) []string {
	var out []string
	d.list(path, n, hint, func(p string, v *yaml.Node) {
		out = append(out, d.str(p, v))
	})
	return out
}
