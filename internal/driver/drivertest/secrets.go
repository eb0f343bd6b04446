package drivertest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// Values the secrets test delivers; the logs must never show them.
const (
	secretEnvValue  = "s3cr3t-env-value-7f1c"
	secretFileValue = "-----BEGIN TEST KEY-----\nc2VjcmV0LWZpbGUtbGluZQ==\n-----END TEST KEY-----\n"
)

// testSecrets checks SecretEnv and Files: the app gets them (a secret wins
// over config of the same name, files are 0400 at their relative path),
// they survive a restart after a crash, and the logs show [redacted:NAME]
// where the app printed a value.
func (s *suite) testSecrets(t *testing.T) {
	d := s.newDriver(t)
	spec := s.spec(t, map[string]string{"API_TOKEN": "config-value-loses", "PLAIN": "plain"})
	spec.SecretEnv = map[string]string{"API_TOKEN": secretEnvValue}
	spec.Files = map[string]driver.File{"conf/tls/key.pem": {Name: "TLS_KEY", Data: []byte(secretFileValue)}}
	inst := Start(t, d, spec)
	WaitServing(t, inst.Addr)

	check := func(when string) {
		t.Helper()
		if _, got := Get(t, inst.Addr, "/env?name=API_TOKEN"); got != secretEnvValue {
			t.Errorf("%s: API_TOKEN is not the secret (len %d)", when, len(got))
		}
		if _, got := Get(t, inst.Addr, "/env?name=PLAIN"); got != "plain" {
			t.Errorf("%s: PLAIN = %q", when, got)
		}
		if _, got := Get(t, inst.Addr, "/file?path=conf/tls/key.pem"); got != "0400\n"+secretFileValue {
			t.Errorf("%s: the secret file is %d bytes, not mode 0400 with the secret", when, len(got))
		}
	}
	check("after start")

	Get(t, inst.Addr, "/log?msg="+url.QueryEscape("token="+secretEnvValue+" end"))
	Get(t, inst.Addr, "/log?msg="+url.QueryEscape("key:"+secretFileValue)+"&stderr=1")
	Get(t, inst.Addr, "/log?msg=marker-after-secrets")
	logs := WaitLogs(t, d, spec.ID, "marker-after-secrets")
	if strings.Contains(logs, secretEnvValue) || strings.Contains(logs, "c2VjcmV0LWZpbGUtbGluZQ") {
		t.Errorf("the logs show a secret value:\n%s", logs)
	}
	for _, want := range []string{"token=[redacted:API_TOKEN] end", "key:[redacted:TLS_KEY]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	if _, body, err := get(inst.Addr, "/crash"); err != nil || body != "bye" {
		t.Fatalf("GET /crash = %q, %v", body, err)
	}
	WaitFor(t, 20*time.Second, "restart after a crash", func() bool {
		st, err := d.Status(context.Background(), spec.ID)
		return err == nil && st.Restarts >= 1 && st.State == driver.StateRunning
	})
	WaitServing(t, inst.Addr)
	check("after a restart")
	Get(t, inst.Addr, "/log?msg="+url.QueryEscape(fmt.Sprintf("again %s", secretEnvValue)))
	if logs := WaitLogs(t, d, spec.ID, "again "); strings.Contains(logs, secretEnvValue) {
		t.Errorf("after a restart the logs show the secret:\n%s", logs)
	}
}
