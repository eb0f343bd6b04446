package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/driver"
)

// An instance lives in Options.Dir/instances/<id>:
//
//	spec.json          instanceConfig, written by the driver before the shim
//	                   starts; owner-only, it holds the environment
//	secrets.json       secret values for the shim, which deletes it on start
//	state.json         shimState, rewritten atomically by the shim
//	app/               the unpacked artifact, the process's working directory
//	logs/current.log   the process's stdout and stderr
//	logs/current.log.N rotated logs, 1 the most recent
//	logs/shim.log      the shim's own log
//
// Stop and Recover remove everything but logs/.
const (
	instancesDir = "instances"
	configName   = "spec.json"
	stateName    = "state.json"
	appName      = "app"
	logsName     = "logs"
	logName      = "current.log"
	shimLogName  = "shim.log"
)

// instanceDir is the directory of one instance.
type instanceDir string

func (d instanceDir) config() string  { return filepath.Join(string(d), configName) }
func (d instanceDir) state() string   { return filepath.Join(string(d), stateName) }
func (d instanceDir) app() string     { return filepath.Join(string(d), appName) }
func (d instanceDir) logs() string    { return filepath.Join(string(d), logsName) }
func (d instanceDir) log() string     { return filepath.Join(string(d), logsName, logName) }
func (d instanceDir) shimLog() string { return filepath.Join(string(d), logsName, shimLogName) }

// instanceConfig is spec.json: everything the shim needs to run the
// instance.
type instanceConfig struct {
	ID           string            `json:"id"`
	App          string            `json:"app"`
	Env          string            `json:"env"`
	Release      int               `json:"release"`
	Artifact     string            `json:"artifact"`
	Command      string            `json:"command"`
	Environ      map[string]string `json:"environ,omitempty"`
	DrainTimeout time.Duration     `json:"drain_timeout"`
	Host         string            `json:"host"`
	Port         int               `json:"port"`
	// ProcessEnv is the complete environment of the process.
	ProcessEnv []string `json:"process_env"`
	// ShimCommand is the argv prefix that runs the shim.
	ShimCommand []string  `json:"shim_command"`
	LogMaxBytes int64     `json:"log_max_bytes"`
	LogKeep     int       `json:"log_keep"`
	Backoff     Backoff   `json:"backoff"`
	CreatedAt   time.Time `json:"created_at"`
	// Secrets names the instance's secrets; their values never come here
	// (see secretsName).
	Secrets []string `json:"secrets,omitempty"`
}

// shimState is state.json, written by the shim on every change.
type shimState struct {
	ShimPID        int    `json:"shim_pid"`
	ShimStartTicks uint64 `json:"shim_start_ticks"`
	// PID is the current process (sh -c), 0 while none runs.
	PID           int    `json:"pid,omitempty"`
	PIDStartTicks uint64 `json:"pid_start_ticks,omitempty"`
	// PGID is the process group of the current or last process.
	PGID     int          `json:"pgid,omitempty"`
	Port     int          `json:"port"`
	State    driver.State `json:"state"`
	Restarts int          `json:"restarts"`
	LastExit string       `json:"last_exit,omitempty"`
	// StartedAt is when the current or last process started.
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func readConfig(dir instanceDir) (instanceConfig, error) {
	var c instanceConfig
	err := readJSON(dir.config(), &c)
	return c, err
}

// readState returns the shim's state, or nil if the shim has not written
// one.
func readState(dir instanceDir) (*shimState, error) {
	var s shimState
	if err := readJSON(dir.state(), &s); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &s, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path with v atomically: readers see the old or the
// new content, never a mix. It does not fsync: the files must survive a
// crash of a process, not of the machine.
func writeJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	err = errors.Join(err, f.Chmod(perm), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeWorkingFiles removes everything of the instance but its logs. The
// config goes first: without it the instance no longer exists.
func removeWorkingFiles(dir instanceDir) error {
	ents, err := os.ReadDir(string(dir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove working files: %w", err)
	}
	errs := []error{ignoreNotExist(os.Remove(dir.config()))}
	for _, e := range ents {
		if e.Name() == logsName || e.Name() == configName {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(string(dir), e.Name())))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove working files: %w", err)
	}
	return nil
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// validID reports whether id can name an instance directory: 1 to 128
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && strings.ContainsRune("._-", r):
		default:
			return false
		}
	}
	return true
}
