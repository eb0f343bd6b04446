// Package trigger turns pushes to an app's git repository into pipeline
// runs, deploys and preview environments: it verifies and parses push
// webhooks (GitHub and Gitea style), matches refs against the spec's rules,
// and diffs polled refs. Decisions are pure functions; the control plane
// acts on them.
package trigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// MaxPayload bounds a webhook body.
const MaxPayload = 5 << 20

// ErrSignature means a webhook's signature is missing or wrong.
var ErrSignature = errors.New("webhook signature missing or invalid")

// Verify checks a webhook body against its signature header: GitHub's
// X-Hub-Signature-256 ("sha256=<hex>") or Gitea's X-Gitea-Signature
// ("<hex>"), both HMAC-SHA256 of the body with the shared secret. If both
// headers are present both must match.
func Verify(h http.Header, body []byte, secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: no webhook secret is configured for this app", ErrSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := mac.Sum(nil)
	checked := false
	if v := h.Get("X-Hub-Signature-256"); v != "" {
		hexSig, ok := strings.CutPrefix(v, "sha256=")
		if !ok || !equalHex(hexSig, want) {
			return fmt.Errorf("%w: X-Hub-Signature-256 does not match the body", ErrSignature)
		}
		checked = true
	}
	if v := h.Get("X-Gitea-Signature"); v != "" {
		if !equalHex(v, want) {
			return fmt.Errorf("%w: X-Gitea-Signature does not match the body", ErrSignature)
		}
		checked = true
	}
	if !checked {
		return fmt.Errorf("%w: send X-Hub-Signature-256 (GitHub) or X-Gitea-Signature (Gitea)", ErrSignature)
	}
	return nil
}

func equalHex(s string, want []byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(s))
	return err == nil && hmac.Equal(got, want)
}

// Push is what a push webhook says happened.
type Push struct {
	// Ref is the full ref name: refs/heads/main or refs/tags/v1.2.0.
	Ref string
	// Commit is the ref's new commit (40 hex digits); empty when Deleted.
	Commit string
	// Deleted is true when the ref was removed.
	Deleted bool
	// Before is the ref's commit before the push: empty for a ref the
	// push created, or when the payload does not say.
	Before string
}

// Order is how a push relates to what was seen of its ref.
type Order int

const (
	// InOrder: the push moves the ref from the commit seen last (or
	// creates a ref not seen), so it is the next thing that happened.
	InOrder Order = iota
	// AlreadySeen: the ref is already where the push leaves it.
	AlreadySeen
	// OutOfOrder: the push starts from a commit other than the one seen
	// last: a stale redelivery, a replay, or deliveries that crossed.
	// Its commit may be older than the one seen; only the repository
	// can tell where the ref is now.
	OutOfOrder
)

// Ordering places push p against seen, the ref's commit seen last (known
// is false for a ref not seen, or deleted).
func Ordering(p Push, seen string, known bool) Order {
	switch {
	case p.Deleted && !known, !p.Deleted && known && seen == p.Commit:
		return AlreadySeen
	case !known && p.Before == "", known && p.Before == seen:
		return InOrder
	}
	return OutOfOrder
}

// ErrNotPush means the payload is valid but not a push (e.g. a ping).
var ErrNotPush = errors.New("not a push event")

// ParsePush reads a GitHub- or Gitea-style push payload. event is the
// X-GitHub-Event or X-Gitea-Event header ("push"; "ping" and others give
// ErrNotPush).
func ParsePush(event string, body []byte) (Push, error) {
	if event != "" && event != "push" {
		return Push{}, fmt.Errorf("%w: %q", ErrNotPush, event)
	}
	var p struct {
		Ref     *string `json:"ref"`
		Before  string  `json:"before"`
		After   string  `json:"after"`
		Deleted bool    `json:"deleted"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Push{}, fmt.Errorf("push payload is not JSON: %v", err)
	}
	if p.Ref == nil {
		return Push{}, fmt.Errorf("%w: the payload has no ref", ErrNotPush)
	}
	ref := *p.Ref
	if !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
		return Push{}, fmt.Errorf("push payload ref %q is not a branch (refs/heads/NAME) or a tag (refs/tags/NAME)", ref)
	}
	before := p.Before
	if strings.Trim(before, "0") == "" {
		before = ""
	} else if !isCommit(before) {
		return Push{}, fmt.Errorf("push payload before %q is not a 40-digit commit hash", p.Before)
	}
	deleted := p.Deleted || strings.Trim(p.After, "0") == ""
	if deleted {
		return Push{Ref: ref, Deleted: true, Before: before}, nil
	}
	if !isCommit(p.After) {
		return Push{}, fmt.Errorf("push payload after %q is not a 40-digit commit hash", p.After)
	}
	return Push{Ref: ref, Commit: p.After, Before: before}, nil
}

func isCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
