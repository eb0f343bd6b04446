package secret

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxValueBytes bounds one secret value.
const MaxValueBytes = 64 << 10

// ValidateName reports whether name may name a secret: an environment
// variable name (letters, digits and _, not starting with a digit), not
// PORT, not starting with SLIPWAY_.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("secret name is empty")
	}
	if name == "PORT" {
		return errors.New("PORT is set by Slipway for each instance and cannot be a secret")
	}
	for i, c := range name {
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("secret name %q is not a valid environment variable name; use letters, digits and _ (not starting with a digit)", name)
		}
	}
	if strings.HasPrefix(name, "SLIPWAY_") {
		return fmt.Errorf("secret name %q: the SLIPWAY_ prefix is reserved", name)
	}
	return nil
}

// ValidateValue reports whether value may be stored as the secret name:
// non-empty UTF-8 text without NUL, at most MaxValueBytes. The error names
// the secret, never the value.
func ValidateValue(name, value string) error {
	switch {
	case value == "":
		return fmt.Errorf("secret %s: the value is empty; to remove the secret use `slipway secret unset`", name)
	case len(value) > MaxValueBytes:
		return fmt.Errorf("secret %s: the value is %d bytes; at most %d are allowed", name, len(value), MaxValueBytes)
	case !utf8.ValidString(value):
		return fmt.Errorf("secret %s: the value is not UTF-8 text; base64-encode binary data", name)
	case strings.ContainsRune(value, 0):
		return fmt.Errorf("secret %s: the value contains a NUL byte, which no environment variable can carry; base64-encode binary data", name)
	}
	return nil
}
