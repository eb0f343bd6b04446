package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/driver"
	"github.com/slipway-dev/slipway/internal/driver/drivertest"
)

const leakValue = "process-driver-secret-9d2e"

// Secret values appear in no file of the driver's but the secret files
// themselves: not in spec.json, not in the shim's environment or command
// line, not in the logs; the hand-off file is gone once the shim runs.
func TestSecretsStayOutOfDriverFiles(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	spec := testSpec{Artifact: testApp(t), environ: map[string]string{"PLAIN": "x"}}.spec(t)
	spec.SecretEnv = map[string]string{"DB_PASSWORD": leakValue}
	spec.Files = map[string]driver.File{"secret.txt": {Name: "FILE_SECRET", Data: []byte(leakValue + "-file")}}
	inst := drivertest.Start(t, d, spec)
	drivertest.WaitServing(t, inst.Addr)
	drivertest.Get(t, inst.Addr, "/log?msg="+leakValue)
	drivertest.WaitLogs(t, d, spec.ID, "[redacted:DB_PASSWORD]")

	dir := d.instanceDir(spec.ID)
	if _, err := os.Stat(dir.secrets()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the secrets hand-off file is still there: %v", err)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Secrets, ",") != "DB_PASSWORD,FILE_SECRET" {
		t.Errorf("spec.json names secrets %v", cfg.Secrets)
	}
	err = filepath.WalkDir(string(dir), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || path == filepath.Join(dir.app(), "secret.txt") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(raw), leakValue) {
			t.Errorf("%s holds a secret value", strings.TrimPrefix(path, string(dir)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir.app(), "secret.txt"))
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("secret file: %v, %v; want mode 0400", fi, err)
	}
	st, err := readState(dir)
	if err != nil || st == nil {
		t.Fatalf("readState = %v, %v", st, err)
	}
	for _, f := range []string{"environ", "cmdline"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", st.ShimPID, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), leakValue) {
			t.Errorf("the shim's %s holds the secret", f)
		}
	}

	// Stop removes the secret files with the rest of the working files.
	if err := d.Stop(context.Background(), spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir.app(), "secret.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the secret file outlived Stop: %v", err)
	}
}

// Bad secrets are refused before anything starts, and the error does not
// show the value.
func TestSecretsRefused(t *testing.T) {
	t.Parallel()
	d := newDriver(t, testOptions(t))
	tests := []struct {
		name string
		edit func(*driver.InstanceSpec)
		want string
	}{
		{"PORT", func(s *driver.InstanceSpec) { s.SecretEnv = map[string]string{"PORT": leakValue} }, "PORT"},
		{"NUL in a value", func(s *driver.InstanceSpec) { s.SecretEnv = map[string]string{"K": leakValue + "\x00"} }, "NUL"},
		{"file outside", func(s *driver.InstanceSpec) {
			s.Files = map[string]driver.File{"../escape.txt": {Name: "F", Data: []byte(leakValue)}}
		}, "inside the working directory"},
		{"absolute file", func(s *driver.InstanceSpec) {
			s.Files = map[string]driver.File{"/etc/escape.txt": {Name: "F", Data: []byte(leakValue)}}
		}, "relative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec{Artifact: testApp(t)}.spec(t)
			tt.edit(&spec)
			_, err := d.Start(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v, want an error about %s", err, tt.want)
			}
			if strings.Contains(err.Error(), leakValue) {
				t.Errorf("the error shows the value: %v", err)
			}
		})
	}
}

// Secret files stay inside the app directory whatever symlinks the
// artifact holds.
func TestSecretFilesIgnoreSymlinksOut(t *testing.T) {
	app, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(victim, filepath.Join(app, "key.pem"))
	os.Symlink(outside, filepath.Join(app, "conf"))

	if err := writeSecretFiles(app, map[string]driver.File{"key.pem": {Name: "K", Data: []byte(leakValue)}}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(victim); string(raw) != "untouched" {
		t.Fatalf("writing through a symlink changed a file outside: %q", raw)
	}
	if fi, err := os.Lstat(filepath.Join(app, "key.pem")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o400 {
		t.Errorf("key.pem: %v, %v; want a regular file, mode 0400", fi, err)
	}
	err := writeSecretFiles(app, map[string]driver.File{"conf/key.pem": {Name: "K", Data: []byte(leakValue)}})
	if err == nil {
		t.Error("a secret file was written through a symlinked directory")
	}
	if _, serr := os.Stat(filepath.Join(outside, "key.pem")); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("a secret file landed outside the app directory")
	}
	if err != nil && strings.Contains(err.Error(), leakValue) {
		t.Errorf("the error shows the value: %v", err)
	}
}

func TestWithSecrets(t *testing.T) {
	got := withSecrets([]string{"PATH=/bin", "API=config", "PORT=80"}, map[string]string{"API": "secret", "NEW": "n"})
	if strings.Join(got, " ") != "PATH=/bin API=secret PORT=80 NEW=n" {
		t.Errorf("withSecrets = %q", got)
	}
}
