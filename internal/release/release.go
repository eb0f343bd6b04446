// Package release holds the pure bookkeeping rules of releases: what config
// a release pins and which release an undo goes back to.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/slipway-dev/slipway/internal/spec"
)

// Status of a release.
const (
	StatusDeploying  = "deploying"  // its rollout is in progress
	StatusLive       = "live"       // serving traffic
	StatusSuperseded = "superseded" // was live, replaced by a later release
	StatusFailed     = "failed"     // never received traffic; Reason says why
	StatusAborted    = "aborted"    // a canary stopped by analysis, a deadline or a user
)

// EffectiveConfig is the config an instance of env gets: the spec's run.env,
// overlaid by the environment's config, overlaid by `slipway config set`
// overrides.
func EffectiveConfig(app spec.App, env string, overrides map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range app.Run.Env {
		out[k] = v
	}
	for k, v := range app.Environments[env].Config {
		out[k] = v
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}

// ConfigHash is a short, stable fingerprint of a config: sha256 over the
// sorted keys and their values, each length-prefixed so that no two
// different configs share an encoding (a value may hold "\n" or "="),
// first 12 hex digits.
func ConfigHash(config map[string]string) string {
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(config[k]), config[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Entry is what rollback target selection needs to know about a release.
type Entry struct {
	Number int
	Status string
}

// ErrNoRollbackTarget is returned when there is no earlier release to go back to.
var ErrNoRollbackTarget = errors.New("no earlier release to roll back to")

// RollbackTarget picks the release an undo redeploys. With to > 0 it checks
// that release exists, is not the live one and once served traffic;
// otherwise it picks previous, the release that was live before the live
// one went live (so undo after undo toggles back). Releases may be in any
// order.
func RollbackTarget(releases []Entry, live, previous, to int) (int, error) {
	if live == 0 {
		return 0, fmt.Errorf("%w: nothing is live yet; deploy first", ErrNoRollbackTarget)
	}
	if to < 0 {
		return 0, fmt.Errorf("release %d does not exist; release numbers start at 1 (see `slipway releases`)", to)
	}
	if to == 0 {
		if previous == 0 {
			return 0, fmt.Errorf("%w: release %d is the first that went live", ErrNoRollbackTarget, live)
		}
		to = previous
	}
	for _, r := range releases {
		if r.Number != to {
			continue
		}
		switch {
		case to == live:
			return 0, fmt.Errorf("release %d is already live", to)
		case r.Status == StatusFailed:
			return 0, fmt.Errorf("release %d failed and never served traffic; pick a release that did (see `slipway releases`)", to)
		case r.Status == StatusAborted:
			return 0, fmt.Errorf("release %d was aborted as a canary; pick a release that went live (see `slipway releases`)", to)
		case r.Status == StatusDeploying:
			return 0, fmt.Errorf("release %d is still deploying", to)
		}
		return to, nil
	}
	return 0, fmt.Errorf("release %d does not exist; see `slipway releases` for the numbers", to)
}

// ValidateConfigKey reports whether k may be set as config.
func ValidateConfigKey(k string) error {
	if k == "" {
		return errors.New("config key is empty")
	}
	if k == "PORT" {
		return errors.New("PORT is set by Slipway for each instance and cannot be configured")
	}
	for i, c := range k {
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("config key %q is not a valid environment variable name; use letters, digits and _ (not starting with a digit)", k)
		}
	}
	if strings.HasPrefix(k, "SLIPWAY_") {
		return fmt.Errorf("config key %q: the SLIPWAY_ prefix is reserved", k)
	}
	return nil
}
