package process

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// redactAll feeds chunks to a redactor and returns what reached the log.
func redactAll(secrets []secretValue, chunks ...string) string {
	var buf bytes.Buffer
	r := newRedactor(&buf, secrets)
	for _, c := range chunks {
		r.Write([]byte(c))
	}
	r.Flush()
	return buf.String()
}

func TestRedactor(t *testing.T) {
	db := secretValue{"DB_PASSWORD", "hunter2-xyz"}
	tests := []struct {
		name    string
		secrets []secretValue
		chunks  []string
		want    string
	}{
		{"whole", []secretValue{db}, []string{"connecting with hunter2-xyz now\n"}, "connecting with [redacted:DB_PASSWORD] now\n"},
		{"twice in a line", []secretValue{db}, []string{"hunter2-xyz=hunter2-xyz\n"}, "[redacted:DB_PASSWORD]=[redacted:DB_PASSWORD]\n"},
		{"split across writes", []secretValue{db}, []string{"pw=hunt", "er2-xyz\n"}, "pw=[redacted:DB_PASSWORD]\n"},
		{"split byte by byte", []secretValue{db}, strings.Split("pw=hunter2-xyz!\n", ""), "pw=[redacted:DB_PASSWORD]!\n"},
		{"prefix that is not the value", []secretValue{db}, []string{"hunter", "2-xy", "Z\n"}, "hunter2-xyZ\n"},
		{"prefix at the very end", []secretValue{db}, []string{"ends with hunter2-x"}, "ends with hunter2-x"},
		{"multi-line value split across lines and writes", []secretValue{{"TLS_KEY", "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n"}},
			[]string{"key: -----BEGIN KEY-----\nAAAA", "BBBBCCCC\n-----END", " KEY-----\n", "done\n"}, "key: [redacted:TLS_KEY]done\n"},
		{"a line of a multi-line value alone", []secretValue{{"TLS_KEY", "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n"}},
			[]string{"line 2 is AAAABBBBCCCC.\n"}, "line 2 is [redacted:TLS_KEY].\n"},
		{"trailing newline trimmed", []secretValue{{"TOKEN", "s3cret-token\n"}}, []string{"token=s3cret-token;\n"}, "token=[redacted:TOKEN];\n"},
		{"shorter than the minimum", []secretValue{{"FLAG", "yes"}, {"PIN", "1234"}}, []string{"yes 1234\n"}, "yes [redacted:PIN]\n"},
		{"longest at the same start wins", []secretValue{{"SHORT", "pass"}, {"LONG", "password"}}, []string{"a password, a pass\n"},
			"a [redacted:LONG], a [redacted:SHORT]\n"},
		{"longest waits for more input", []secretValue{{"SHORT", "pass"}, {"LONG", "password"}}, []string{"pass", "word\n"}, "[redacted:LONG]\n"},
		{"first start wins on overlap", []secretValue{{"A", "abcdef"}, {"B", "cdef12"}}, []string{"xxabcdef12\n"}, "xx[redacted:A]12\n"},
		{"no secrets", nil, []string{"plain\n"}, "plain\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactAll(tt.secrets, tt.chunks...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Ordinary lines are not held back: the log stays live.
func TestRedactorPassesLinesThrough(t *testing.T) {
	var buf bytes.Buffer
	r := newRedactor(&buf, []secretValue{{"K", "hunter2-xyz"}})
	r.Write([]byte("listening on 127.0.0.1:8000\n"))
	if buf.String() != "listening on 127.0.0.1:8000\n" {
		t.Fatalf("a complete line was held back: %q", buf.String())
	}
	r.Write([]byte("token hunt"))
	if buf.String() != "listening on 127.0.0.1:8000\ntoken " {
		t.Fatalf("after a possible start of the value: %q", buf.String())
	}
}

// However the output is cut into writes, the log is the same and holds no
// value.
func TestRedactorAnySplit(t *testing.T) {
	secrets := []secretValue{{"A", "alpha-secret"}, {"B", "beta\nmulti\nline"}, {"C", "alp"}, {"D", "secret-alpha-secret"}}
	words := []string{"alpha-", "secret", "beta", "\n", "multi", "line", " ", "x", "alp", "ha", "-secret-alpha"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var text strings.Builder
		for range rng.IntN(30) {
			text.WriteString(words[rng.IntN(len(words))])
		}
		s := text.String()
		want := redactAll(secrets, s)
		var chunks []string
		for rest := s; rest != ""; {
			n := 1 + rng.IntN(len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		if got := redactAll(secrets, chunks...); got != want {
			t.Fatalf("input %q in chunks %q:\ngot  %q\nwant %q", s, chunks, got, want)
		}
		for _, sv := range secrets {
			if len(sv.Value) >= MinRedactBytes && strings.Contains(want, sv.Value) {
				t.Fatalf("%s survives in %q (from %q)", sv.Name, want, s)
			}
		}
	}
}

// The redactor in front of the rotating log file: a value split across
// writes, and across a rotation point, never reaches a file in clear.
func TestRedactedRotatingLog(t *testing.T) {
	dir := t.TempDir()
	f, err := openRotating(dir+"/current.log", 256, 5)
	if err != nil {
		t.Fatal(err)
	}
	value := "correct-horse-battery-staple"
	r := newRedactor(f, []secretValue{{"PASSPHRASE", value}})
	line := "the passphrase is " + value + " and more text to fill the line\n"
	stream := strings.Repeat(line, 40)
	for i := 0; i < len(stream); i += 7 {
		r.Write([]byte(stream[i:min(i+7, len(stream))]))
	}
	r.Flush()
	f.Close()
	all := ""
	for _, name := range []string{"current.log", "current.log.1", "current.log.2", "current.log.3"} {
		raw, _ := readFileIfExists(dir + "/" + name)
		all += raw
		if strings.Contains(raw, "horse-battery") {
			t.Errorf("%s holds (part of) the value", name)
		}
	}
	if !strings.Contains(all, "the passphrase is [redacted:PASSPHRASE] and more") {
		t.Errorf("logs lack the redacted line:\n%s", all)
	}
}

func readFileIfExists(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return string(raw), err
}
