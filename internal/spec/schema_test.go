package spec

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// schemaDoc is JSONSchema() decoded, with the navigation the tests need.
type schemaDoc map[string]any

func loadSchema(t *testing.T) schemaDoc {
	t.Helper()
	var s schemaDoc
	if err := json.Unmarshal(JSONSchema(), &s); err != nil {
		t.Fatalf("JSONSchema is not JSON: %v", err)
	}
	return s
}

// resolve follows a $ref within the document.
func (s schemaDoc) resolve(node map[string]any) map[string]any {
	for range 10 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		name, _ := strings.CutPrefix(ref, "#/$defs/")
		node = s["$defs"].(map[string]any)[name].(map[string]any)
	}
	return node
}

func TestSchemaHeader(t *testing.T) {
	s := loadSchema(t)
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", s["$schema"])
	}
	a, b := JSONSchema(), JSONSchema()
	a[0] = 'x'
	if b[0] != '{' {
		t.Error("JSONSchema returns shared memory")
	}
}

// TestSchemaMatchesTypes walks the Go types by reflection and checks every
// yaml field has a schema property and every property a field, that
// required fields are those without omitempty, that no object admits
// unknown fields, and that descriptions are the doc comments in types.go
// and types_delivery.go (with the Go field name replaced by the yaml one).
func TestSchemaMatchesTypes(t *testing.T) {
	s := loadSchema(t)
	docs := docComments(t, "types.go", "types_delivery.go")
	if got := s["description"]; got != docs["App"] {
		t.Errorf("root description = %q, want the App doc comment %q", got, docs["App"])
	}
	var walk func(path string, typ reflect.Type, node map[string]any)
	walk = func(path string, typ reflect.Type, node map[string]any) {
		if node["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties = %v, want false", path, node["additionalProperties"])
		}
		props, _ := node["properties"].(map[string]any)
		var fields, required []string
		for f := range typ.Fields() {
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s has no yaml name", typ.Name(), f.Name)
				continue
			}
			fields = append(fields, name)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
			p := joinPath(path, name)
			prop, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s: field %s.%s is missing from the schema", p, typ.Name(), f.Name)
				continue
			}
			doc := docs[typ.Name()+"."+f.Name]
			if yamlDoc := strings.Replace(doc, f.Name, name, 1); prop["description"] != yamlDoc {
				t.Errorf("%s: description = %q,\nwant the doc comment %q", p, prop["description"], yamlDoc)
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Duration]():
				def := s.resolve(prop)
				if def["description"] != docs[ft.Name()] {
					t.Errorf("%s: type description = %q, want the %s doc comment %q", p, def["description"], ft.Name(), docs[ft.Name()])
				}
				walk(p, ft, def)
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				def := s.resolve(prop["additionalProperties"].(map[string]any))
				if def["description"] != docs[ft.Elem().Name()] {
					t.Errorf("%s: entry description = %q, want the %s doc comment", p, def["description"], ft.Elem().Name())
				}
				walk(p+".<name>", ft.Elem(), def)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				items, ok := prop["items"].(map[string]any)
				if prop["type"] != "array" || !ok {
					t.Errorf("%s: a list in Go but not an array of items in the schema", p)
					continue
				}
				def := s.resolve(items)
				if def["description"] != docs[ft.Elem().Name()] {
					t.Errorf("%s: item description = %q, want the %s doc comment", p, def["description"], ft.Elem().Name())
				}
				walk(p+"[]", ft.Elem(), def)
			}
		}
		var schemaProps []string
		for name := range props {
			schemaProps = append(schemaProps, name)
		}
		for _, name := range schemaProps {
			if !slices.Contains(fields, name) {
				t.Errorf("%s: schema property %q has no field in %s", path, name, typ.Name())
			}
		}
		var schemaRequired []string
		requiredList, ok := node["required"].([]any)
		if !ok {
			t.Errorf("%s: the schema has no required list (write [] for none)", path)
		}
		for _, r := range requiredList {
			schemaRequired = append(schemaRequired, r.(string))
		}
		slices.Sort(required)
		slices.Sort(schemaRequired)
		if !slices.Equal(required, schemaRequired) {
			t.Errorf("%s: schema requires %v, the fields without omitempty are %v", path, schemaRequired, required)
		}
	}
	walk("", reflect.TypeFor[App](), map[string]any(s))
	if d := s["$defs"].(map[string]any)["duration"].(map[string]any); d["description"] != docs["Duration"] {
		t.Errorf("duration description = %q, want %q", d["description"], docs["Duration"])
	}
}

// docComments returns the doc comments in Go files, keyed by type name and
// by Type.Field, each joined into one line.
func docComments(t *testing.T, files ...string) map[string]string {
	t.Helper()
	docs := map[string]string{}
	for _, file := range files {
		addDocComments(t, file, docs)
	}
	return docs
}

func addDocComments(t *testing.T, file string, docs map[string]string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	text := func(g *ast.CommentGroup) string { return strings.Join(strings.Fields(g.Text()), " ") }
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gen.Doc
			}
			if doc != nil {
				docs[ts.Name.Name] = text(doc)
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, name := range field.Names {
					if field.Doc == nil {
						t.Errorf("%s.%s has no doc comment to describe it in the schema", ts.Name.Name, name.Name)
						continue
					}
					docs[ts.Name.Name+"."+name.Name] = text(field.Doc)
				}
			}
		}
	}
}

// TestSchemaRules checks the schema publishes the same rules and defaults
// as the Go code.
func TestSchemaRules(t *testing.T) {
	s := loadSchema(t)
	props := s["properties"].(map[string]any)
	defs := s["$defs"].(map[string]any)
	get := func(m any, keys ...string) any {
		for _, k := range keys {
			m = m.(map[string]any)[k]
		}
		return m
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"name pattern", get(props, "name", "pattern"), namePattern},
		{"name maxLength", get(props, "name", "maxLength"), float64(maxNameLen)},
		{"environment name pattern", get(props, "environments", "propertyNames", "pattern"), namePattern},
		{"environment name maxLength", get(props, "environments", "propertyNames", "maxLength"), float64(maxNameLen)},
		{"host pattern", get(defs, "environment", "properties", "host", "pattern"), hostPattern},
		{"host maxLength", get(defs, "environment", "properties", "host", "maxLength"), float64(maxHostLen)},
		{"replicas maximum", get(defs, "environment", "properties", "replicas", "maximum"), float64(MaxReplicas)},
		{"variable name pattern", get(defs, "variables", "propertyNames", "pattern"), envVarPattern},
		{"reserved variable", get(defs, "variables", "propertyNames", "not", "const"), reservedVar},
		{"replicas default", get(defs, "environment", "properties", "replicas", "default"), float64(DefaultReplicas)},
		{"healthy_threshold default", get(defs, "health", "properties", "healthy_threshold", "default"), float64(DefaultHealthyThreshold)},
		{"unhealthy_threshold default", get(defs, "health", "properties", "unhealthy_threshold", "default"), float64(DefaultUnhealthyThreshold)},
		{"preview_host pattern", get(defs, "rollout", "properties", "preview_host", "pattern"), hostPattern},
		{"preview_host maxLength", get(defs, "rollout", "properties", "preview_host", "maxLength"), float64(maxHostLen)},
		{"strategy default", get(defs, "rollout", "properties", "strategy", "default"), DefaultStrategy},
		{"strategies", fmt.Sprint(get(defs, "rollout", "properties", "strategy", "enum")), fmt.Sprint([]string{StrategyBlueGreen, StrategyCanary, StrategyRolling})},
		{"promotion default", get(defs, "rollout", "properties", "promotion", "default"), DefaultPromotion},
		{"promotions", fmt.Sprint(get(defs, "rollout", "properties", "promotion", "enum")), fmt.Sprint([]string{PromotionAuto, PromotionManual})},
		{"max_surge default", get(defs, "rollout", "properties", "max_surge", "default"), float64(DefaultMaxSurge)},
		{"max_unavailable default", get(defs, "rollout", "properties", "max_unavailable", "default"), float64(DefaultMaxUnavailable)},
		{"max_unavailable maximum", get(defs, "rollout", "properties", "max_unavailable", "maximum"), float64(MaxReplicas - 1)},
		{"sticky default", get(defs, "rollout", "properties", "sticky", "default"), DefaultSticky},
		{"sticky pattern", get(defs, "rollout", "properties", "sticky", "pattern"), stickyPattern},
		{"manual pause", get(defs, "step", "properties", "pause", "anyOf").([]any)[0].(map[string]any)["const"], PauseManual},
		{"min_requests default", get(defs, "analysis", "properties", "min_requests", "default"), float64(DefaultMinRequests)},
		{"max_error_rate default", get(defs, "analysis", "properties", "max_error_rate", "default"), DefaultMaxErrorRate},
		{"max_error_rate_increase default", get(defs, "analysis", "properties", "max_error_rate_increase", "default"), DefaultMaxErrorRateIncrease},
		{"stage name pattern", get(defs, "stage", "properties", "name", "pattern"), namePattern},
		{"stage name maxLength", get(defs, "stage", "properties", "name", "maxLength"), float64(maxNameLen)},
		{"step variable name pattern", get(defs, "stepVariables", "propertyNames", "pattern"), envVarPattern},
		{"preview host pattern", get(defs, "preview", "properties", "host", "pattern"), previewHostPattern},
		{"preview host maxLength", get(defs, "preview", "properties", "host", "maxLength"), float64(maxPreviewHostLen)},
		{"preview from default", get(defs, "preview", "properties", "from", "default"), DefaultPreviewFrom},
		{"preview from pattern", get(defs, "preview", "properties", "from", "pattern"), namePattern},
		{"deploy pattern", get(defs, "sourceRule", "properties", "deploy", "pattern"), namePattern},
		{"candidate pattern", get(defs, "sourceRule", "properties", "candidate", "pattern"), namePattern},
		{"requires_from pattern", get(defs, "environment", "properties", "requires_from", "pattern"), namePattern},
		{"approvals maximum", get(defs, "environment", "properties", "approvals", "maximum"), float64(MaxApprovals)},
		{"deploy role default", get(defs, "permissions", "properties", "deploy", "default"), DefaultDeployRole},
		{"promote role default", get(defs, "permissions", "properties", "promote", "default"), DefaultPromoteRole},
		{"approve role default", get(defs, "permissions", "properties", "approve", "default"), DefaultApproveRole},
		{"secret role default", get(defs, "permissions", "properties", "secret", "default"), DefaultSecretRole},
		{"deploy roles", fmt.Sprint(get(defs, "permissions", "properties", "deploy", "enum")), fmt.Sprint(rolesFrom(DefaultDeployRole))},
		{"promote roles", fmt.Sprint(get(defs, "permissions", "properties", "promote", "enum")), fmt.Sprint(rolesFrom(DefaultPromoteRole))},
		{"approve roles", fmt.Sprint(get(defs, "permissions", "properties", "approve", "enum")), fmt.Sprint(rolesFrom(DefaultApproveRole))},
		{"secret roles", fmt.Sprint(get(defs, "permissions", "properties", "secret", "enum")), fmt.Sprint(rolesFrom(DefaultSecretRole))},
		{"smoke methods", fmt.Sprint(get(defs, "smokeHTTP", "properties", "method", "enum")), fmt.Sprint(smokeMethods())},
		{"smoke method default", get(defs, "smokeHTTP", "properties", "method", "default"), DefaultSmokeMethod},
		{"smoke status default", get(defs, "smokeHTTP", "properties", "status", "default"), float64(DefaultSmokeStatus)},
		{"secret name pattern", get(defs, "environment", "properties", "secret_files", "propertyNames", "pattern"), envVarPattern},
	}
	durations := []struct {
		path []string
		want Duration
	}{
		{[]string{"run", "properties", "drain_timeout", "default"}, DefaultDrainTimeout},
		{[]string{"health", "properties", "interval", "default"}, DefaultHealthInterval},
		{[]string{"health", "properties", "timeout", "default"}, DefaultHealthTimeout},
		{[]string{"health", "properties", "start_period", "default"}, DefaultStartPeriod},
		{[]string{"health", "properties", "deploy_timeout", "default"}, DefaultDeployTimeout},
		{[]string{"rollout", "properties", "progress_deadline", "default"}, DefaultProgressDeadline},
		{[]string{"rollout", "properties", "keep_previous", "default"}, DefaultKeepPrevious},
		{[]string{"rollout", "properties", "promote_after", "default"}, DefaultPromoteAfter},
		{[]string{"analysis", "properties", "interval", "default"}, DefaultAnalysisInterval},
		{[]string{"analysis", "properties", "window", "default"}, DefaultAnalysisWindow},
		{[]string{"webhook", "properties", "timeout", "default"}, DefaultWebhookTimeout},
		{[]string{"pipelineStep", "properties", "timeout", "default"}, DefaultStepTimeout},
		{[]string{"source", "properties", "poll", "default"}, DefaultPoll},
		{[]string{"environment", "properties", "approval_ttl", "default"}, DefaultApprovalTTL},
		{[]string{"smokeCheck", "properties", "timeout", "default"}, DefaultSmokeTimeout},
	}
	for _, d := range durations {
		got, err := time.ParseDuration(get(defs, d.path...).(string))
		checks = append(checks, struct {
			what      string
			got, want any
		}{strings.Join(d.path, "."), fmt.Sprint(Duration(got), err), fmt.Sprint(d.want, nil)})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: schema has %v, Go has %v", c.what, c.got, c.want)
		}
	}

	// The duration pattern accepts exactly the non-negative Go durations.
	durationRE := regexp.MustCompile(get(defs, "duration", "anyOf").([]any)[0].(map[string]any)["pattern"].(string))
	for _, in := range []string{"0", "0s", "1s", "1.5s", ".5s", "1.s", "500ms", "1h30m", "2m0.5s", "10us", "10µs", "10μs", "3ns",
		"", "1", "s", "-1s", "+1s", "1 s", "1S", "fast", "1d", "1.5", "1s ", "1e3s", "0x1s"} {
		d, err := time.ParseDuration(in)
		want := err == nil && d >= 0 && !strings.HasPrefix(in, "+")
		if got := durationRE.MatchString(in); got != want {
			t.Errorf("duration pattern on %q = %v, time.ParseDuration says %v", in, got, want)
		}
	}
}

// TestSchemaAgreesWithParse checks the schema against the parser on the
// testdata: every spec Parse accepts is valid under the schema, and every
// spec it rejects is invalid, except for the rules only Parse can check.
func TestSchemaAgreesWithParse(t *testing.T) {
	s := loadSchema(t)
	parseOnly := map[string]bool{
		"bad-duplicate-hosts":      true, // uniqueness across entries
		"bad-merge-parent":         true, // merges that yaml.v3 expands before the schema sees them
		"bad-multiple-documents":   true, // one document per file
		"bad-rollout-cross-field":  true, // rules relating fields to each other
		"bad-rollout-deadline":     true, // timed waits against progress_deadline
		"bad-requires-from":        true, // references between environments, cycles
		"bad-source-preview-clash": true, // preview hosts against environment hosts
	}
	inputs, _ := filepath.Glob("testdata/parse/*.yaml")
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil || doc == nil {
			continue // not YAML, or several documents: nothing for a schema to check
		}
		problems := s.validate(map[string]any(s), doc, "")
		switch {
		case strings.HasPrefix(name, "ok-") && len(problems) > 0:
			t.Errorf("%s: Parse accepts it but the schema rejects it: %v", name, problems)
		case !strings.HasPrefix(name, "ok-") && !parseOnly[name] && len(problems) == 0:
			t.Errorf("%s: Parse rejects it but the schema accepts it", name)
		case parseOnly[name] && len(problems) > 0:
			t.Errorf("%s: listed as beyond the schema, but the schema rejects it: %v", name, problems)
		}
	}
}

// validate is a small JSON Schema validator covering the keywords
// JSONSchema uses; it returns the problems found in v. schema is a mapping
// of keywords or a boolean (true admits anything, false nothing).
func (s schemaDoc) validate(schema any, v any, at string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
	if b, ok := schema.(bool); ok {
		if !b {
			fail("%v is not allowed here", v)
		}
		return problems
	}
	node := schema.(map[string]any)
	if ref, ok := node["$ref"].(string); ok {
		name, _ := strings.CutPrefix(ref, "#/$defs/")
		problems = append(problems, s.validate(s["$defs"].(map[string]any)[name], v, at)...)
	}
	for key, rule := range node {
		switch key {
		case "$schema", "$ref", "$defs", "title", "description", "default", "then", "else":
		case "if":
			branch := "else"
			if len(s.validate(rule, v, at)) == 0 {
				branch = "then"
			}
			if sub, ok := node[branch]; ok {
				problems = append(problems, s.validate(sub, v, at)...)
			}
		case "allOf":
			for _, sub := range rule.([]any) {
				problems = append(problems, s.validate(sub, v, at)...)
			}
		case "enum":
			if !slices.ContainsFunc(rule.([]any), func(e any) bool { return reflect.DeepEqual(e, v) }) {
				fail("%v is not one of %v", v, rule)
			}
		case "items", "minItems":
			list, ok := v.([]any)
			if !ok {
				continue
			}
			if key == "minItems" {
				if len(list) < int(rule.(float64)) {
					fail("fewer than %v items", rule)
				}
				continue
			}
			for i, item := range list {
				problems = append(problems, s.validate(rule, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		case "type":
			types, ok := rule.([]any)
			if !ok {
				types = []any{rule}
			}
			if !slices.ContainsFunc(types, func(tp any) bool { return hasType(v, tp.(string)) }) {
				fail("%v is not of type %v", v, rule)
			}
		case "properties":
			obj, _ := v.(map[string]any)
			for name, sub := range rule.(map[string]any) {
				if fv, ok := obj[name]; ok {
					problems = append(problems, s.validate(sub, fv, at+"."+name)...)
				}
			}
		case "patternProperties", "required", "minProperties", "maxProperties", "propertyNames", "additionalProperties":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			switch key {
			case "required":
				for _, r := range rule.([]any) {
					if _, ok := obj[r.(string)]; !ok {
						fail("missing %s", r)
					}
				}
			case "minProperties":
				if len(obj) < int(rule.(float64)) {
					fail("fewer than %v properties", rule)
				}
			case "maxProperties":
				if len(obj) > int(rule.(float64)) {
					fail("more than %v properties", rule)
				}
			case "propertyNames":
				for name := range obj {
					problems = append(problems, s.validate(rule, name, at+"."+name+"(name)")...)
				}
			case "additionalProperties":
				props, _ := node["properties"].(map[string]any)
				patterns, _ := node["patternProperties"].(map[string]any)
				for name, fv := range obj {
					if _, ok := props[name]; ok {
						continue
					}
					if slices.ContainsFunc(slices.Collect(maps.Keys(patterns)), func(p string) bool { return regexp.MustCompile(p).MatchString(name) }) {
						continue
					}
					switch r := rule.(type) {
					case bool:
						if !r {
							fail("unknown property %s", name)
						}
					case map[string]any:
						problems = append(problems, s.validate(r, fv, at+"."+name)...)
					}
				}
			}
		case "pattern", "minLength", "maxLength":
			str, ok := v.(string)
			if !ok {
				continue
			}
			switch key {
			case "pattern":
				if !regexp.MustCompile(rule.(string)).MatchString(str) {
					fail("%q does not match %s", str, rule)
				}
			case "minLength":
				if utf8.RuneCountInString(str) < int(rule.(float64)) {
					fail("%q is too short", str)
				}
			case "maxLength":
				if utf8.RuneCountInString(str) > int(rule.(float64)) {
					fail("%q is too long", str)
				}
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			n, ok := number(v)
			if !ok {
				continue
			}
			limit := rule.(float64)
			if key == "minimum" && n < limit || key == "maximum" && n > limit ||
				key == "exclusiveMinimum" && n <= limit || key == "exclusiveMaximum" && n >= limit {
				fail("%v is out of range (%s %v)", v, key, rule)
			}
		case "const":
			a, aok := number(v)
			b, bok := number(rule)
			if !(aok && bok && a == b) && !reflect.DeepEqual(v, rule) {
				fail("%v is not %v", v, rule)
			}
		case "anyOf":
			if !slices.ContainsFunc(rule.([]any), func(sub any) bool { return len(s.validate(sub, v, at)) == 0 }) {
				fail("%v matches none of anyOf", v)
			}
		case "not":
			if len(s.validate(rule, v, at)) == 0 {
				fail("%v matches a not", v)
			}
		default:
			panic("schema validator does not know keyword " + key)
		}
	}
	return problems
}

// rolesFrom lists the roles from least up, as the schema's enum does.
func rolesFrom(least string) []string {
	all := roles()
	return all[slices.Index(all, least):]
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		n, ok := number(v)
		return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
	}
	return false
}
