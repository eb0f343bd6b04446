package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// maxAnswer bounds how much of a pluggable check's answer is read.
const maxAnswer = 1 << 20

// webhook is a Checker that asks an HTTP endpoint.
type webhook struct {
	url     string
	name    string
	timeout time.Duration
	client  *http.Client
	streak  errorStreak
}

// NewWebhook returns a Checker that POSTs the evaluation's counters to
// url as JSON (WebhookRequest) and judges by the answer: a 2xx status
// with no body, or a JSON body without "pass": false, passes; "pass":
// false fails with the body's "reason". Anything else (another status, a
// body that is not such JSON, a timeout or a connection error) waits, and
// fails once it has happened MaxConsecutiveErrors times in a row. Each
// call is limited to timeout (none if <= 0); client nil means a plain
// http.Client.
func NewWebhook(url string, timeout time.Duration, client *http.Client) Checker {
	if client == nil {
		client = &http.Client{}
	}
	return &webhook{url: url, name: "webhook " + redactURL(url), timeout: timeout, client: client}
}

// WebhookRequest is the JSON body a webhook receives. Canary and Stable
// count everything served since the canary started getting traffic;
// CanaryRecent and StableRecent the last WindowSeconds.
type WebhookRequest struct {
	CanaryRelease int           `json:"canary_release"`
	StableRelease int           `json:"stable_release"`
	Canary        WebhookCounts `json:"canary"`
	Stable        WebhookCounts `json:"stable"`
	WindowSeconds float64       `json:"window_seconds"`
	CanaryRecent  WebhookCounts `json:"canary_recent"`
	StableRecent  WebhookCounts `json:"stable_recent"`
}

// WebhookCounts are one release's counters.
type WebhookCounts struct {
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// WebhookResponse is the optional JSON body of a webhook's 2xx answer.
type WebhookResponse struct {
	Pass   *bool  `json:"pass"`
	Reason string `json:"reason"`
}

// Name identifies the webhook in results (its URL without credentials or
// query).
func (w *webhook) Name() string { return w.name }

// Check calls the webhook once.
func (w *webhook) Check(ctx context.Context, in Input) CheckResult {
	r := CheckResult{Name: w.name, Stable: in.Stable.Requests, Canary: in.Canary.Requests}
	resp, err := w.call(ctx, in)
	switch {
	case err != nil && ctx.Err() != nil:
		// The evaluation was cancelled: not the webhook's fault.
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("not answered: evaluation cancelled (%v)", context.Cause(ctx))
	case err != nil:
		r.Verdict, r.Detail = w.streak.fail(err)
	default:
		w.streak.ok()
		if resp.Pass != nil && !*resp.Pass {
			r.Verdict = Fail
			r.Detail = "webhook says fail"
			if resp.Reason != "" {
				r.Detail += ": " + resp.Reason
			}
			return r
		}
		r.Verdict = Pass
		r.Value = 1
		r.Detail = "webhook says pass"
		if resp.Reason != "" {
			r.Detail += ": " + resp.Reason
		}
	}
	return r
}

// call POSTs in and returns the parsed answer.
func (w *webhook) call(ctx context.Context, in Input) (WebhookResponse, error) {
	body, err := json.Marshal(WebhookRequest{
		CanaryRelease: in.CanaryRelease,
		StableRelease: in.StableRelease,
		Canary:        WebhookCounts{in.Canary.Requests, in.Canary.Errors},
		Stable:        WebhookCounts{in.Stable.Requests, in.Stable.Errors},
		WindowSeconds: in.Window.Seconds(),
		CanaryRecent:  WebhookCounts{in.CanaryRecent.Requests, in.CanaryRecent.Errors},
		StableRecent:  WebhookCounts{in.StableRecent.Requests, in.StableRecent.Errors},
	})
	if err != nil {
		return WebhookResponse{}, fmt.Errorf("encode webhook request: %w", err)
	}
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, w.timeout, fmt.Errorf("no answer within %s", w.timeout))
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return WebhookResponse{}, fmt.Errorf("webhook URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := w.client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return WebhookResponse{}, fmt.Errorf("call webhook: %w", cause)
		}
		return WebhookResponse{}, fmt.Errorf("call webhook: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return WebhookResponse{}, fmt.Errorf("read webhook answer: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return WebhookResponse{}, fmt.Errorf("webhook answered %s%s", res.Status, excerpt(answer))
	}
	return parseWebhookResponse(answer)
}

// parseWebhookResponse reads a 2xx answer's body: empty (or blank) is a
// pass; otherwise it must be a JSON object, whose "pass" if present must
// be a boolean.
func parseWebhookResponse(body []byte) (WebhookResponse, error) {
	var r WebhookResponse
	if len(bytes.TrimSpace(body)) == 0 {
		return r, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return WebhookResponse{}, fmt.Errorf("webhook answer is not a JSON object like {\"pass\": false, \"reason\": \"...\"}: %w%s", err, excerpt(body))
	}
	if dec.More() {
		return WebhookResponse{}, errors.New("webhook answer has data after its JSON object" + excerpt(body))
	}
	r.Reason = truncate(r.Reason, maxReason)
	return r, nil
}

// maxReason bounds the length of a reason quoted from an answer.
const maxReason = 500

// excerpt quotes the start of an answer for an error message.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return fmt.Sprintf(": %q", truncate(s, 200))
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// redactURL drops credentials, query and fragment from a URL for display
// (they may hold secrets).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	return u.String()
}
