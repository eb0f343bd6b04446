package spec

import "gopkg.in/yaml.v3"

// This file maps the fields of slipway.yaml onto the types in types.go;
// decode.go holds the machinery.

func (d *decoder) app(n *yaml.Node) *App {
	var a App
	d.object("", n, []field{
		{"name", func(p string, v *yaml.Node) { a.Name = d.str(p, v) }},
		{"build", func(p string, v *yaml.Node) { d.build(p, v, &a.Build) }},
		{"run", func(p string, v *yaml.Node) { d.run(p, v, &a.Run) }},
		{"health", func(p string, v *yaml.Node) { d.health(p, v, &a.Health) }},
		{"environments", func(p string, v *yaml.Node) { a.Environments = d.environments(p, v) }},
	})
	return &a
}

func (d *decoder) build(path string, n *yaml.Node, b *Build) {
	d.object(path, n, []field{
		{"command", func(p string, v *yaml.Node) { b.Command = d.str(p, v) }},
		{"output", func(p string, v *yaml.Node) { b.Output = d.str(p, v) }},
	})
}

func (d *decoder) run(path string, n *yaml.Node, r *Run) {
	d.object(path, n, []field{
		{"command", func(p string, v *yaml.Node) { r.Command = d.str(p, v) }},
		{"env", func(p string, v *yaml.Node) { r.Env = d.vars(p, v) }},
		{"drain_timeout", func(p string, v *yaml.Node) { r.DrainTimeout = d.duration(p, v) }},
	})
}

func (d *decoder) health(path string, n *yaml.Node, h *Health) {
	d.object(path, n, []field{
		{"path", func(p string, v *yaml.Node) { h.Path = d.str(p, v) }},
		{"interval", func(p string, v *yaml.Node) { h.Interval = d.duration(p, v) }},
		{"timeout", func(p string, v *yaml.Node) { h.Timeout = d.duration(p, v) }},
		{"healthy_threshold", func(p string, v *yaml.Node) { h.HealthyThreshold = d.integer(p, v) }},
		{"unhealthy_threshold", func(p string, v *yaml.Node) { h.UnhealthyThreshold = d.integer(p, v) }},
		{"start_period", func(p string, v *yaml.Node) { h.StartPeriod = d.duration(p, v) }},
		{"deploy_timeout", func(p string, v *yaml.Node) { h.DeployTimeout = d.duration(p, v) }},
	})
}

func (d *decoder) environments(path string, n *yaml.Node) map[string]Environment {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	switch r.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		d.fail(r, path, "expected one entry per environment, found a list; write each as its name followed by its fields, e.g. staging: {host: hello.staging.example.com}, not - name: staging")
		return nil
	default:
		d.fail(r, path, "expected one entry per environment, found %s; write each on an indented line as its name followed by its fields, e.g. staging: {host: hello.staging.example.com}", describe(r))
		return nil
	}
	d.valPos[path] = positionOf(r)
	var envs map[string]Environment
	for _, e := range d.entries(path, r) {
		p := joinPath(path, e.key)
		d.keyPos[p] = positionOf(e.keyNode)
		d.envOrder = append(d.envOrder, e.key)
		if envs == nil {
			envs = map[string]Environment{}
		}
		envs[e.key] = d.environment(p, e.value)
	}
	return envs
}

func (d *decoder) environment(path string, n *yaml.Node) Environment {
	var env Environment
	d.object(path, n, []field{
		{"host", func(p string, v *yaml.Node) { env.Host = d.str(p, v) }},
		{"replicas", func(p string, v *yaml.Node) { env.Replicas = d.integer(p, v) }},
		{"config", func(p string, v *yaml.Node) { env.Config = d.vars(p, v) }},
	})
	return env
}
