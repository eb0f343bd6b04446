package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PrometheusTimeout limits one Prometheus query.
const PrometheusTimeout = 5 * time.Second

// errNoData is a query that returned nothing to compare (an empty vector,
// or NaN).
var errNoData = errors.New("no data yet")

// prometheus is a Checker running an instant query.
type prometheus struct {
	url      string
	query    string
	min, max *float64
	client   *http.Client
	timeout  time.Duration
	streak   errorStreak
}

// NewPrometheus returns a Checker that runs query against the Prometheus
// HTTP API at url (GET {url}/api/v1/query), with "{{release}}" and
// "{{stable}}" replaced by the canary's and stable's release numbers. The
// result, a scalar or an instant vector with one series, must be >= min
// and <= max (each if not nil) to pass, else the check fails; an empty
// vector or NaN waits for data. Errors (a non-2xx status, a Prometheus
// error, a result of another shape, a timeout after PrometheusTimeout or
// a connection error) wait, and fail once they have happened
// MaxConsecutiveErrors times in a row. client nil means a plain
// http.Client.
func NewPrometheus(url, query string, min, max *float64, client *http.Client) Checker {
	if client == nil {
		client = &http.Client{}
	}
	p := &prometheus{url: url, query: query, client: client, timeout: PrometheusTimeout}
	if min != nil {
		v := *min
		p.min = &v
	}
	if max != nil {
		v := *max
		p.max = &v
	}
	return p
}

// Name identifies the check by its query (as written, before the release
// numbers are filled in).
func (p *prometheus) Name() string { return "prometheus " + p.query }

// expand fills the release numbers into the query.
func (p *prometheus) expand(in Input) string {
	return strings.NewReplacer(
		"{{release}}", strconv.Itoa(in.CanaryRelease),
		"{{stable}}", strconv.Itoa(in.StableRelease),
	).Replace(p.query)
}

// Check runs the query once.
func (p *prometheus) Check(ctx context.Context, in Input) CheckResult {
	r := CheckResult{Name: p.Name()}
	switch {
	case p.max != nil:
		r.Threshold = *p.max
	case p.min != nil:
		r.Threshold = *p.min
	}
	q := p.expand(in)
	v, err := p.run(ctx, q)
	switch {
	case err != nil && ctx.Err() != nil:
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: not answered: evaluation cancelled (%v)", q, context.Cause(ctx))
		return r
	case errors.Is(err, errNoData):
		p.streak.ok()
		r.Verdict = Wait
		r.Detail = fmt.Sprintf("%s: %v", q, err)
		return r
	case err != nil:
		r.Verdict, r.Detail = p.streak.fail(err)
		r.Detail = q + ": " + r.Detail
		return r
	}
	p.streak.ok()
	r.Value = v
	switch {
	case p.min != nil && v < *p.min:
		r.Verdict = Fail
		r.Detail = fmt.Sprintf("%s = %s, below the minimum %s", q, fmtNum(v), fmtNum(*p.min))
	case p.max != nil && v > *p.max:
		r.Verdict = Fail
		r.Detail = fmt.Sprintf("%s = %s, above the maximum %s", q, fmtNum(v), fmtNum(*p.max))
	default:
		r.Verdict = Pass
		r.Detail = fmt.Sprintf("%s = %s, within %s", q, fmtNum(v), p.bounds())
	}
	return r
}

// bounds describes the allowed range.
func (p *prometheus) bounds() string {
	switch {
	case p.min != nil && p.max != nil:
		return fmt.Sprintf("[%s, %s]", fmtNum(*p.min), fmtNum(*p.max))
	case p.min != nil:
		return ">= " + fmtNum(*p.min)
	case p.max != nil:
		return "<= " + fmtNum(*p.max)
	}
	return "any value (no min or max set)"
}

// run queries Prometheus and returns the single number it answered.
func (p *prometheus) run(ctx context.Context, query string) (float64, error) {
	u, err := url.Parse(p.url)
	if err != nil {
		return 0, fmt.Errorf("prometheus URL: %w", err)
	}
	u = u.JoinPath("api/v1/query")
	u.RawQuery = url.Values{"query": {query}}.Encode()
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, fmt.Errorf("no answer within %s", p.timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus URL: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return 0, fmt.Errorf("query prometheus at %s: %w", redactURL(p.url), cause)
		}
		return 0, fmt.Errorf("query prometheus at %s: %w", redactURL(p.url), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return 0, fmt.Errorf("read prometheus answer: %w", err)
	}
	v, err := parsePrometheusResponse(body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		// Prometheus explains its errors in a JSON body; prefer that.
		if apiErr := (*prometheusError)(nil); errors.As(err, &apiErr) {
			return 0, fmt.Errorf("prometheus answered %s: %w", res.Status, err)
		}
		return 0, fmt.Errorf("prometheus answered %s%s", res.Status, excerpt(body))
	}
	return v, err
}

// prometheusAnswer is the envelope of the Prometheus HTTP API.
type prometheusAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// prometheusError is an error Prometheus reported in its answer.
type prometheusError struct {
	Status, Type, Message string
}

func (e *prometheusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error message"
	}
	if e.Type != "" {
		msg = e.Type + ": " + msg
	}
	return fmt.Sprintf("prometheus error (status %q): %s", e.Status, msg)
}

// parsePrometheusResponse reads an instant query's answer: a scalar, or a
// vector with exactly one series. An empty vector, or a NaN value, is
// errNoData.
func parsePrometheusResponse(body []byte) (float64, error) {
	var a prometheusAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, fmt.Errorf("prometheus answer is not JSON: %w%s", err, excerpt(body))
	}
	if a.Status != "success" {
		return 0, &prometheusError{Status: a.Status, Type: a.ErrorType, Message: truncate(a.Error, maxReason)}
	}
	var v float64
	switch a.Data.ResultType {
	case "scalar":
		var err error
		if v, err = parseSampleValue(a.Data.Result); err != nil {
			return 0, err
		}
	case "vector":
		var series []struct {
			Metric map[string]string `json:"metric"`
			Value  json.RawMessage   `json:"value"`
		}
		if err := json.Unmarshal(a.Data.Result, &series); err != nil {
			return 0, fmt.Errorf("prometheus vector result: %w", err)
		}
		switch len(series) {
		case 0:
			return 0, fmt.Errorf("%w (the query returned an empty vector)", errNoData)
		case 1:
		default:
			return 0, fmt.Errorf("the query returned %d series; it must return one (aggregate it, e.g. with sum or max)", len(series))
		}
		var err error
		if v, err = parseSampleValue(series[0].Value); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("the query returned a %q result; it must return a scalar or a vector with one series", a.Data.ResultType)
	}
	if math.IsNaN(v) {
		return 0, fmt.Errorf("%w (the query returned NaN)", errNoData)
	}
	return v, nil
}

// parseSampleValue reads a [<unix time>, "<value>"] pair.
func parseSampleValue(raw json.RawMessage) (float64, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return 0, fmt.Errorf("prometheus sample is not a [time, \"value\"] pair%s", excerpt(raw))
	}
	var s string
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return 0, fmt.Errorf("prometheus sample value is not a string%s", excerpt(pair[1]))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("prometheus sample value %q is not a number", truncate(s, 50))
	}
	return v, nil
}
