package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// TokenPrefix starts every API token, so scanners and people recognise one.
const TokenPrefix = "slw_"

// NewToken returns a new random API token: TokenPrefix and 32 random bytes,
// base64url-encoded.
func NewToken() string {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand documents it)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// HashToken is the form a token is stored in: its sha256, in hex. Tokens
// carry 256 random bits, so an unsalted fast hash is enough; a stolen
// database yields no usable token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var (
	userName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// reservedNames are actors the control plane itself writes into the audit
// log; no user may take them.
func reservedNames() []string {
	return []string{"system", "analysis", "deadline", "schedule", "restart", "recovery", "unknown"}
}

// ValidUserName checks a user name: 1 to 64 lowercase letters, digits,
// dots, dashes and underscores, starting with a letter or digit, and not
// one of the names the audit log uses for the system itself.
func ValidUserName(name string) error {
	if !userName.MatchString(name) {
		return fmt.Errorf("user name %q: use 1 to 64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	if slices.Contains(reservedNames(), name) {
		return fmt.Errorf("user name %q is reserved for the system's own entries in the audit log (%s); choose another",
			name, strings.Join(reservedNames(), ", "))
	}
	return nil
}

// ValidTokenName checks a token name: 1 to 64 letters, digits, dots,
// dashes and underscores, starting with a letter or digit.
func ValidTokenName(name string) error {
	if !tokenName.MatchString(name) {
		return fmt.Errorf("token name %q: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

var envName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidEnvName checks an environment name for a grant: the rule
// slipway.yaml uses (lowercase letters, digits and dashes, starting with a
// letter). A grant applies to the environment of that name in every app.
func ValidEnvName(name string) error {
	if !envName.MatchString(name) {
		return fmt.Errorf("environment name %q: use lowercase letters, digits and dashes, starting with a letter (as in slipway.yaml)", name)
	}
	return nil
}
