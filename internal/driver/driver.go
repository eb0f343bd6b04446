// Package driver defines the contract between the control plane and the
// runtimes that run instances (process, docker, kubernetes). Every driver
// passes the conformance suite in drivertest.
package driver

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned for an instance ID the driver does not know.
var ErrNotFound = errors.New("instance not found")

// State is the lifecycle state of an instance as the driver sees it.
type State string

const (
	StateStarting   State = "starting"   // being set up, not yet running
	StateRunning    State = "running"    // the process is up
	StateRestarting State = "restarting" // crashed; waiting out a backoff
	StateStopped    State = "stopped"    // stopped on request, or gave up
)

// InstanceSpec is everything a driver needs to start one instance.
type InstanceSpec struct {
	// ID is unique across all instances ever started (the control plane
	// builds it from app, env, release and a random suffix). Start is
	// idempotent on ID.
	ID      string
	App     string
	Env     string
	Release int
	// Artifact is the path of the release's artifact, a tar.gz file. The
	// driver unpacks its own copy; it never writes to this file.
	Artifact string
	// Command is run with `sh -c` in the unpacked artifact directory.
	Command string
	// Environ is the instance's environment (config), without PORT.
	Environ map[string]string
	// SecretEnv adds secret environment variables; on a clash with Environ
	// the secret wins. Files are secret files, written under the working
	// directory before the process starts, owner read-only (0400):
	// relative path -> file. A driver keeps these values out of its own
	// records (on disk only the Files hold them, until Stop), and replaces
	// each value of 4 bytes or more in the captured logs with
	// [redacted:NAME].
	SecretEnv map[string]string
	Files     map[string]File
	// DrainTimeout is how long Stop waits after SIGTERM before SIGKILL.
	// Zero means the driver's default.
	DrainTimeout time.Duration
}

// File is a secret file an instance gets.
type File struct {
	// Name is the secret's name, as in [redacted:Name].
	Name string
	Data []byte
}

// Instance is the observed state of one instance.
type Instance struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Env     string `json:"env"`
	Release int    `json:"release"`
	// Addr is host:port where the instance serves HTTP, stable across
	// restarts of the instance.
	Addr  string `json:"addr"`
	State State  `json:"state"`
	// PID is the instance's main process on the host, zero when none is
	// running.
	PID int `json:"pid,omitempty"`
	// Restarts counts the restarts after crashes.
	Restarts int `json:"restarts"`
	// StartedAt is when the current (or last) process started: it moves
	// on every restart.
	StartedAt time.Time `json:"started_at"`
	// LastExit describes the last exit of the process, if any
	// ("exit status 1", "signal: killed").
	LastExit string `json:"last_exit,omitempty"`
}

// Driver runs instances. Implementations are safe for concurrent use.
type Driver interface {
	// Start creates and starts the instance and returns once the process is
	// running (not necessarily healthy; health is the caller's concern).
	// Calling Start again with the ID of an existing instance returns that
	// instance unchanged. A crashed instance is restarted by the driver with
	// exponential backoff until Stop.
	Start(ctx context.Context, spec InstanceSpec) (Instance, error)
	// Stop sends SIGTERM (to the whole process group), waits up to the
	// instance's DrainTimeout, then SIGKILLs, and removes the instance's
	// working files except its logs. It returns once the processes are gone
	// (the port is closed). Stopping an unknown or already-stopped instance
	// returns nil. Afterwards Status reports the instance as StateStopped or
	// ErrNotFound, and List may leave it out.
	Stop(ctx context.Context, id string) error
	// Status returns the instance's current state, or an error wrapping
	// ErrNotFound.
	Status(ctx context.Context, id string) (Instance, error)
	// List returns every instance the driver currently manages.
	List(ctx context.Context) ([]Instance, error)
	// Logs writes the instance's combined stdout and stderr to w: the last
	// tail lines (all when tail <= 0), then, if follow, new lines as they
	// come until ctx ends, when it returns nil. Logs of stopped instances
	// stay readable. An instance never started returns an error wrapping
	// ErrNotFound.
	Logs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error
	// Recover re-adopts instances left running by an earlier control plane
	// process (after a crash or restart) without restarting them, and
	// returns them. Instances found dead are reported with StateStopped and
	// cleaned up as Stop would. The control plane calls it once at boot,
	// before anything else.
	Recover(ctx context.Context) ([]Instance, error)
}
