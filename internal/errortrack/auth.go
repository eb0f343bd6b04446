package errortrack

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseAuthHeader reads an X-Sentry-Auth header:
//
//	Sentry sentry_version=7, sentry_client=raven-js/1.0, sentry_key=abc, sentry_secret=def
//
// The "Sentry " prefix is optional, pairs may come in any order with or
// without spaces after the commas, keys are case-insensitive, values may
// be double-quoted, and unknown keys (sentry_timestamp) are ignored. A
// header without a sentry_key is a *ParseError.
func ParseAuthHeader(h string) (Auth, error) {
	s := strings.TrimSpace(h)
	if len(s) >= 7 && strings.EqualFold(s[:7], "sentry ") {
		s = s[7:]
	}
	var a Auth
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "sentry_key":
			a.Key = v
		case "sentry_secret":
			a.Secret = v
		case "sentry_version":
			a.Version = v
		case "sentry_client":
			a.Client = v
		}
	}
	if a.Key == "" {
		return Auth{}, &ParseError{Reason: "X-Sentry-Auth has no sentry_key: expected \"Sentry sentry_key=<public key>, sentry_version=7\""}
	}
	return a, nil
}

// ParseDSN reads a DSN,
//
//	{scheme}://{public_key}[:{secret}]@{host}[:port][/path]/{project_id}
//
// The scheme must be http or https, the public key and the host present,
// and the project ID (the last path segment) a number. The secret is
// deprecated but accepted.
func ParseDSN(s string) (DSN, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return DSN{}, &ParseError{Reason: fmt.Sprintf("DSN is not a URL: %v", err)}
	}
	const form = "{scheme}://{public_key}@{host}/{project_id}"
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return DSN{}, &ParseError{Reason: fmt.Sprintf("DSN scheme %q is not http or https; expected %s", u.Scheme, form)}
	}
	if u.User == nil || u.User.Username() == "" {
		return DSN{}, &ParseError{Reason: "DSN has no public key; expected " + form}
	}
	if u.Host == "" {
		return DSN{}, &ParseError{Reason: "DSN has no host; expected " + form}
	}
	if u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return DSN{}, &ParseError{Reason: "DSN has a query or fragment; expected " + form}
	}
	path := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 || i == len(path)-1 {
		return DSN{}, &ParseError{Reason: "DSN has no project ID; expected " + form}
	}
	project := path[i+1:]
	if !isDigits(project) {
		return DSN{}, &ParseError{Reason: fmt.Sprintf("DSN project ID %q is not a number", project)}
	}
	secret, _ := u.User.Password()
	return DSN{
		Scheme:    scheme,
		PublicKey: u.User.Username(),
		Secret:    secret,
		Host:      u.Host,
		Path:      path[:i],
		ProjectID: project,
	}, nil
}

// String renders the DSN; ParseDSN reads it back unchanged.
func (d DSN) String() string {
	u := url.URL{Scheme: d.Scheme, Host: d.Host, Path: d.Path + "/" + d.ProjectID}
	if d.Secret != "" {
		u.User = url.UserPassword(d.PublicKey, d.Secret)
	} else {
		u.User = url.User(d.PublicKey)
	}
	return u.String()
}

// EnvelopeURL is where SDKs using this DSN post envelopes:
// {scheme}://{host}{path}/api/{project_id}/envelope/.
func (d DSN) EnvelopeURL() string {
	u := url.URL{Scheme: d.Scheme, Host: d.Host, Path: d.Path + "/api/" + d.ProjectID + "/envelope/"}
	return u.String()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
