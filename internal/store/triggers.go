package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/spec"
)

// This file keeps what git triggers need (migration 0007): the source of
// each app with its webhook secret and the refs seen in it, the runs
// pushes started with the action decided for each, the spec each run
// read, candidates, and branch previews.

// OutcomeFailed is the outcome of an audited action that was tried and
// did not work (a trigger's deploy that failed).
const OutcomeFailed = "failed"

// WebhookSecretName is the secret name an app's webhook secret is sealed
// under, with an empty environment: secret.Label(app, "", WebhookSecretName).
// No environment's secret can have that label.
const WebhookSecretName = "webhook"

// Source is the trigger state of one app's repository.
type Source struct {
	App  string `json:"app"`
	Repo string `json:"repo"`
	// Baseline is true once a poll recorded the refs; until then no push
	// found by polling starts a run.
	Baseline bool `json:"baseline"`
	// WebhookSecret is sealed with the secrets key; never shown.
	WebhookSecret []byte     `json:"-"`
	PolledAt      *time.Time `json:"polled_at,omitempty"`
	PollError     string     `json:"poll_error,omitempty"`
	// Refs seen last: full ref name -> commit.
	Refs map[string]string `json:"refs"`
}

// InitSource records the source of app with its sealed webhook secret,
// unless it has one already; created says whether it did.
func (s *Store) InitSource(ctx context.Context, app, repo string, sealed []byte, actor string) (created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sources (app, repo, webhook_secret, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (app) DO NOTHING`, app, repo, sealed, s.ts())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		created = true
		return s.addEvent(ctx, tx, actor, "source.webhook-create", app, "", "webhook secret generated for "+pipeline.Redacted(repo))
	})
	return created, err
}

// SetWebhookSecret replaces the sealed webhook secret of app.
func (s *Store) SetWebhookSecret(ctx context.Context, app string, sealed []byte, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sources SET webhook_secret = ? WHERE app = ?`, sealed, app)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("source of app %s: %w", app, ErrNotFound)
		}
		return s.addEvent(ctx, tx, actor, "source.webhook-rotate", app, "", "webhook secret replaced; deliveries signed with the old one are refused")
	})
}

// SourceState returns the source of app with the refs seen, or ErrNotFound.
func (s *Store) SourceState(ctx context.Context, app string) (Source, error) {
	src := Source{App: app, Refs: map[string]string{}}
	var polled sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT repo, baseline, webhook_secret, polled_at, poll_error FROM sources WHERE app = ?`, app).
		Scan(&src.Repo, &src.Baseline, &src.WebhookSecret, &polled, &src.PollError)
	if errors.Is(err, sql.ErrNoRows) {
		return src, fmt.Errorf("source of app %s: %w", app, ErrNotFound)
	}
	if err != nil {
		return src, err
	}
	src.PolledAt = parseNullTS(polled)
	rows, err := s.db.QueryContext(ctx, `SELECT ref, commit_sha FROM source_refs WHERE app = ?`, app)
	if err != nil {
		return src, err
	}
	defer rows.Close()
	for rows.Next() {
		var ref, c string
		if err := rows.Scan(&ref, &c); err != nil {
			return src, err
		}
		src.Refs[ref] = c
	}
	return src, rows.Err()
}

// SetPollError records why a poll of app's repository failed.
func (s *Store) SetPollError(ctx context.Context, app, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sources SET poll_error = ?, polled_at = ? WHERE app = ?`, msg, s.ts(), app)
	return err
}

// RefChange is one ref to record as seen: moved to Commit, or deleted.
type RefChange struct {
	Ref     string
	Commit  string
	Deleted bool
}

// TriggeredRun is a run a push starts, with the action its rule decided
// (JSON) and the environment it goes to, if any.
type TriggeredRun struct {
	Run    NewRun
	Ref    string
	Action []byte
	Target string
}

// RefUpdate is what RecordRefs does for one poll or webhook delivery.
type RefUpdate struct {
	App string
	// Repo is the repository the refs were seen in.
	Repo string
	// Baseline replaces every ref seen so far with Changes (a first poll,
	// or the repository changed) instead of applying them one by one.
	Baseline bool
	// Polled marks a poll (it sets polled_at and clears poll_error).
	Polled  bool
	Changes []RefChange
	Runs    []TriggeredRun
	// Event, if Action is set, is audited with the change (a webhook
	// delivery).
	Event Entry
}

// RecordRefs records refs as seen and queues the runs they start, in one
// transaction: a crash leaves either both or neither, so a push is never
// lost nor run twice. It returns the queued runs.
func (s *Store) RecordRefs(ctx context.Context, u RefUpdate) ([]Run, error) {
	var runs []Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		runs = nil
		now := s.ts()
		if u.Baseline {
			if _, err := tx.ExecContext(ctx, `DELETE FROM source_refs WHERE app = ?`, u.App); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET repo = ?, baseline = 1 WHERE app = ?`, u.Repo, u.App); err != nil {
				return err
			}
		}
		if u.Polled {
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET polled_at = ?, poll_error = '' WHERE app = ?`, now, u.App); err != nil {
				return err
			}
		}
		for _, c := range u.Changes {
			var err error
			if c.Deleted {
				_, err = tx.ExecContext(ctx, `DELETE FROM source_refs WHERE app = ? AND ref = ?`, u.App, c.Ref)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO source_refs (app, ref, commit_sha, seen_at) VALUES (?, ?, ?, ?)
					ON CONFLICT (app, ref) DO UPDATE SET commit_sha = excluded.commit_sha, seen_at = excluded.seen_at`, u.App, c.Ref, c.Commit, now)
			}
			if err != nil {
				return err
			}
		}
		for _, tr := range u.Runs {
			run, err := s.createRun(ctx, tx, tr.Run)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO trigger_runs (run_id, app, ref, action, target) VALUES (?, ?, ?, ?, ?)`,
				run.ID, u.App, tr.Ref, string(tr.Action), tr.Target); err != nil {
				return err
			}
			runs = append(runs, run)
		}
		if u.Event.Action != "" {
			return s.appendEvent(ctx, tx, u.Event)
		}
		return nil
	})
	return runs, err
}

// TriggerRun is a run a push started.
type TriggerRun struct {
	RunID  int64
	App    string
	Ref    string
	Action []byte // trigger.Action as JSON
	Target string
	Result string
}

// TriggerRunOf returns the trigger record of run id, or ErrNotFound for
// a run no push started.
func (s *Store) TriggerRunOf(ctx context.Context, id int64) (TriggerRun, error) {
	tr := TriggerRun{RunID: id}
	var action string
	err := s.db.QueryRowContext(ctx, `SELECT app, ref, action, target, result FROM trigger_runs WHERE run_id = ?`, id).
		Scan(&tr.App, &tr.Ref, &action, &tr.Target, &tr.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return tr, fmt.Errorf("trigger of run %d: %w", id, ErrNotFound)
	}
	tr.Action = []byte(action)
	return tr, err
}

// UnfinishedTriggerRuns returns the runs pushes started that have ended
// but whose follow-up was never recorded as done: no result yet, or, not
// delivered, a result beginning with midway (what a delivery records
// while it waits for its rollout). Oldest first.
func (s *Store) UnfinishedTriggerRuns(ctx context.Context, midway string) ([]TriggerRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tr.run_id, tr.app, tr.ref, tr.action, tr.target, tr.result FROM trigger_runs tr JOIN runs r ON r.id = tr.run_id
		WHERE r.state IN (?, ?, ?) AND (tr.result = '' OR (tr.delivered = 0 AND substr(tr.result, 1, ?) = ?)) ORDER BY tr.run_id`,
		RunSucceeded, RunFailed, RunCancelled, len(midway), midway)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TriggerRun
	for rows.Next() {
		var tr TriggerRun
		var action string
		if err := rows.Scan(&tr.RunID, &tr.App, &tr.Ref, &action, &tr.Target, &tr.Result); err != nil {
			return nil, err
		}
		tr.Action = []byte(action)
		out = append(out, tr)
	}
	return out, rows.Err()
}

func (s *Store) triggerResult(ctx context.Context, id int64) (string, error) {
	var r string
	err := s.db.QueryRowContext(ctx, `SELECT result FROM trigger_runs WHERE run_id = ?`, id).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return r, err
}

// SetTriggerResult records what was done with run id's artifact, and
// whether it went live in its target, with e as its audit event (if
// e.Action is set), in one transaction.
func (s *Store) SetTriggerResult(ctx context.Context, id int64, result string, delivered bool, e Entry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE trigger_runs SET result = ?, delivered = ? WHERE run_id = ?`, result, delivered, id); err != nil {
			return err
		}
		if e.Action == "" {
			return nil
		}
		return s.appendEvent(ctx, tx, e)
	})
}

// LastDelivered returns the newest run whose artifact went live in
// (app, target) through a trigger, 0 if none.
func (s *Store) LastDelivered(ctx context.Context, app, target string) (int64, error) {
	var id sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(run_id) FROM trigger_runs WHERE app = ? AND target = ? AND delivered = 1`, app, target).Scan(&id)
	return id.Int64, err
}

// SetRunSpec records the spec run id read at its commit.
func (s *Store) SetRunSpec(ctx context.Context, id int64, app spec.App) error {
	raw, err := json.Marshal(app)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE runs SET spec = ? WHERE id = ?`, string(raw), id)
	return err
}

// RunSpec returns the spec run id read at its commit; ok is false if it
// never read one.
func (s *Store) RunSpec(ctx context.Context, id int64) (app spec.App, ok bool, err error) {
	var raw sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT spec FROM runs WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return app, false, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil || !raw.Valid {
		return app, false, err
	}
	if err := json.Unmarshal([]byte(raw.String), &app); err != nil {
		return app, false, fmt.Errorf("run %d: decode its spec: %w", id, err)
	}
	return app, true, nil
}

// Candidate is an artifact built from a push that waits to be promoted
// into Env.
type Candidate struct {
	ID        int64     `json:"id"`
	App       string    `json:"app"`
	Env       string    `json:"env"`
	Ref       string    `json:"ref"` // the tag (or branch) name
	Commit    string    `json:"commit"`
	Artifact  string    `json:"artifact"`
	Run       int64     `json:"run"`
	CreatedAt time.Time `json:"created_at"`
}

// AddCandidate records a candidate, with its audit event.
func (s *Store) AddCandidate(ctx context.Context, c Candidate, actor string) (Candidate, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `INSERT INTO candidates (app, env, ref, commit_sha, artifact, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.App, c.Env, c.Ref, c.Commit, c.Artifact, c.Run, now.Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		c.ID, _ = res.LastInsertId()
		c.CreatedAt = now
		return s.addEvent(ctx, tx, actor, "candidate.add", c.App, c.Env,
			fmt.Sprintf("candidate %s (run %d, artifact %s) for %s", c.Ref, c.Run, short(c.Artifact), c.Env))
	})
	return c, err
}

const candidateCols = `id, app, env, ref, commit_sha, artifact, run_id, created_at`

func scanCandidate(row scanner) (Candidate, error) {
	var c Candidate
	var created string
	err := row.Scan(&c.ID, &c.App, &c.Env, &c.Ref, &c.Commit, &c.Artifact, &c.Run, &created)
	c.CreatedAt = parseTS(created)
	return c, err
}

// Candidates lists the candidates of app, newest first.
func (s *Store) Candidates(ctx context.Context, app string) ([]Candidate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+candidateCols+` FROM candidates WHERE app = ? ORDER BY id DESC`, app)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Candidate{}
	for rows.Next() {
		c, err := scanCandidate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FindCandidate returns app's newest candidate named by a tag or branch
// name (v1.0.0, refs/tags/v1.0.0) or by the number of the run that built
// it.
func (s *Store) FindCandidate(ctx context.Context, app, name string) (Candidate, error) {
	ref := strings.TrimPrefix(strings.TrimPrefix(name, "refs/tags/"), "refs/heads/")
	run, _ := strconv.ParseInt(name, 10, 64)
	c, err := scanCandidate(s.db.QueryRowContext(ctx, `SELECT `+candidateCols+` FROM candidates
		WHERE app = ? AND (ref = ? OR run_id = ?) ORDER BY (ref = ?) DESC, id DESC LIMIT 1`, app, ref, run, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("candidate %q of app %s: %w; `slipway candidates %s` lists them", name, app, ErrNotFound, app)
	}
	return c, err
}

// AddCandidatePromotion records a promotion of candidate c into to that
// waits for approvals, in one transaction with its audit event.
func (s *Store) AddCandidatePromotion(ctx context.Context, c Candidate, p Promotion) (Promotion, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		p.State, p.RequestedAt, p.Approvers = PromotionPending, now, []string{}
		res, err := tx.ExecContext(ctx, `INSERT INTO promotions (app, from_env, to_env, from_release, artifact, needed, state, requested_by, requested_at, expires_at)
			VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`, p.App, p.FromEnv, p.ToEnv, p.Artifact, p.Needed, p.State, p.RequestedBy,
			now.Format(time.RFC3339Nano), p.ExpiresAt.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		p.ID, _ = res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `INSERT INTO candidate_promotions (promotion_id, candidate_id) VALUES (?, ?)`, p.ID, c.ID); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, p.RequestedBy, "promotion.request", p.App, p.ToEnv,
			fmt.Sprintf("promotion %d of candidate %s (run %d, artifact %s) waits for %d approval(s)", p.ID, c.Ref, c.Run, short(p.Artifact), p.Needed))
	})
	return p, err
}

// PromotionCandidate returns the candidate promotion id promotes; ok is
// false for a promotion of an environment's release.
func (s *Store) PromotionCandidate(ctx context.Context, id int64) (c Candidate, ok bool, err error) {
	c, err = scanCandidate(s.db.QueryRowContext(ctx, `SELECT `+candidateCols+` FROM candidates
		WHERE id = (SELECT candidate_id FROM candidate_promotions WHERE promotion_id = ?)`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// reencryptWebhookSecrets reseals every app's webhook secret inside the
// transaction of a key rotation (ReencryptSecrets), so they move to the
// new key with the secrets. It returns how many it rewrote.
func reencryptWebhookSecrets(ctx context.Context, tx *sql.Tx, reseal func(v SecretVersion, ciphertext []byte) ([]byte, error)) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT app, webhook_secret FROM sources ORDER BY app`)
	if err != nil {
		return 0, err
	}
	type row struct {
		app string
		ct  []byte
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.app, &r.ct); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range all {
		ct, err := reseal(SecretVersion{App: r.app, Key: WebhookSecretName, Version: 1}, r.ct)
		if err != nil {
			return 0, fmt.Errorf("re-encrypt the webhook secret of %s: %w", r.app, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sources SET webhook_secret = ? WHERE app = ?`, ct, r.app); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
