package errortrack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/slipway-dev/slipway/internal/store"
)

// ServeHTTP answers Sentry's ingest endpoints:
//
//	POST /api/{project}/envelope/   envelopes (every current SDK)
//	POST /api/{project}/store/      one event (legacy SDKs)
//	OPTIONS on both                 CORS preflight for browser SDKs
//
// A request is authenticated by its project's public key, from the
// X-Sentry-Auth header, the sentry_key query parameter or the envelope's
// dsn (when several are given they must agree). Answers: 200 {"id": ...};
// 400 malformed (reason in X-Sentry-Error); 401 no or unknown key; 403 a
// key of another project; 413 too large; 429 over the DSN's rate (with
// Retry-After and X-Sentry-Rate-Limits); 503 when the write queue is full.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After")
	project, endpoint, ok := ingestPath(r.URL.Path)
	if !ok {
		ingestError(w, http.StatusNotFound, "no such endpoint: use /api/{project}/envelope/ or /api/{project}/store/")
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, X-Sentry-Auth, Content-Encoding, sentry-trace, baggage, Authorization")
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost:
	default:
		h.Set("Allow", "POST, OPTIONS")
		ingestError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	status, id, err := t.ingest(r, project, endpoint)
	if err != nil {
		var rl *rateLimited
		if errors.As(err, &rl) {
			secs := strconv.Itoa(rl.seconds)
			h.Set("Retry-After", secs)
			h.Set("X-Sentry-Rate-Limits", secs+":error;default;transaction:key")
		}
		if status == http.StatusServiceUnavailable {
			h.Set("Retry-After", "1")
		}
		ingestError(w, status, err.Error())
		return
	}
	h.Set("Content-Type", "application/json")
	if id == "" {
		io.WriteString(w, "{}")
		return
	}
	fmt.Fprintf(w, `{"id":%q}`, id)
}

// IsIngestPath reports whether p is one of the ingest endpoints
// (/api/{project}/envelope/ or /store/, after any prefix a DSN's path adds).
func IsIngestPath(p string) bool {
	_, _, ok := ingestPath(p)
	return ok
}

// ingestPath splits /api/{project}/{endpoint}/ (any prefix before /api/,
// trailing slash optional).
func ingestPath(p string) (project, endpoint string, ok bool) {
	i := strings.LastIndex(p, "/api/")
	if i < 0 {
		return "", "", false
	}
	parts := strings.Split(strings.TrimSuffix(p[i+len("/api/"):], "/"), "/")
	if len(parts) != 2 || (parts[1] != "envelope" && parts[1] != "store") {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func ingestError(w http.ResponseWriter, status int, reason string) {
	reason = strings.ReplaceAll(reason, "\n", " ")
	w.Header().Set("X-Sentry-Error", reason)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"detail": reason})
}

type rateLimited struct{ seconds int }

func (e *rateLimited) Error() string {
	return fmt.Sprintf("rate limited: this DSN sends more events than allowed; retry in %d s", e.seconds)
}

var errOverloaded = errors.New("the error tracker is overloaded (write queue full); retry in a second")

// ingest reads, authenticates, groups and queues one request. It
// returns the status to answer on error, and the event id on success.
func (t *Tracker) ingest(r *http.Request, project, endpoint string) (int, string, error) {
	if r.ContentLength > MaxEnvelopeSize {
		return http.StatusRequestEntityTooLarge, "", fmt.Errorf("body of %d bytes is over the limit of %d", r.ContentLength, MaxEnvelopeSize)
	}
	body, err := DecodeSized(r.Header.Get("Content-Encoding"), http.MaxBytesReader(nil, r.Body, MaxEnvelopeSize), MaxEnvelopeSize, r.ContentLength)
	if err != nil {
		return errorStatus(err), "", err
	}
	var env *Envelope
	if endpoint == "store" {
		b, err := DecodeStoreBody(body)
		if err != nil {
			return errorStatus(err), "", err
		}
		env = &Envelope{Items: []Item{{Type: ItemEvent, Payload: b}}}
	} else if env, err = ParseEnvelope(body); err != nil {
		return errorStatus(err), "", err
	}
	p, status, err := t.authenticate(r, project, env.Header.DSN)
	if err != nil {
		return status, "", err
	}
	now := t.opts.Now().UTC()
	var q queued
	id := env.Header.EventID
	for _, it := range env.Items {
		switch it.Type {
		case ItemEvent:
			ev, err := ParseEvent(it.Payload, now)
			if err != nil {
				return errorStatus(err), "", fmt.Errorf("event: %w", err)
			}
			g, err := Grouping(ev, p.GroupingVersion)
			if err != nil {
				return http.StatusInternalServerError, "", err
			}
			id = ev.ID
			q.events = append(q.events, store.ErrorEvent{ProjectID: p.ID, Hash: g.Hash, GroupingVersion: g.Version,
				Title: g.Title, Culprit: g.Culprit, Type: g.Type, Level: ev.Level, EventID: ev.ID, Release: ev.Release,
				Environment: ev.Environment, Timestamp: ev.Timestamp, Received: now, Payload: t.codec.enc.EncodeAll(ev.Raw, nil)})
		case ItemSession, ItemSessions:
			counts, err := parseSessionItem(it)
			if err != nil {
				return errorStatus(err), "", fmt.Errorf("%s: %w", it.Type, err)
			}
			for _, c := range counts {
				q.sessions = append(q.sessions, store.SessionUpdate{ProjectID: p.ID, Release: c.Release,
					Started: c.Started, Errored: c.Errored, Crashed: c.Crashed, Abnormal: c.Abnormal})
			}
		}
	}
	if len(q.events) > 0 {
		if res := t.limiter(p.ID).ReserveN(now, len(q.events)); !res.OK() || res.DelayFrom(now) > 0 {
			wait := time.Second
			if res.OK() {
				wait = res.DelayFrom(now)
				res.CancelAt(now)
			}
			return http.StatusTooManyRequests, "", &rateLimited{seconds: max(1, int(math.Ceil(wait.Seconds())))}
		}
	}
	if len(q.events) == 0 && len(q.sessions) == 0 {
		return 0, id, nil
	}
	for _, e := range q.events {
		q.size += int64(len(e.Payload)) + 256
	}
	q.size += int64(len(q.sessions)) * 64
	if !t.enqueue(q) {
		return http.StatusServiceUnavailable, "", errOverloaded
	}
	return 0, id, nil
}

func parseSessionItem(it Item) ([]SessionCounts, error) {
	if it.Type == ItemSession {
		c, err := ParseSession(it.Payload)
		return []SessionCounts{c}, err
	}
	return ParseSessions(it.Payload)
}

// enqueue hands q to the writer unless the queue's memory is spent.
func (t *Tracker) enqueue(q queued) bool {
	if t.queuedBytes.Add(q.size) > t.opts.QueueBytes {
		t.queuedBytes.Add(-q.size)
		return false
	}
	select {
	case t.queue <- q:
		t.enqueued.Add(1)
		return true
	default:
		t.queuedBytes.Add(-q.size)
		return false
	}
}

// authenticate finds the project of the request's key and checks it is
// the project of the URL.
func (t *Tracker) authenticate(r *http.Request, project, envelopeDSN string) (store.ErrorProject, int, error) {
	var keys []string
	if h := r.Header.Get("X-Sentry-Auth"); h != "" {
		a, err := ParseAuthHeader(h)
		if err != nil {
			return store.ErrorProject{}, http.StatusUnauthorized, fmt.Errorf("X-Sentry-Auth: %w", err)
		}
		keys = append(keys, a.Key)
	}
	if k := r.URL.Query().Get("sentry_key"); k != "" {
		keys = append(keys, k)
	}
	if envelopeDSN != "" {
		d, err := ParseDSN(envelopeDSN)
		if err != nil {
			return store.ErrorProject{}, http.StatusUnauthorized, fmt.Errorf("envelope dsn: %w", err)
		}
		keys = append(keys, d.PublicKey)
	}
	if len(keys) == 0 {
		return store.ErrorProject{}, http.StatusUnauthorized, errors.New("no key: send X-Sentry-Auth, ?sentry_key= or a dsn in the envelope header (the SDK does this when given the DSN)")
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			return store.ErrorProject{}, http.StatusUnauthorized, errors.New("the request names two different keys")
		}
	}
	p, ok := t.keyProject(keys[0])
	if !ok {
		return p, http.StatusUnauthorized, errors.New("unknown key: check the DSN (`slipway errors dsn APP --env ENV`)")
	}
	if strconv.FormatInt(p.ID, 10) != project {
		return p, http.StatusForbidden, fmt.Errorf("this key belongs to project %d, not %s: check the DSN", p.ID, project)
	}
	return p, 0, nil
}

// errorStatus maps a parse error to its answer.
func errorStatus(err error) int {
	var pe *ParseError
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &pe):
		return http.StatusBadRequest
	}
	return http.StatusBadRequest
}

// codec packs events' JSON for storage (zstd; EncodeAll and DecodeAll
// are safe for concurrent use).
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec() codec {
	// Neither constructor fails with these options.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxEventSize*2))
	return codec{enc: enc, dec: dec}
}

// Decompress unpacks a stored event's JSON.
func (t *Tracker) Decompress(b []byte) ([]byte, error) {
	out, err := t.codec.dec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("stored event: %w", err)
	}
	return bytes.TrimSpace(out), nil
}
