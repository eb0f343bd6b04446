package errortrack

import (
	"encoding/json"
	"errors"
	"time"
)

// Limits of what one request may carry, after decompression. They follow
// Relay's defaults, scaled for one machine.
const (
	MaxEnvelopeSize = 20 << 20 // a whole decompressed envelope or store body
	MaxEventSize    = 1 << 20  // one event item
	MaxItems        = 1000     // items in one envelope
)

// ErrTooLarge means a body, an envelope or an item is over its limit: the
// ingest answers 413.
var ErrTooLarge = errors.New("too large")

// ParseError is malformed input: the ingest answers 400 with Reason in the
// X-Sentry-Error header and the body.
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return e.Reason }

// Envelope is a parsed envelope: its header and its items in order.
type Envelope struct {
	Header EnvelopeHeader
	Items  []Item
}

// EnvelopeHeader is the envelope's first line. Other fields are ignored.
type EnvelopeHeader struct {
	EventID string `json:"event_id,omitempty"`
	DSN     string `json:"dsn,omitempty"`
	SentAt  string `json:"sent_at,omitempty"`
}

// Item is one envelope item: its type (from its header) and its payload.
type Item struct {
	Type        string
	ContentType string
	Payload     []byte
}

// Item types Slipway reads; all others are skipped.
const (
	ItemEvent    = "event"
	ItemSession  = "session"
	ItemSessions = "sessions"
)

// Event is an error event as Slipway keeps it: the fields grouping, the
// issue list and the judge use, plus the original JSON for display.
type Event struct {
	ID          string // 32 lowercase hex; generated when the SDK sent none
	Timestamp   time.Time
	Platform    string
	Level       string // fatal, error, warning, info, debug; default error
	Release     string
	Environment string // default "production"
	ServerName  string
	Logger      string
	Transaction string
	// Message is the plain message: a string message, or logentry's
	// formatted text, else its message.
	Message string
	// Exceptions as the SDK listed them: in Sentry's order, the last one
	// is the one that was raised (the outermost).
	Exceptions  []Exception
	Fingerprint []string
	Tags        map[string]string
	// Raw is the event JSON as received (up to MaxEventSize).
	Raw json.RawMessage
}

// Exception is one exception of an event.
type Exception struct {
	Type      string
	Value     string
	Module    string
	Mechanism string // mechanism.type, e.g. "generic", "panic"
	Handled   *bool  // mechanism.handled
	// Synthetic is mechanism.synthetic: the SDK made the exception up
	// (its type and value say nothing), e.g. @sentry/node wraps
	// captureMessage in one to carry a stack trace.
	Synthetic bool
	Frames    []Frame
}

// Frame is one stack frame; frames are oldest first, the crashing frame
// last.
type Frame struct {
	Function string
	Module   string
	Filename string
	AbsPath  string
	Lineno   int
	InApp    *bool
}

// SessionCounts is what session or sessions items add to one release's
// health: Started sessions, and of those how many ended crashed, errored
// or abnormal.
//
// As in Relay, Errored counts every session that had an error, the
// crashed and abnormal ones included, so that session and sessions items
// add up to the same thing; errored but not crashed is
// Errored-Crashed-Abnormal.
type SessionCounts struct {
	Release     string
	Environment string
	Started     int64
	Errored     int64
	Crashed     int64
	Abnormal    int64
}

// Auth is what a request authenticates with (X-Sentry-Auth, the
// sentry_key query parameter or the envelope's dsn).
type Auth struct {
	Key     string // public key
	Secret  string // deprecated; accepted and ignored
	Version string
	Client  string
}

// DSN is a parsed Sentry DSN.
type DSN struct {
	Scheme    string
	PublicKey string
	Secret    string
	Host      string // with port
	Path      string // prefix before /{project}, "" or "/sentry"
	ProjectID string
}

// Group is the outcome of grouping one event: the issue it belongs to and
// how that issue is shown.
type Group struct {
	Hash    string // hex sha256 of the components, the identity within a project
	Version string // the grouping version that produced Hash
	Title   string // "TypeError: x is undefined", or the message
	Culprit string // where: the crashing in-app frame "module in function", or the transaction
	Type    string // the raised exception's type, "" for a message
	// Components are the strings that were hashed, for `errors show`.
	Components []string
}
