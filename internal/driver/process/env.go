package process

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// defaultBaseEnv returns the variables an instance inherits from the
// driver's environment when Options.BaseEnv is nil: PATH, HOME, LANG and
// TMPDIR, those that are set, with a PATH even if the driver has none.
// Nothing else is inherited: the control plane's environment may hold
// secrets such as SLIPWAY_TOKEN.
func defaultBaseEnv(getenv func(string) string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TMPDIR"} {
		v := getenv(k)
		if k == "PATH" && v == "" {
			v = "/usr/local/bin:/usr/bin:/bin"
		}
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// childEnv returns the environment of an instance's process: base, then
// environ in key order, then PORT, each later one replacing an earlier
// variable of the same name.
func childEnv(base []string, environ map[string]string, port int) []string {
	env := make([]string, 0, len(base)+len(environ)+1)
	index := make(map[string]int)
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			env[i] = kv
			return
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	for _, k := range slices.Sorted(maps.Keys(environ)) {
		set(k + "=" + environ[k])
	}
	set("PORT=" + strconv.Itoa(port))
	return env
}

// checkEnviron reports a variable exec cannot pass on.
func checkEnviron(environ map[string]string) error {
	for k, v := range environ {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("environment variable name %q: must be non-empty without '=' or NUL", k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("environment variable %s: value contains NUL", k)
		}
	}
	return nil
}
