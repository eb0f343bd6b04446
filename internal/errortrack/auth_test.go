package errortrack

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAuthHeader(t *testing.T) {
	tests := []struct {
		in   string
		want Auth
	}{
		{"Sentry sentry_version=7, sentry_client=raven-js/1.0, sentry_key=abc, sentry_secret=def",
			Auth{Key: "abc", Secret: "def", Version: "7", Client: "raven-js/1.0"}},
		// What sentry-go v0.50.0 sends.
		{"Sentry sentry_version=7, sentry_client=sentry.go/0.50.0, sentry_key=0123456789abcdef0123456789abcdef",
			Auth{Key: "0123456789abcdef0123456789abcdef", Version: "7", Client: "sentry.go/0.50.0"}},
		{"sentry_key=abc", Auth{Key: "abc"}},
		{"sentry sentry_key=abc,sentry_version=7", Auth{Key: "abc", Version: "7"}},
		{"SENTRY  Sentry_Key = abc ,  sentry_timestamp=1329096377, junk", Auth{Key: "abc"}},
		{`Sentry sentry_key="abc", sentry_client="a, b"`, Auth{Key: "abc", Client: `"a`}},
		{"Sentry sentry_key=abc=, sentry_version=", Auth{Key: "abc="}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAuthHeader(tt.in)
			if err != nil {
				t.Fatalf("ParseAuthHeader: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAuthHeaderErrors(t *testing.T) {
	for _, in := range []string{"", "Sentry", "Sentry ", "Sentry sentry_version=7", "Sentry sentry_key=", "Bearer abc", "Sentry sentry_key"} {
		_, err := ParseAuthHeader(in)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "no sentry_key") {
			t.Errorf("%q: err = %v, want a ParseError about the missing sentry_key", in, err)
		}
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		in       string
		want     DSN
		envelope string
	}{
		{"https://abc@o1.ingest.example.com/42",
			DSN{Scheme: "https", PublicKey: "abc", Host: "o1.ingest.example.com", ProjectID: "42"},
			"https://o1.ingest.example.com/api/42/envelope/"},
		{"http://abc:secret@localhost:9000/sentry/7",
			DSN{Scheme: "http", PublicKey: "abc", Secret: "secret", Host: "localhost:9000", Path: "/sentry", ProjectID: "7"},
			"http://localhost:9000/sentry/api/7/envelope/"},
		{"HTTPS://abc@[::1]:8443/a/b/3/",
			DSN{Scheme: "https", PublicKey: "abc", Host: "[::1]:8443", Path: "/a/b", ProjectID: "3"},
			"https://[::1]:8443/a/b/api/3/envelope/"},
		{" http://k@h/1 ",
			DSN{Scheme: "http", PublicKey: "k", Host: "h", ProjectID: "1"},
			"http://h/api/1/envelope/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDSN(tt.in)
			if err != nil {
				t.Fatalf("ParseDSN: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if u := got.EnvelopeURL(); u != tt.envelope {
				t.Errorf("EnvelopeURL = %q, want %q", u, tt.envelope)
			}
			again, err := ParseDSN(got.String())
			if err != nil || again != got {
				t.Errorf("String %q parses back as %+v, %v", got.String(), again, err)
			}
		})
	}
	if s := (DSN{Scheme: "https", PublicKey: "abc", Secret: "s", Host: "h:1", Path: "/p", ProjectID: "9"}).String(); s != "https://abc:s@h:1/p/9" {
		t.Errorf("String = %q", s)
	}
}

func TestParseDSNErrors(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{"ftp://abc@h/1", `DSN scheme "ftp" is not http or https`},
		{"abc@h/1", `DSN scheme "" is not http or https`},
		{"https://h/1", "DSN has no public key"},
		{"https://:secret@h/1", "DSN has no public key"},
		{"https://abc@/1", "DSN has no host"},
		{"https://abc@h", "DSN has no project ID"},
		{"https://abc@h/", "DSN has no project ID"},
		{"https://abc@h/sentry/", "DSN project ID \"sentry\" is not a number"},
		{"https://abc@h/proj", `DSN project ID "proj" is not a number`},
		{"https://abc@h/1?x=1", "DSN has a query or fragment"},
		{"https://abc@h/1#f", "DSN has a query or fragment"},
		{"http://abc@h:port/1", "DSN is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDSN(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}
}
