package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/store"
)

const previewHost = "feature-x.hello.preview.localhost"

// triggerSpec is examples/hello's slipway.yaml with a pipeline and a
// source watching repo every poll: main deploys to staging, v* tags are
// candidates for production (which requires staging), feature/**
// branches get previews.
func triggerSpec(t *testing.T, repo, poll string) string {
	t.Helper()
	source := fmt.Sprintf(`source:
  repo: %s
  poll: %s
  rules:
    - branch: main
      deploy: staging
    - tag: v*
      candidate: production
    - branch: feature/**
      preview: true
  preview:
    host: "{branch}.hello.preview.localhost"
environments:
`, repo, poll)
	// -buildvcs=false: since Go 1.24 a build stamps the module version
	// from a tag on the commit, so without it the tag's build of main's
	// commit would differ from main's and never satisfy requires_from.
	sp := strings.Replace(pipelineSpec(t, ""), "go build -trimpath", "go build -trimpath -buildvcs=false", -1)
	sp = strings.Replace(sp, "environments:\n", source, 1)
	sp = strings.Replace(sp, "    host: hello.localhost\n", "    host: hello.localhost\n    requires_from: staging\n", 1)
	if !strings.Contains(sp, "requires_from: staging") || !strings.Contains(sp, "rules:") || !strings.Contains(sp, "-buildvcs=false") {
		t.Fatalf("could not add source and requires_from to the spec:\n%s", sp)
	}
	return sp
}

func releaseGo(version string) string {
	return fmt.Sprintf("package main\n\nconst version = %q\n\nconst healthy = true\n", version)
}

// applySource applies the spec and waits for the first poll, which
// records the refs without starting a run.
func (e *env) applySource(sp string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.work, "slipway.yaml"), []byte(sp), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.ok("apply", "-f", "slipway.yaml")
	e.eventually("the first poll", 20*time.Second, func() bool { return e.sourceStatus().Baseline })
	if runs := e.runsOf(); len(runs) != 0 {
		e.t.Fatalf("the first poll started runs: %+v", runs)
	}
}

func (e *env) sourceStatus() api.SourceStatus {
	e.t.Helper()
	var st api.SourceStatus
	if err := json.Unmarshal([]byte(e.ok("source", "status", "hello", "--json")), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) runsOf() []store.Run {
	e.t.Helper()
	var runs []store.Run
	if err := json.Unmarshal([]byte(e.ok("runs", "list", "hello", "--json")), &runs); err != nil {
		e.t.Fatal(err)
	}
	return runs
}

func (e *env) eventually(what string, timeout time.Duration, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// waitRun waits for a run matching pick to exist, then for its trigger
// result to contain want, and returns it.
func (e *env) waitRun(what string, pick func(store.Run) bool, want string) store.Run {
	e.t.Helper()
	var id int64
	e.eventually("a run of "+what, 30*time.Second, func() bool {
		for _, r := range e.runsOf() {
			if pick(r) {
				id = r.ID
				return true
			}
		}
		return false
	})
	var run store.Run
	e.eventually(fmt.Sprintf("run %d of %s to have %q", id, what, want), 120*time.Second, func() bool {
		run = e.runJSON(id)
		return strings.Contains(run.TriggerResult, want) || (run.Done() && run.State != store.RunSucceeded)
	})
	if !strings.Contains(run.TriggerResult, want) {
		e.t.Fatalf("run %d of %s: %s, result %q, want %q\n%s", id, what, run.State, run.TriggerResult, want, e.ok("runs", "logs", strconv.FormatInt(id, 10)))
	}
	return run
}

// A push to main deploys to staging; a tag on that commit becomes a
// production candidate that promotes (its artifact went live in staging:
// the build is reproducible); a tag on a commit staging never ran is
// refused; a feature branch gets a preview at its own host, torn down
// when the branch is deleted. All found by polling every 300ms.
func TestTriggersPolling(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	sp := triggerSpec(t, repo.dir, "300ms")
	repo.commit("hello with source rules", map[string]string{"slipway.yaml": sp, "release.go": releaseGo("v1")})
	e.applySource(sp)

	// (a) A new commit on main: built, tested and deployed to staging.
	c2 := repo.commit("v2", map[string]string{"release.go": releaseGo("v2")})
	mainRun := e.waitRun("main", func(r store.Run) bool { return r.Commit == c2 || r.Revision == c2 }, "deployed to staging")
	if mainRun.Trigger != store.TriggerPoll || mainRun.Branch != "main" || stepStates(mainRun) != "test/vet:succeeded build/compile:succeeded" {
		t.Fatalf("main run = %+v (%s)", mainRun, stepStates(mainRun))
	}
	e.mustServe(stagingHost, "v2")
	if show := e.ok("runs", "show", strconv.FormatInt(mainRun.ID, 10)); !strings.Contains(show, "result:    deployed to staging as release 1") {
		t.Fatalf("runs show:\n%s", show)
	}

	// (b) An annotated tag on the same commit: a candidate for production
	// with the same artifact, which promotes through requires_from.
	repo.git("tag", "-a", "v1.0.0", "-m", "release 1.0.0")
	tagRun := e.waitRun("tag v1.0.0", func(r store.Run) bool { return r.Tag == "v1.0.0" }, "candidate v1.0.0 for production")
	if tagRun.Commit != c2 || tagRun.Artifact != mainRun.Artifact {
		t.Fatalf("tag run at %s built %s; want commit %s and main's artifact %s (a reproducible build)", tagRun.Commit, tagRun.Artifact, c2, mainRun.Artifact)
	}
	if list := e.ok("candidates", "hello"); !strings.Contains(list, "v1.0.0") || !strings.Contains(list, "production") {
		t.Fatalf("candidates:\n%s", list)
	}
	if _, err := e.get("hello.localhost"); err == nil {
		t.Fatal("production serves before anyone promoted the candidate")
	}
	e.ok("promote", "hello", "--candidate", "v1.0.0", "--to", "production")
	e.mustServe("hello.localhost", "v2")

	// (c) A feature branch gets a preview environment at its own host.
	// Commit on a detached HEAD first, then name the branch: the poller
	// must never see feature/x at main's commit (it would build a v2
	// preview that could land after the feature build).
	repo.git("checkout", "-q", "--detach")
	cx := repo.commit("feature x", map[string]string{"release.go": releaseGo("feature-x")})
	repo.git("checkout", "-q", "-b", "feature/x")
	e.waitRun("feature/x", func(r store.Run) bool { return r.Branch == "feature/x" && (r.Commit == cx || r.Revision == cx) }, "deployed to preview-feature-x")
	e.mustServe(previewHost, "feature-x")
	e.mustServe(stagingHost, "v2")
	if st := e.status("hello", "preview-feature-x"); st.Host != previewHost || st.Live == nil {
		t.Fatalf("preview status: %+v", st)
	}
	// Applying slipway.yaml again keeps the preview (it is not in the file).
	e.ok("apply", "-f", "slipway.yaml")

	// (b, refused) A tag on the feature commit, which staging never ran:
	// its candidate may not go to production.
	repo.git("tag", "v1.1.0")
	e.waitRun("tag v1.1.0", func(r store.Run) bool { return r.Tag == "v1.1.0" }, "candidate v1.1.0 for production")
	out, errOut, code := e.run("promote", "hello", "--candidate", "v1.1.0", "--to", "production")
	if code != 1 || !strings.Contains(errOut, "requires_from") {
		t.Fatalf("promote of a candidate staging never ran: exit %d\n%s%s", code, out, errOut)
	}
	e.mustServe("hello.localhost", "v2")

	// Deleting the branch tears the preview down.
	repo.git("checkout", "-q", "main")
	repo.git("branch", "-D", "feature/x")
	e.eventually("the preview host to answer 404", 30*time.Second, func() bool {
		_, err := e.get(previewHost)
		return err != nil && strings.Contains(err.Error(), "status 404")
	})
	if all := e.ok("status"); strings.Contains(all, "preview-feature-x") {
		t.Fatalf("status still lists the preview:\n%s", all)
	}
	if _, errOut, code := e.run("status", "hello", "--env", "preview-feature-x"); code == 0 {
		t.Fatal("status of the torn down preview succeeded")
	} else if !strings.Contains(errOut, "not found") {
		t.Fatalf("status of the torn down preview: %s", errOut)
	}
	e.mustServe(stagingHost, "v2")
	if audit := e.ok("audit", "list", "--app", "hello", "--limit", "200"); !strings.Contains(audit, "preview.teardown") || !strings.Contains(audit, "candidate.add") {
		t.Fatalf("audit log lacks the teardown or the candidate:\n%s", audit)
	}
}

func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// hook posts a webhook delivery and returns the status and body.
func (e *env) hook(app string, body []byte, headers map[string]string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("POST", "http://"+e.apiAddr+"/v1/hooks/"+app, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Webhooks: a signed GitHub push starts a run at once (the poll interval
// is an hour); unsigned, wrongly signed and old-secret deliveries get 401
// and start nothing; Gitea's signature works; a ping answers pong.
func TestTriggersWebhooks(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	sp := triggerSpec(t, repo.dir, "1h")
	c1 := repo.commit("hello with source rules", map[string]string{"slipway.yaml": sp, "release.go": releaseGo("v1")})
	e.applySource(sp)

	var info struct{ URL, Secret string }
	if err := json.Unmarshal([]byte(e.ok("source", "webhook", "hello", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.URL != "http://"+e.apiAddr+"/v1/hooks/hello" || len(info.Secret) != 64 {
		t.Fatalf("webhook = %+v", info)
	}

	c2 := repo.commit("v2", map[string]string{"release.go": releaseGo("v2")})
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","before":%q,"after":%q,"repository":{"full_name":"acme/hello"}}`, c1, c2))
	github := func(secret string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=" + sign(body, secret)}
	}
	for name, h := range map[string]map[string]string{
		"unsigned":      {"X-GitHub-Event": "push"},
		"wrong secret":  github("not the secret"),
		"gitea garbage": {"X-Gitea-Event": "push", "X-Gitea-Signature": "zz"},
	} {
		code, resp := e.hook("hello", body, h)
		if code != 401 || !strings.Contains(resp, "signature") || !strings.Contains(resp, `"unauthorized"`) {
			t.Fatalf("%s delivery: %d %s", name, code, resp)
		}
	}
	// An unknown app answers like a bad signature: nothing tells it apart.
	if code, resp := e.hook("nosuch", body, github(info.Secret)); code != 401 {
		t.Fatalf("delivery to an unknown app: %d %s", code, resp)
	}
	if runs := e.runsOf(); len(runs) != 0 {
		t.Fatalf("refused deliveries started runs: %+v", runs)
	}

	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	if code, resp := e.hook("hello", ping, map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(ping, info.Secret)}); code != 200 || !strings.Contains(resp, `"pong"`) {
		t.Fatalf("ping: %d %s", code, resp)
	}

	code, resp := e.hook("hello", body, github(info.Secret))
	if code != 202 {
		t.Fatalf("signed push: %d %s", code, resp)
	}
	var res api.WebhookResult
	if err := json.Unmarshal([]byte(resp), &res); err != nil || res.Status != "accepted" || res.Event == nil || res.Event.Run == 0 {
		t.Fatalf("signed push answered %s (%v)", resp, err)
	}
	run := e.runJSON(res.Event.Run) // started at once, not at the next poll
	if run.Trigger != store.TriggerWebhook || run.Revision != c2 || run.Branch != "main" {
		t.Fatalf("webhook run = %+v", run)
	}
	// The same delivery again starts nothing: the ref is recorded as seen.
	if code, resp := e.hook("hello", body, github(info.Secret)); code != 202 || !strings.Contains(resp, "already seen") {
		t.Fatalf("repeated push: %d %s", code, resp)
	}
	e.waitRun("the webhook push", func(r store.Run) bool { return r.ID == run.ID }, "deployed to staging")
	e.mustServe(stagingHost, "v2")

	// An older delivery arriving now (main's creation at c1, redelivered
	// or replayed) does not take staging back to v1: it does not start
	// from where main is, so the repository is polled instead, and it
	// says main is at c2 already.
	polled := e.sourceStatus().PolledAt
	stale := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":%q}`, c1))
	code, resp = e.hook("hello", stale, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-0", "X-Hub-Signature-256": "sha256=" + sign(stale, info.Secret)})
	if code != 202 || !strings.Contains(resp, "out of order") || strings.Contains(resp, `"run"`) {
		t.Fatalf("stale push: %d %s", code, resp)
	}
	e.eventually("the poll the stale push asked for", 20*time.Second, func() bool {
		st := e.sourceStatus()
		return st.PolledAt != nil && (polled == nil || st.PolledAt.After(*polled))
	})
	if runs := e.runsOf(); len(runs) != 1 {
		t.Fatalf("the stale push started runs: %+v", runs)
	}
	if st := e.sourceStatus(); st.Refs["refs/heads/main"] != c2 {
		t.Fatalf("main is seen at %s after the stale push, want %s", st.Refs["refs/heads/main"], c2)
	}
	e.mustServe(stagingHost, "v2")

	// Gitea's signature header works too.
	repo.git("checkout", "-q", "-b", "feature/x")
	c3 := repo.commit("feature x", map[string]string{"release.go": releaseGo("feature-x")})
	gitea := []byte(fmt.Sprintf(`{"ref":"refs/heads/feature/x","before":"0000000000000000000000000000000000000000","after":%q}`, c3))
	code, resp = e.hook("hello", gitea, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Delivery": "g-1", "X-Gitea-Signature": sign(gitea, info.Secret)})
	if code != 202 || !strings.Contains(resp, "preview-feature-x") {
		t.Fatalf("gitea push: %d %s", code, resp)
	}
	e.waitRun("the gitea push", func(r store.Run) bool { return r.Branch == "feature/x" }, "deployed to preview-feature-x")
	e.mustServe(previewHost, "feature-x")

	// A deletion by webhook tears the preview down.
	deleted := []byte(`{"ref":"refs/heads/feature/x","before":"` + c3 + `","after":"0000000000000000000000000000000000000000","deleted":true}`)
	if code, resp := e.hook("hello", deleted, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(deleted, info.Secret)}); code != 202 {
		t.Fatalf("gitea deletion: %d %s", code, resp)
	}
	e.eventually("the preview host to answer 404", 30*time.Second, func() bool {
		_, err := e.get(previewHost)
		return err != nil && strings.Contains(err.Error(), "status 404")
	})

	// A rotated secret: the old one is refused.
	before := len(e.runsOf())
	var rotated struct{ Secret string }
	if err := json.Unmarshal([]byte(e.ok("source", "webhook", "hello", "--rotate", "--json")), &rotated); err != nil || rotated.Secret == info.Secret {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	c4 := repo.commit("more", map[string]string{"README": "x"})
	more := []byte(fmt.Sprintf(`{"ref":"refs/heads/feature/y","after":%q}`, c4))
	if code, _ := e.hook("hello", more, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(more, info.Secret)}); code != 401 {
		t.Fatalf("old secret after rotation: %d", code)
	}
	if got := len(e.runsOf()); got != before {
		t.Fatalf("a refused delivery started a run: %d runs, had %d", got, before)
	}

	audit := e.ok("audit", "list", "--app", "hello", "--limit", "500")
	for _, want := range []string{"webhook.refused", "webhook.accepted", "d-1", "source.webhook-rotate"} {
		if !strings.Contains(audit, want) {
			t.Fatalf("audit log lacks %q:\n%s", want, audit)
		}
	}
	e.stopServer(syscall.SIGTERM) // its log is complete, and no longer written
	for _, secret := range []string{info.Secret, rotated.Secret} {
		if strings.Contains(audit, secret) || strings.Contains(e.serverLog.String(), secret) {
			t.Fatal("a webhook secret is in the audit log or the server log")
		}
	}
}

// A push to main whose run is cut off by the server dying (kill -9) still
// deploys to staging: the next server queues the run again and, once it
// passes, deploys it. A deploy whose rollout was under way when the server
// died gets its outcome recorded on the run by the next server.
func TestTriggersSurviveRestart(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	sp := triggerSpec(t, repo.dir, "300ms")
	repo.commit("hello with source rules", map[string]string{"slipway.yaml": sp, "release.go": releaseGo("v1")})
	e.applySource(sp)

	// c2's test stage waits for a file the test makes once the server
	// has died and come back.
	gate := filepath.Join(t.TempDir(), "gate")
	gated := strings.Replace(sp, "    - name: build\n", "        - name: gate\n          run: while [ ! -e "+gate+" ]; do sleep 0.1; done\n    - name: build\n", 1)
	if gated == sp {
		t.Fatal("could not add the gate step to the spec")
	}
	c2 := repo.commit("v2, gated", map[string]string{"slipway.yaml": gated, "release.go": releaseGo("v2")})
	var id int64
	e.eventually("main's run to reach the gate", 60*time.Second, func() bool {
		for _, r := range e.runsOf() {
			if r.Revision == c2 {
				id = r.ID
				return strings.Contains(stepStates(e.runJSON(r.ID)), "test/gate:running")
			}
		}
		return false
	})
	e.stopServer(syscall.SIGKILL)
	e.startServer()
	e.eventually("the cut-off run to run again", 60*time.Second, func() bool {
		return strings.Contains(stepStates(e.runJSON(id)), "test/gate:running")
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := e.waitRun("main after the restart", func(r store.Run) bool { return r.ID == id }, "deployed to staging")
	if run.State != store.RunSucceeded || run.Commit != c2 || run.Trigger != store.TriggerPoll {
		t.Fatalf("run after the restart = %+v", run)
	}
	e.mustServe(stagingHost, "v2")
	if runs := e.runsOf(); len(runs) != 1 {
		t.Fatalf("the push made %d runs, want its one run", len(runs))
	}
	if ev := findEvent(e.audit(100), "system", "run.requeued", fmt.Sprintf("run %d", id), store.OutcomeOK); ev == nil || !strings.Contains(ev.Detail, "restart") {
		t.Fatalf("the requeue is not in the audit log: %+v", ev)
	}

	// c3 moves staging to manual promotion, so its rollout waits (the
	// run's result says it is deploying) until the server dies; the next
	// server fails that rollout (it never switched) and the run says so.
	manual := strings.Replace(sp, "    host: hello.staging.localhost\n", "    host: hello.staging.localhost\n    rollout:\n      promotion: manual\n", 1)
	if manual == sp {
		t.Fatal("could not make staging's promotion manual")
	}
	c3 := repo.commit("v3, promoted by hand", map[string]string{"slipway.yaml": manual, "release.go": releaseGo("v3")})
	waiting := e.waitRun("c3", func(r store.Run) bool { return r.Revision == c3 }, "deploying to staging: rollout")
	e.stopServer(syscall.SIGKILL)
	e.startServer()
	done := e.waitRun("c3 after the restart", func(r store.Run) bool { return r.ID == waiting.ID }, "deploy to staging failed")
	if !strings.Contains(done.TriggerResult, "before traffic was switched") {
		t.Fatalf("c3's result after the restart: %q", done.TriggerResult)
	}
	e.mustServe(stagingHost, "v2")
}

// A preview whose teardown did not finish is torn down by a later poll:
// here the branch is deleted while the preview's first rollout waits for a
// manual promotion (the teardown waits for it) and the server stops; the
// next server tears the preview down although the deletion was already
// recorded.
func TestTriggersPreviewTeardownFinishesAfterShutdown(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	sp := strings.Replace(triggerSpec(t, repo.dir, "300ms"), "    host: hello.staging.localhost\n", "    host: hello.staging.localhost\n    rollout:\n      promotion: manual\n", 1)
	if !strings.Contains(sp, "promotion: manual") {
		t.Fatal("could not make staging's promotion manual")
	}
	repo.commit("hello with source rules", map[string]string{"slipway.yaml": sp, "release.go": releaseGo("v1")})
	e.applySource(sp)

	repo.git("checkout", "-q", "--detach")
	cx := repo.commit("feature x", map[string]string{"release.go": releaseGo("feature-x")})
	repo.git("checkout", "-q", "-b", "feature/x")
	e.waitRun("feature/x", func(r store.Run) bool { return r.Branch == "feature/x" && (r.Commit == cx || r.Revision == cx) }, "deploying to preview-feature-x")
	if st := e.sourceStatus(); len(st.Previews) != 1 {
		t.Fatalf("previews while the first rollout waits: %+v", st.Previews)
	}

	repo.git("checkout", "-q", "main")
	repo.git("branch", "-D", "feature/x")
	e.eventually("the deletion to be seen", 20*time.Second, func() bool {
		_, ok := e.sourceStatus().Refs["refs/heads/feature/x"]
		return !ok
	})
	e.stopServer(syscall.SIGTERM)
	e.startServer()
	e.eventually("the preview to be torn down", 30*time.Second, func() bool { return len(e.sourceStatus().Previews) == 0 })
	if all := e.ok("status"); strings.Contains(all, "preview-feature-x") {
		t.Fatalf("status still lists the preview:\n%s", all)
	}
	if _, err := e.get(previewHost); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("the preview host after the teardown: %v", err)
	}
	if audit := e.ok("audit", "list", "--app", "hello", "--limit", "200"); !strings.Contains(audit, "preview.teardown") {
		t.Fatalf("audit log lacks the teardown:\n%s", audit)
	}
}

// A push cannot loosen promotion rules: main's slipway.yaml dropping
// production's requires_from is not applied (nor deployed), since whoever
// can push would then reach production past staging.
func TestTriggersPushCannotLoosenPromotionRules(t *testing.T) {
	e := newEnv(t)
	repo := newGitRepo(t)
	sp := triggerSpec(t, repo.dir, "300ms")
	repo.commit("hello with source rules", map[string]string{"slipway.yaml": sp, "release.go": releaseGo("v1")})
	e.applySource(sp)

	loose := strings.Replace(sp, "    requires_from: staging\n", "", 1)
	if loose == sp {
		t.Fatal("could not drop production's requires_from")
	}
	c2 := repo.commit("production without requires_from", map[string]string{"slipway.yaml": loose, "release.go": releaseGo("v2")})
	run := e.waitRun("main", func(r store.Run) bool { return r.Revision == c2 }, "deploy to staging refused")
	if !strings.Contains(run.TriggerResult, "environments.production.requires_from staging → none") || !strings.Contains(run.TriggerResult, "slipway apply") {
		t.Fatalf("result of the loosening push: %q", run.TriggerResult)
	}
	if out := e.ok("plan", "-f", "slipway.yaml"); !strings.Contains(out, "No changes.") {
		t.Fatalf("the stored spec changed with the refused push:\n%s", out)
	}
	if _, err := e.get(stagingHost); err == nil {
		t.Fatal("staging serves the refused push")
	}
	if ev := findEvent(e.audit(50), "trigger", "trigger.deploy", "hello/staging", store.OutcomeDenied); ev == nil || !strings.Contains(ev.Detail, "requires_from") {
		t.Fatalf("the refusal is not audited as denied: %+v", ev)
	}
}
