package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Judge combines the built-in checks with pluggable ones.
type Judge struct {
	Config   Config
	Checkers []Checker
}

// namer is implemented by checkers that can name themselves without being
// called (for the results of checkers not called yet).
type namer interface {
	Name() string
}

// Evaluate runs the built-in checks and every checker, the checkers
// concurrently under ctx, and combines the results as Evaluate does:
// Fail if any check fails, Pass if all pass, else Wait. Until the canary
// has served MinRequests requests the checkers are not called (their
// results wait, like the built-in checks). It returns when every checker
// has returned; a checker must honour ctx.
func (j Judge) Evaluate(ctx context.Context, in Input, now time.Time) Decision {
	checks := builtinChecks(j.Config, in)
	minimum := checks[0]
	results := make([]CheckResult, len(j.Checkers))
	if minimum.Verdict != Pass {
		for i, c := range j.Checkers {
			results[i] = CheckResult{
				Name:    checkerName(c, i),
				Verdict: Wait,
				Detail:  fmt.Sprintf("not called until the canary has served %d requests (has %d)", int(minimum.Threshold), minimum.Canary),
				Stable:  in.Stable.Requests,
				Canary:  in.Canary.Requests,
			}
		}
	} else {
		var wg sync.WaitGroup
		for i, c := range j.Checkers {
			wg.Go(func() {
				results[i] = c.Check(ctx, in)
				if results[i].Name == "" {
					results[i].Name = checkerName(c, i)
				}
			})
		}
		wg.Wait()
	}
	return decide(now, append(checks, results...))
}

// checkerName is c's name, or its position if it has none.
func checkerName(c Checker, i int) string {
	if n, ok := c.(namer); ok {
		return n.Name()
	}
	return fmt.Sprintf("checker-%d", i+1)
}

// MaxConsecutiveErrors is how many evaluations in a row a pluggable check
// may fail to get an answer (non-2xx status, timeout, connection refused,
// unreadable body) before it fails the analysis: the first errors only
// make it wait, so one blip does not abort a rollout, and a check that
// stays broken aborts it instead of stalling it until its timeout.
const MaxConsecutiveErrors = 3

// errorStreak counts a checker's consecutive errors. Safe for concurrent
// use (a checker may be shared by overlapping evaluations).
type errorStreak struct {
	mu sync.Mutex
	n  int
}

// fail records an error and returns the verdict for it: Wait until the
// MaxConsecutiveErrors-th error in a row, then Fail.
func (s *errorStreak) fail(err error) (Verdict, string) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	if n >= MaxConsecutiveErrors {
		return Fail, fmt.Sprintf("%v (%d errors in a row, the limit is %d)", err, n, MaxConsecutiveErrors)
	}
	return Wait, fmt.Sprintf("%v (error %d in a row; fails the analysis at %d)", err, n, MaxConsecutiveErrors)
}

// ok records an answer, ending a streak of errors.
func (s *errorStreak) ok() {
	s.mu.Lock()
	s.n = 0
	s.mu.Unlock()
}
