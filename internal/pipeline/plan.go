package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/slipway-dev/slipway/internal/spec"
)

// DefaultStepTimeout bounds a step whose spec sets no timeout.
const DefaultStepTimeout = 10 * time.Minute

// StepRef names one step of a run.
type StepRef struct {
	Stage string `json:"stage"`
	Step  string `json:"step"`
}

func (r StepRef) String() string { return r.Stage + "/" + r.Step }

// Stages returns what a run of app executes: its pipeline's stages, or
// without a pipeline one stage "build" with one step "build" running
// build.command.
func Stages(app *spec.App) []spec.Stage {
	if app.Pipeline != nil {
		return app.Pipeline.Stages
	}
	return []spec.Stage{{Name: "build", Steps: []spec.PipelineStep{{Name: "build", Run: app.Build.Command}}}}
}

// Refs lists the steps of stages in the order they appear.
func Refs(stages []spec.Stage) []StepRef {
	var refs []StepRef
	for _, st := range stages {
		for _, s := range st.Steps {
			refs = append(refs, StepRef{Stage: st.Name, Step: s.Name})
		}
	}
	return refs
}

// checkStages refuses a pipeline the runner cannot execute unambiguously.
// spec.Parse checks the same and more; this guards specs built in Go.
func checkStages(stages []spec.Stage) error {
	if len(stages) == 0 {
		return fmt.Errorf("the pipeline has no stages; add one with at least one step")
	}
	seenStage := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" || seenStage[st.Name] {
			return fmt.Errorf("stage names must be set and unique; %q is not", st.Name)
		}
		seenStage[st.Name] = true
		if len(st.Steps) == 0 {
			return fmt.Errorf("stage %s has no steps", st.Name)
		}
		seenStep := map[string]bool{}
		for _, s := range st.Steps {
			if s.Name == "" || seenStep[s.Name] {
				return fmt.Errorf("step names must be set and unique within stage %s; %q is not", st.Name, s.Name)
			}
			seenStep[s.Name] = true
			if s.Run == "" {
				return fmt.Errorf("step %s/%s has nothing to run", st.Name, s.Name)
			}
			if s.Dir != "" && !filepath.IsLocal(s.Dir) {
				return fmt.Errorf("step %s/%s: dir %q must be a relative path inside the workspace", st.Name, s.Name, s.Dir)
			}
		}
	}
	return nil
}

func stepTimeout(s spec.PipelineStep) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout.D()
	}
	return DefaultStepTimeout
}

var (
	safeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	unsafeRun = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
)

// fileName turns a stage or step name into a file name: the name itself
// when it is a plain one (no dots, so never "setup.log"), else a cleaned
// form with a short hash so that different names never share a file.
func fileName(name string) string {
	if safeName.MatchString(name) && len(name) <= 100 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	clean := unsafeRun.ReplaceAllString(name, "_")
	if len(clean) > 60 {
		clean = clean[:60]
	}
	return clean + "-" + hex.EncodeToString(sum[:4])
}

// LogFile is the log of a step relative to the run's log directory:
// <stage>/<step>.log.
func LogFile(ref StepRef) string {
	return filepath.Join(fileName(ref.Stage), fileName(ref.Step)+".log")
}

// Logs of a run that belong to no step.
const (
	SetupLog  = "setup.log"  // checkout, slipway.yaml, caches restored
	FinishLog = "finish.log" // artifact, caches saved
)
