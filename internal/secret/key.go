// Package secret encrypts secret values at rest with age (X25519) and keeps
// the key file that holds the identity. Values never appear in its errors.
package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// ErrDecrypt is returned when a ciphertext cannot be opened: it was made
// with another key, or it is corrupted. The error never holds the value.
var ErrDecrypt = errors.New("cannot decrypt secret (wrong key or corrupted ciphertext)")

// ErrMismatch is returned when a ciphertext decrypts but was sealed for
// another secret (another app, environment or name): someone copied
// ciphertexts between rows of the database.
var ErrMismatch = errors.New("ciphertext was sealed for another secret")

// Key is an age X25519 identity. The zero value is not usable; use
// Generate or ParseKey.
type Key struct {
	id *age.X25519Identity
}

// Generate returns a new random key.
func Generate() (*Key, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate secrets key: %w", err)
	}
	return &Key{id: id}, nil
}

// ParseKey reads a key file's content: an AGE-SECRET-KEY-1... line, with
// optional # comments and blank lines (the format age-keygen writes).
func ParseKey(data []byte) (*Key, error) {
	var found *age.X25519Identity
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if found != nil {
			return nil, errors.New("parse secrets key: more than one key in the file")
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			// age's message does not echo the key.
			return nil, fmt.Errorf("parse secrets key: %w", err)
		}
		found = id
	}
	if found == nil {
		return nil, errors.New("parse secrets key: no AGE-SECRET-KEY-1 line in the file")
	}
	return &Key{id: found}, nil
}

// Recipient is the key's public half (age1...). It is safe to show and to
// store: it identifies the key without revealing it.
func (k *Key) Recipient() string { return k.id.Recipient().String() }

// Marshal returns the key file content for k.
func (k *Key) Marshal() []byte {
	return fmt.Appendf(nil, "# Slipway secrets key: keep it secret, back it up apart from the database.\n# public key: %s\n%s\n",
		k.Recipient(), k.id.String())
}

// Label names the secret a ciphertext belongs to. Sealing binds a value to
// its label, so a ciphertext copied to another app, environment or name
// fails to open.
func Label(app, env, name string) string { return app + "/" + env + "/" + name }

const envelope = "slipway-secret/v1\n"

// Seal encrypts value for this key, bound to label.
func (k *Key) Seal(label string, value []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, k.id.Recipient())
	if err != nil {
		return nil, fmt.Errorf("encrypt secret %s: %w", label, err)
	}
	for _, part := range [][]byte{[]byte(envelope), []byte(label + "\n"), value} {
		if _, err := w.Write(part); err != nil {
			return nil, fmt.Errorf("encrypt secret %s: %w", label, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt secret %s: %w", label, err)
	}
	return buf.Bytes(), nil
}

// Open decrypts a ciphertext made by Seal with the same key and label. It
// fails with ErrDecrypt for another key or a corrupted ciphertext, and with
// ErrMismatch for a ciphertext of another secret.
func (k *Key) Open(label string, ciphertext []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), k.id)
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", label, ErrDecrypt)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", label, ErrDecrypt)
	}
	prefix := envelope + label + "\n"
	if !bytes.HasPrefix(plain, []byte(prefix)) {
		clear(plain)
		return nil, fmt.Errorf("open secret %s: %w", label, ErrMismatch)
	}
	return plain[len(prefix):], nil
}
