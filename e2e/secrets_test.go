package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/release"
	"github.com/slipway-dev/slipway/internal/secret"
)

// secretsEnv is an env that records everything the CLI printed, so the
// test can check no secret value was ever shown.
type secretsEnv struct {
	*env
	printed []string
}

// runIn runs the CLI with stdin and records its output.
func (s *secretsEnv) runIn(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command(binary, append(args, "--server", "http://"+s.apiAddr, "--data", s.data)...)
	cmd.Dir = s.work
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	s.printed = append(s.printed, stdout.String()+stderr.String())
	return stdout.String(), stderr.String(), code
}

func (s *secretsEnv) okIn(stdin string, args ...string) string {
	s.t.Helper()
	out, errOut, code := s.runIn(stdin, args...)
	if code != 0 {
		s.t.Fatalf("slipway %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// debug asks the app, through the proxy, what it knows of a secret.
func (s *secretsEnv) debug(query string) string {
	s.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.proxyAddr+"/debug/secret?"+query, nil)
	req.Host = stagingHost
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}

func (s *secretsEnv) wantEnv(name, value string) {
	s.t.Helper()
	want := fmt.Sprintf("env %s: unset", name)
	if value != "" {
		want = fmt.Sprintf("env %s: set sha256:%x", name, sha256.Sum256([]byte(value)))
	}
	if got := s.debug("name=" + name); got != want {
		s.t.Fatalf("the app says %q, want %q", got, want)
	}
}

func (s *secretsEnv) wantFile(path, value string) {
	s.t.Helper()
	want := fmt.Sprintf("file %s: missing", path)
	if value != "" {
		want = fmt.Sprintf("file %s: mode 0400 sha256:%x", path, sha256.Sum256([]byte(value)))
	}
	if got := s.debug("file=" + path); got != want {
		s.t.Fatalf("the app says %q, want %q", got, want)
	}
}

func randomValue(t *testing.T, prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// Secrets end to end with the real binary: set before the first deploy,
// a change is a new release, the app gets env vars and a file, rollback
// restores the old values, rotate-key keeps everything working across a
// restart, diff compares environments, and no value shows up in any CLI
// output, API answer, audit entry, server log, instance log or file of the
// data dir (but the secret files the app asked for).
func TestSecrets(t *testing.T) {
	s := &secretsEnv{env: newEnv(t)}
	db1, db2, db3 := randomValue(t, "db-one-"), randomValue(t, "db-two-"), randomValue(t, "db-three-")
	apiKey := randomValue(t, "api-")
	tlsLine := base64.StdEncoding.EncodeToString([]byte(randomValue(t, "tls-key-material-")))
	tls := "-----BEGIN TEST KEY-----\n" + tlsLine + "\n-----END TEST KEY-----"
	values := map[string]string{"db1": db1, "db2": db2, "db3": db3, "api key": apiKey, "tls key": tls, "tls key line": tlsLine}

	// Staging prints DB_PASSWORD at startup (to test redaction for real)
	// and gets TLS_KEY as a file.
	yaml, err := os.ReadFile(filepath.Join(s.work, "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	staged := strings.Replace(string(yaml), "      GREETING: hello from staging\n",
		"      GREETING: hello from staging\n      HELLO_PRINT_SECRET: DB_PASSWORD\n    secret_files:\n      TLS_KEY: secrets/tls.key\n", 1)
	if staged == string(yaml) {
		t.Fatal("could not edit the example's slipway.yaml")
	}
	if err := os.WriteFile(filepath.Join(s.work, "slipway.yaml"), []byte(staged), 0o644); err != nil {
		t.Fatal(err)
	}

	// Before the first deploy (the app is applied, nothing is live) a
	// secret is stored; the deploy pins it.
	s.okIn("", "apply", "-f", "slipway.yaml")
	out := s.okIn(db1+"\n", "secret", "set", "hello", "DB_PASSWORD=-", "--env", "staging")
	if !strings.Contains(out, "set DB_PASSWORD (version 1)") || !strings.Contains(out, "next deploy") {
		t.Fatalf("secret set before a deploy: %q", out)
	}
	s.printed = append(s.printed, s.deploy("staging", "v1"))
	s.wantEnv("DB_PASSWORD", db1)
	if rels := releases(t, s.env, "hello", "staging"); rels[0].Secrets["DB_PASSWORD"] != 1 {
		t.Fatalf("release 1 pins %v", rels[0].Secrets)
	}

	// A change is a new release of the same artifact.
	out = s.okIn(db2+"\n", "secret", "set", "hello", "DB_PASSWORD=-", "--env", "staging")
	if !strings.Contains(out, "set DB_PASSWORD (version 2)") || !strings.Contains(out, "release 2 is live") {
		t.Fatalf("secret set: %q", out)
	}
	s.wantEnv("DB_PASSWORD", db2)
	out = s.okIn(tls+"\n", "secret", "set", "hello", "TLS_KEY=-", "API_KEY="+apiKey, "--env", "staging")
	if !strings.Contains(out, "release 3 is live") {
		t.Fatalf("secret set: %q", out)
	}
	s.wantFile("secrets/tls.key", tls)
	s.wantEnv("TLS_KEY", "")
	s.wantEnv("API_KEY", apiKey)
	rels := releases(t, s.env, "hello", "staging")
	if rels[0].Artifact != rels[2].Artifact || rels[0].Source != "secret set API_KEY, set TLS_KEY" {
		t.Errorf("release 3: artifact %s (release 1: %s), source %q", rels[0].Artifact, rels[2].Artifact, rels[0].Source)
	}
	var list []api.SecretEntry
	if err := json.Unmarshal([]byte(s.okIn("", "secret", "list", "hello", "--env", "staging", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, e := range list {
		rows = append(rows, fmt.Sprintf("%s v%d live v%d %q by %s", e.Name, e.Version, e.LiveVersion, e.File, e.CreatedBy))
	}
	if want := []string{`API_KEY v1 live v1 "" by admin`, `DB_PASSWORD v2 live v2 "" by admin`, `TLS_KEY v1 live v1 "secrets/tls.key" by admin`}; !slices.Equal(rows, want) {
		t.Errorf("secret list = %q\nwant %q", rows, want)
	}
	s.okIn("", "secret", "list", "hello", "--env", "staging")

	// The app printed DB_PASSWORD in two writes: the logs show it redacted.
	logs := s.okIn("", "logs", "hello", "--env", "staging")
	if !strings.Contains(logs, "printing secret DB_PASSWORD on purpose: [redacted:DB_PASSWORD] (end)") {
		t.Errorf("logs lack the redacted startup line:\n%s", logs)
	}

	// Rollback restores exactly the secrets release 1 pinned.
	s.okIn("", "rollback", "hello", "--env", "staging", "--to", "1")
	s.wantEnv("DB_PASSWORD", db1)
	s.wantEnv("API_KEY", "")
	s.wantFile("secrets/tls.key", "")
	s.okIn("", "rollback", "hello", "--env", "staging")
	s.wantEnv("DB_PASSWORD", db2)
	s.wantFile("secrets/tls.key", tls)

	// diff: production runs the same artifact without staging's secrets.
	s.okIn("", "promote", "hello", "--from", "staging", "--to", "production")
	var p release.Parity
	if err := json.Unmarshal([]byte(s.okIn("", "diff", "staging", "production", "--app", "hello", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.ArtifactDiffers || !slices.Equal(p.SecretsOnlyInA, []string{"API_KEY", "DB_PASSWORD", "TLS_KEY"}) || len(p.SecretsOnlyInB) != 0 ||
		!slices.Equal(p.ConfigOnlyInA, []string{"HELLO_PRINT_SECRET"}) || len(p.ConfigDiffers) != 1 || p.ConfigDiffers[0].Key != "GREETING" {
		t.Errorf("diff = %+v", p)
	}
	var settings []string
	for _, d := range p.Settings {
		settings = append(settings, d.Key+": "+d.A+" -> "+d.B)
	}
	if !slices.Contains(settings, "replicas: 1 -> 2") || !slices.Contains(settings, `secret_files.TLS_KEY: "secrets/tls.key" -> `) {
		t.Errorf("settings differences = %q", settings)
	}
	text := s.okIn("", "diff", "staging", "production")
	for _, want := range []string{"hello: staging (release 3) vs production (release 1)", "only in staging: API_KEY, DB_PASSWORD, TLS_KEY",
		`GREETING: staging: "hello from staging", production: "hello from production"`, "replicas: staging: 1, production: 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("diff text lacks %q:\n%s", want, text)
		}
	}
	if _, errOut, code := s.runIn("", "diff", "staging", "production", "--exit-code"); code != 1 || !strings.Contains(errOut, "differ") {
		t.Errorf("diff --exit-code: exit %d %q", code, errOut)
	}

	// Rotation re-encrypts everything; old versions still roll back, also
	// after a restart with the new key file.
	keyPath := filepath.Join(s.data, "secrets.key")
	oldKey, err := secret.ReadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var rot api.KeyRotation
	if err := json.Unmarshal([]byte(s.okIn("", "secret", "rotate-key", "--json")), &rot); err != nil {
		t.Fatal(err)
	}
	newKey, err := secret.ReadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Reencrypted != 4 || rot.Recipient != newKey.Recipient() || newKey.Recipient() == oldKey.Recipient() {
		t.Fatalf("rotate-key = %+v; key file now %s, was %s", rot, newKey.Recipient(), oldKey.Recipient())
	}
	if _, err := os.Stat(keyPath + ".old"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old key file is still there: %v", err)
	}
	s.okIn("", "rollback", "hello", "--env", "staging", "--to", "1")
	s.wantEnv("DB_PASSWORD", db1)
	s.stopServer(syscall.SIGTERM)
	s.startServer()
	s.okIn(db3+"\n", "secret", "set", "hello", "DB_PASSWORD=-", "--env", "staging")
	s.wantEnv("DB_PASSWORD", db3)
	s.wantFile("secrets/tls.key", tls)
	s.okIn("", "secret", "unset", "hello", "API_KEY", "--env", "staging")
	s.wantEnv("API_KEY", "")
	if _, errOut, code := s.runIn("", "secret", "unset", "hello", "NOPE", "--env", "staging"); code != 1 || !strings.Contains(errOut, "not a secret") {
		t.Errorf("unset of a missing secret: exit %d %q", code, errOut)
	}
	if _, errOut, code := s.runIn("", "secret", "set", "hello", "PORT=1", "--env", "staging"); code != 2 || !strings.Contains(errOut, "PORT") {
		t.Errorf("secret PORT: exit %d %q", code, errOut)
	}

	// Leak checks: every API answer the CLI could fetch, the audit log,
	// the server's log, and every file in the data dir but the key and
	// the secret files the app asked for.
	answers := s.fetchAll([]string{"/v1/apps", "/v1/events?limit=10000", "/v1/audit?limit=10000", "/v1/apps/hello/diff?a=staging&b=production"},
		"/status", "/releases", "/config", "/secrets", "/rollouts", "/rollout")
	s.stopServer(syscall.SIGTERM)
	checkNoValues(t, values, "CLI output", strings.Join(s.printed, "\n"))
	checkNoValues(t, values, "API answers", answers)
	checkNoValues(t, values, "server log", s.serverLog.String())
	redacted := 0
	err = filepath.WalkDir(s.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if path == keyPath || strings.HasSuffix(path, filepath.Join("app", "secrets", "tls.key")) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		checkNoValues(t, values, strings.TrimPrefix(path, s.data), string(raw))
		if strings.Contains(path, "logs") {
			redacted += strings.Count(string(raw), "[redacted:DB_PASSWORD]")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if redacted == 0 {
		t.Error("no instance log shows [redacted:DB_PASSWORD], though the app printed it")
	}
	for _, k := range []*secret.Key{oldKey, newKey} {
		key := strings.TrimSpace(string(k.Marshal()[bytes.LastIndex(k.Marshal()[:len(k.Marshal())-1], []byte("\n"))+1:]))
		checkNoValues(t, map[string]string{"a secrets key": key}, "CLI output, API answers and server log", strings.Join(s.printed, "\n")+answers+s.serverLog.String())
	}
}

// fetchAll GETs each path, and each env suffix for staging and production,
// with the admin token, and returns the answers.
func (s *secretsEnv) fetchAll(paths []string, envSuffixes ...string) string {
	s.t.Helper()
	token, err := os.ReadFile(filepath.Join(s.data, "token"))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, env := range []string{"staging", "production"} {
		for _, suf := range envSuffixes {
			paths = append(paths, "/v1/apps/hello/envs/"+env+suf)
		}
	}
	var all strings.Builder
	for _, p := range paths {
		req, _ := http.NewRequest("GET", "http://"+s.apiAddr+p, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := httpClient.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			s.t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		all.Write(body)
	}
	return all.String()
}

func checkNoValues(t *testing.T, values map[string]string, where, text string) {
	t.Helper()
	for what, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s shows the %s", where, what)
		}
	}
}
