package spec

import (
	"regexp"
	"strings"
	"testing"
)

// TestRulesMatchPatterns checks that the hand-written validators agree with
// the regular expressions the JSON Schema publishes.
func TestRulesMatchPatterns(t *testing.T) {
	samples := []string{
		"", "a", "z", "A", "0", "-", "_", "hello", "hello-world", "hello_world", "Hello",
		"1prod", "pr-42", "a-", "-a", "a--b", "a.b", "a b", "é", "PORT", "MY_VAR", "_x",
		"x9", "9x", "hello.example.com", "hello..example.com", "hello.", ".hello", "a.b.c",
		"xn--bcher-kva.example", "hello-.example.com", "127.0.0.1", "localhost", "LOCALHOST",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 63) + ".com",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 127) + "a",
		"cookie", "Cookie", "cookie ", "cookies", "header", "header:", "header:X-User-Id", "header:x", "header:X User",
		"header: X", "Header:X", "header:X:Y", "header:X/Y", "header:!#$%&'*+-.^_`|~09az", "header:é", "header:X\n",
	}
	tests := []struct {
		name    string
		pattern string
		maxLen  int
		valid   func(string) bool
	}{
		{"name", namePattern, maxNameLen, validName},
		{"env var", envVarPattern, 0, validEnvVar},
		{"host", hostPattern, maxHostLen, validHost},
		{"sticky", stickyPattern, 0, validSticky},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.pattern)
		for _, s := range samples {
			want := re.MatchString(s) && (tt.maxLen == 0 || len(s) <= tt.maxLen)
			if got := tt.valid(s); got != want {
				t.Errorf("%s %q: validator says %v, pattern says %v", tt.name, s, got, want)
			}
		}
	}
}

func TestSuggestions(t *testing.T) {
	tests := []struct {
		fn   func(string) string
		in   string
		want string
	}{
		{suggestName, "Hello_World", "hello-world"},
		{suggestName, "my app!", "my-app"},
		{suggestName, "42", ""},
		{suggestName, "hello", ""},
		{suggestName, strings.Repeat("Ab", 40), strings.Repeat("ab", 31) + "a"},
		{suggestEnvVar, "my-var", "my_var"},
		{suggestEnvVar, "9LIVES", "_9LIVES"},
		{suggestEnvVar, "OK", ""},
		{cleanHost, "https://Hello.Example.com:8443/path?q#f", "hello.example.com"},
		{cleanHost, " hello.example.com. ", "hello.example.com"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("suggestion for %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "start_period", "deploy_timeout"}
	tests := []struct{ key, want string }{
		{"path", "path"},
		{"Path", "path"},
		{"intervall", "interval"},
		{"timout", "timeout"},
		{"healthyThreshold", "healthy_threshold"},
		{"deploy-timeout", "deploy_timeout"},
		{"start", "start_period"},
		{"timeouts", "timeout"},
		{"pathname", "path"},
		{"port", ""},
		{"x", ""},
		{"healthcheck", ""},
		{strings.Repeat("x", 1000), ""},
	}
	for _, tt := range tests {
		if got := closest(tt.key, known); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestURLPattern checks that the JSON Schema's URL pattern never rejects a
// URL that Parse accepts. (Parse is stricter: it also rejects an empty host
// behind a port and URLs net/url cannot read.)
func TestURLPattern(t *testing.T) {
	pattern := regexp.MustCompile(loadSchema(t)["$defs"].(map[string]any)["httpURL"].(map[string]any)["pattern"].(string))
	for _, s := range []string{
		"http://a", "https://checks.example.com/canary?x=1#f", "HTTP://A", "http://127.0.0.1:9090", "http://[::1]:9090/",
		"http://user:pw@host/", "https://host?q", "https://host#f", "http://:9090", "http://[::1", "https://", "http:/x",
		"http//x", "ftp://x", "x", "", "https://a b", "https://a\tb", "mailto:x@y", "host:9090", "https://x/é",
	} {
		if urlProblem(s, "https") == "" && !pattern.MatchString(s) {
			t.Errorf("%q: Parse accepts it, the schema pattern does not", s)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct{ query, want string }{
		{`up`, ""},
		{`a{release="{{release}}"} / b{release="{{stable}}"}`, ""},
		{`{{release}}{{stable}}{{release}}`, ""},
		{`x{a="b"}`, ""},
		{`{{ release }}`, "write {{release}} without spaces inside the braces; slipway replaces only the exact placeholder"},
		{`{{stabel}}`, "{{stabel}} is not a placeholder; did you mean {{stable}}?"},
		{`{{release}} {{`, `"{{" opens {{ without closing it; the placeholders are {{release}} (the canary's release number) and {{stable}}`},
		{`{{}}`, "{{}} is not a placeholder; the placeholders are {{release}} (the canary's release number) and {{stable}} (stable's)"},
	}
	for _, tt := range tests {
		if got := placeholderProblem(tt.query); got != tt.want {
			t.Errorf("placeholderProblem(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

// TestPreviewHostPattern checks the JSON Schema's rule for
// source.preview.host against validPreviewHost. They agree except that the
// pattern does not bound the length of the label holding {branch}, so the
// schema may admit a host Parse rejects, never the other way round.
func TestPreviewHostPattern(t *testing.T) {
	re := regexp.MustCompile(previewHostPattern)
	long := strings.Repeat("a", 62)
	tests := []struct {
		host     string
		tooLong  bool // only the label length makes it invalid
		accepted bool
	}{
		{host: "{branch}.hello.localhost", accepted: true},
		{host: "pr-{branch}.hello.localhost", accepted: true},
		{host: "hello-{branch}-x.localhost", accepted: true},
		{host: "a.{branch}.b", accepted: true},
		{host: "{branch}", accepted: true},
		{host: long + "{branch}.x", accepted: true},
		{host: long + "a{branch}.x", tooLong: true},
		{host: "{branch}" + long + "a.x", tooLong: true},
		{host: "hello.localhost"},
		{host: "{branch}.{branch}.localhost"},
		{host: "{Branch}.hello.localhost"},
		{host: "{ branch }.hello.localhost"},
		{host: "-{branch}.hello.localhost"},
		{host: "{branch}-.hello.localhost"},
		{host: "{branch}..localhost"},
		{host: ".{branch}.localhost"},
		{host: "{branch}.localhost."},
		{host: "https://{branch}.localhost"},
		{host: "{branch}.Hello.localhost"},
		{host: "{branch}.localhost:8080"},
		{host: "{branch}_x.localhost"},
		{host: strings.Repeat("a.", 126) + "{branch}", accepted: true},
		{host: strings.Repeat("a.", 127) + "{branch}"},
		{host: ""},
	}
	for _, tt := range tests {
		got, pattern := validPreviewHost(tt.host), re.MatchString(tt.host) && len(tt.host) <= maxPreviewHostLen
		if got != tt.accepted {
			t.Errorf("validPreviewHost(%q) = %v, want %v", tt.host, got, tt.accepted)
		}
		if want := tt.accepted || tt.tooLong; pattern != want {
			t.Errorf("pattern on %q = %v, want %v", tt.host, pattern, want)
		}
	}
}
