// Package errortrack is Slipway's Sentry-compatible error tracker: it
// parses what the official Sentry SDKs send (envelopes and the legacy
// store endpoint), groups events into issues, ties them to releases, and
// answers the rollout judge's question "did this release bring new
// errors?".
//
// The package is split by concern:
//
//	envelope.go  the envelope format (header line, items with or without length)
//	event.go     an event's JSON, normalised into Event (exception object or bare array, ...)
//	session.go   session and sessions items (release health)
//	encoding.go  Content-Encoding bodies (gzip, deflate, br, zstd) and the store endpoint's base64+zlib
//	auth.go      DSNs and X-Sentry-Auth
//	grouping.go  fingerprints: custom, stack trace, normalised message; versioned
//	normalize.go a message's variable parts (numbers, IDs, addresses) as placeholders
//	jsonvalue.go lenient reading of the JSON values SDKs disagree on
//	jsonscan.go  a one-pass JSON reader that validates as encoding/json does
//	ingest.go    the HTTP endpoints: auth, limits, rate limiting, the bounded queue
//	writer.go    the single writer that turns queued events into issues
//	check.go     the rollout judge's "new issues in the canary" check
//
// Parsers never panic on outside input; each has a fuzz test.
package errortrack
