package errortrack

import (
	"encoding/json"
	"math"
)

// maxSessionCount bounds one count of a sessions aggregate (Relay reads
// them as u32), so sums cannot overflow.
const maxSessionCount = math.MaxUint32

// ParseSession reads a session item: one session's update,
//
//	{"sid": "...", "init": true, "status": "ok", "errors": 0,
//	 "attrs": {"release": "...", "environment": "..."}}
//
// Started is 1 on the session's first update (init true). Crashed and
// Abnormal are 1 when the status says so. Errored is 1 when the session
// ended with errors: status "errored" or "unhandled", crashed or
// abnormal, or exited with errors > 0. A session still "ok" is not
// counted as errored even with errors > 0: its final update will be, and
// updates are not deduplicated.
//
// A session without attrs.release is a *ParseError (Relay drops those);
// environment defaults to "production", as for events.
func ParseSession(b []byte) (SessionCounts, error) {
	var f map[string]json.RawMessage
	if err := unmarshalObject(b, &f); err != nil {
		return SessionCounts{}, &ParseError{Reason: "session is not a JSON object: " + err.Error()}
	}
	c, err := sessionAttrs(f["attrs"], "session")
	if err != nil {
		return SessionCounts{}, err
	}
	if scalarString(f["init"]) == "true" {
		c.Started = 1
	}
	nerrors, _ := number(f["errors"])
	status := scalarString(f["status"])
	switch status {
	case "crashed":
		c.Crashed, c.Errored = 1, 1
	case "abnormal":
		c.Abnormal, c.Errored = 1, 1
	case "errored", "unhandled":
		c.Errored = 1
	case "exited":
		if nerrors >= 1 {
			c.Errored = 1
		}
	}
	return c, nil
}

// ParseSessions reads a sessions item: aggregated counts of sessions that
// ended, grouped by the minute they started,
//
//	{"aggregates": [{"started": "...", "exited": 2, "errored": 1,
//	  "abnormal": 0, "crashed": 1}],
//	 "attrs": {"release": "...", "environment": "..."}}
//
// Started is the sum of all counts (exited, errored, unhandled, abnormal,
// crashed); Crashed and Abnormal are their fields; Errored is errored,
// unhandled, abnormal and crashed together (see SessionCounts). All
// aggregates share the item's attrs, so the result has one element, or
// none when there are no aggregates.
//
// A missing attrs.release is a *ParseError; environment defaults to
// "production". Counts that are not numbers count as 0.
func ParseSessions(b []byte) ([]SessionCounts, error) {
	var f map[string]json.RawMessage
	if err := unmarshalObject(b, &f); err != nil {
		return nil, &ParseError{Reason: "sessions item is not a JSON object: " + err.Error()}
	}
	c, err := sessionAttrs(f["attrs"], "sessions item")
	if err != nil {
		return nil, err
	}
	aggregates := array(f["aggregates"])
	if len(aggregates) == 0 {
		return nil, nil
	}
	for _, raw := range aggregates {
		a := object(raw)
		count := func(field string) int64 {
			n, _ := number(a[field])
			return clampInt(n, 0, maxSessionCount)
		}
		exited, errored, unhandled := count("exited"), count("errored"), count("unhandled")
		abnormal, crashed := count("abnormal"), count("crashed")
		c.Started += exited + errored + unhandled + abnormal + crashed
		c.Errored += errored + unhandled + abnormal + crashed
		c.Abnormal += abnormal
		c.Crashed += crashed
	}
	return []SessionCounts{c}, nil
}

// sessionAttrs reads the release and environment every session carries.
func sessionAttrs(raw json.RawMessage, what string) (SessionCounts, error) {
	attrs := object(raw)
	c := SessionCounts{
		Release:     scalarString(attrs["release"]),
		Environment: scalarString(attrs["environment"]),
	}
	if c.Release == "" {
		return SessionCounts{}, &ParseError{Reason: what + " has no release (attrs.release): set the release in the SDK's options"}
	}
	if c.Environment == "" {
		c.Environment = "production"
	}
	return c, nil
}
