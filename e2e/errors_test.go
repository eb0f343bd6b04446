package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

// errorIssues lists staging's issues through the CLI.
func (e *env) errorIssues(args ...string) []store.ErrorIssue {
	e.t.Helper()
	var out []store.ErrorIssue
	raw := e.ok(append([]string{"errors", "list", "hello", "--env", "staging", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		e.t.Fatalf("errors list --json: %v\n%s", err, raw)
	}
	return out
}

// waitIssue polls until an issue whose title contains want shows up.
func (e *env) waitIssue(limit time.Duration, want string, args ...string) store.ErrorIssue {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, is := range e.errorIssues(args...) {
			if strings.Contains(is.Title, want) {
				return is
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no issue %q after %s; issues: %+v", want, limit, e.errorIssues(args...))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The example app reports errors through the real sentry-go SDK with
// nothing configured but what Slipway gives its instances. Stable keeps
// reporting a known error; a canary that brings a new error type (while
// answering every request 200, so only the error signal can catch it)
// is aborted, naming the new issue, with all traffic back on stable and
// no request failed. Issues are tied to releases, listed and shown with
// their stack traces, and a resolved issue that comes back is regressed.
func TestCanaryNewErrorIssueAborted(t *testing.T) {
	e := newEnv(t)
	stable := "HELLO_ERROR_RATE: \"0.1\"\nHELLO_ERROR_KIND: inventory\n"
	e.writeSpec(2, stable, canarySteps)
	e.deploy("staging", "v1")
	tr := e.startTraffic(stagingHost, 8)

	known := e.waitIssue(15*time.Second, "inventoryError")
	if known.FirstRelease != "hello@1" || known.Env != "staging" || known.Status != store.IssueUnresolved {
		t.Fatalf("stable's issue: %+v", known)
	}

	e.setVersion("v2", true)
	e.writeSpec(2, "HELLO_ERROR_RATE: \"0.1\"\nHELLO_ERROR_KIND: checkout\n", canarySteps)
	_, errOut, code := e.run("deploy", "-f", "slipway.yaml", "--env", "staging")
	if code != 1 || !strings.Contains(errOut, "aborted") || !strings.Contains(errOut, "new error issue") || !strings.Contains(errOut, "checkoutError") {
		t.Fatalf("canary with a new error: exit %d, %q; want aborted by the new-issue check naming checkoutError", code, errOut)
	}
	t.Logf("deploy of the canary: %s", strings.TrimSpace(errOut))
	st := e.rolloutStatus()
	var abort *store.Decision
	for i, d := range st.Decisions {
		if d.Action == "abort" {
			abort = &st.Decisions[i]
		}
	}
	if abort == nil || abort.Actor != "analysis" || !strings.Contains(abort.Reason, "hello@2") {
		t.Fatalf("abort decision: %+v", abort)
	}
	// The error-rate checks passed: only the error tracker saw a problem.
	if strings.Contains(abort.Reason, "error rate") {
		t.Fatalf("aborted by the error rate, not the new issue: %s", abort.Reason)
	}
	e.mustServe(stagingHost, "v1")

	fresh := e.waitIssue(5*time.Second, "checkoutError", "--release", "2")
	if fresh.FirstRelease != "hello@2" || fresh.ReleaseEvents < 1 {
		t.Fatalf("canary's issue: %+v", fresh)
	}
	for _, is := range e.errorIssues("--release", "2") {
		if is.ID == known.ID { // the canary never raises stable's error
			t.Fatalf("release 2 lists stable's issue %d: %+v", known.ID, is)
		}
	}
	show := e.ok("errors", "show", strconv.FormatInt(fresh.ID, 10))
	for _, want := range []string{"checkoutError", "hello@2", "main.checkout", "card declined"} {
		if !strings.Contains(show, want) {
			t.Fatalf("errors show lacks %q:\n%s", want, show)
		}
	}
	var d api.IssueDetail
	if err := json.Unmarshal([]byte(e.ok("errors", "show", strconv.FormatInt(fresh.ID, 10), "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 1 || d.Events[0].Environment != "staging" || !strings.Contains(string(d.Events[0].Event), `"stacktrace"`) {
		t.Fatalf("issue detail: %+v", d)
	}

	// Resolve stable's issue: it keeps happening in hello@1, so it comes
	// back as regressed, and the event log says so.
	e.ok("errors", "resolve", strconv.FormatInt(known.ID, 10))
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got api.IssueDetail
		if err := json.Unmarshal([]byte(e.ok("errors", "show", strconv.FormatInt(known.ID, 10), "--json", "-n", "0")), &got); err != nil {
			t.Fatal(err)
		}
		if got.Issue.Regressed && got.Issue.Status == store.IssueUnresolved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resolved issue never regressed: %+v", got.Issue)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tr.stop()
	audit := e.ok("audit", "list", "--app", "hello")
	for _, want := range []string{"error.new_issue", "error.resolved", "error.regression"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	// Bad input gets a clear error.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"errors", "list", "hello", "--env", "nosuch"}, 1, `environment "nosuch" of app hello: not found`},
		{[]string{"errors", "health", "hello", "--env", "nosuch"}, 1, `environment "nosuch" of app hello: not found`},
		{[]string{"errors", "list", "nosuch", "--env", "staging"}, 1, `app "nosuch": not found`},
		{[]string{"errors", "list", "hello", "--env", "staging", "--release", "0"}, 2, "--release takes a release number"},
		{[]string{"errors", "list", "hello", "--env", "staging", "--status", "open"}, 1, `status "open" is not one of`},
		{[]string{"errors", "show", "abc"}, 2, "is not an issue number"},
		{[]string{"errors", "resolve", "99999"}, 1, "issue 99999: not found"},
	} {
		if _, errOut, code := e.run(c.args...); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("slipway %s: exit %d %q; want exit %d saying %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}

	// A viewer reads issues but may not change them; the refusal changes nothing.
	vic := e.addUser("vic", "viewer")
	if out := e.okAs(vic, "errors", "list", "hello", "--env", "staging"); !strings.Contains(out, "checkoutError") {
		t.Errorf("viewer's list lacks the canary's issue:\n%s", out)
	}
	e.refused(vic, []string{"deployer"}, "errors", "ignore", strconv.FormatInt(fresh.ID, 10))
	if is := e.waitIssue(time.Second, "checkoutError", "--release", "2"); is.Status != store.IssueUnresolved {
		t.Errorf("a refused ignore changed the issue: %+v", is)
	}
	if dsn := strings.TrimSpace(e.ok("errors", "dsn", "hello", "--env", "staging")); !strings.HasPrefix(dsn, "http://") || !strings.Contains(dsn, "@"+e.apiAddr+"/") {
		t.Errorf("dsn %q does not point at the server %s", dsn, e.apiAddr)
	}
}
