package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
)

// ShortHashLen is how many leading hex digits of a ConfigHash are shown to
// people, like a short git commit id.
const ShortHashLen = 12

// ConfigHash fingerprints a set of environment variables so a release can
// pin its config and show which config it runs. It is the hex SHA-256 of
// the pairs in key order, each written as
//
//	len(key):key=len(value):value\n
//
// with lengths in decimal bytes, so no two different maps share an encoding.
// A nil and an empty map hash alike. The format is stable: hashes are stored.
func ConfigHash(config map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(config)) {
		v := config[k]
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(v), v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShortHash returns the first ShortHashLen characters of a hash from
// ConfigHash, or the whole string when it is shorter.
func ShortHash(hash string) string {
	if len(hash) > ShortHashLen {
		return hash[:ShortHashLen]
	}
	return hash
}
