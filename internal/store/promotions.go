package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/release"
)

// Promotion states.
const (
	PromotionPending   = "pending"
	PromotionApproved  = "approved" // enough approvals; its rollout started
	PromotionExpired   = "expired"
	PromotionCancelled = "cancelled"
)

// Promotion is a promotion waiting for (or having received) approvals.
type Promotion struct {
	ID          int64     `json:"id"`
	App         string    `json:"app"`
	FromEnv     string    `json:"from_env"`
	ToEnv       string    `json:"to_env"`
	FromRelease int       `json:"from_release"`
	Artifact    string    `json:"artifact"`
	Needed      int       `json:"needed"`
	Approvers   []string  `json:"approvers"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	RolloutID   int64     `json:"rollout_id,omitempty"`
}

// ErrSelfApproval is returned when the requester tries to approve.
var ErrSelfApproval = errors.New("the user who asked for a promotion cannot approve it")

// AddPromotion records a pending promotion.
func (s *Store) AddPromotion(ctx context.Context, p Promotion) (Promotion, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		p.State, p.RequestedAt, p.Approvers = PromotionPending, now, []string{}
		res, err := tx.ExecContext(ctx, `INSERT INTO promotions (app, from_env, to_env, from_release, artifact, needed, state, requested_by, requested_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.App, p.FromEnv, p.ToEnv, p.FromRelease, p.Artifact, p.Needed, p.State, p.RequestedBy,
			now.Format(time.RFC3339Nano), p.ExpiresAt.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		p.ID, _ = res.LastInsertId()
		return s.addEvent(ctx, tx, p.RequestedBy, "promotion.request", p.App, p.ToEnv,
			fmt.Sprintf("promotion %d of %s #%d (artifact %s) waits for %d approval(s)", p.ID, p.FromEnv, p.FromRelease, short(p.Artifact), p.Needed))
	})
	return p, err
}

// Approve records approver's approval of a pending promotion and returns it;
// Approvers then holds everyone who approved. It refuses the requester, a
// second approval by the same user, and promotions no longer pending.
func (s *Store) Approve(ctx context.Context, id int64, approver string) (Promotion, error) {
	var p Promotion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = promotionTx(ctx, tx, id); err != nil {
			return err
		}
		if p.State == PromotionExpired || p.State == PromotionPending && s.now().After(p.ExpiresAt) {
			return fmt.Errorf("promotion %d expired at %s; ask again with `slipway promote`", id, p.ExpiresAt.Format(time.RFC3339))
		}
		if p.State != PromotionPending {
			return fmt.Errorf("promotion %d is %s, not pending", id, p.State)
		}
		if approver == p.RequestedBy {
			return fmt.Errorf("%w (%s asked for promotion %d); another user must approve", ErrSelfApproval, approver, id)
		}
		for _, a := range p.Approvers {
			if a == approver {
				if len(p.Approvers) >= p.Needed {
					// Fully approved yet pending: its rollout could not
					// start (another was running). Approving again retries.
					return nil
				}
				return fmt.Errorf("%s already approved promotion %d; it needs %d approval(s) from different users", approver, id, p.Needed)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (promotion_id, approver, at) VALUES (?, ?, ?)`, id, approver, s.ts()); err != nil {
			return err
		}
		p.Approvers = append(p.Approvers, approver)
		return s.addEvent(ctx, tx, approver, "promotion.approve", p.App, p.ToEnv,
			fmt.Sprintf("promotion %d approved (%d of %d)", id, len(p.Approvers), p.Needed))
	})
	return p, err
}

// SetPromotionState ends a promotion: approved (with the rollout it
// started), expired or cancelled.
func (s *Store) SetPromotionState(ctx context.Context, id int64, state string, rolloutID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var rid any
		if rolloutID > 0 {
			rid = rolloutID
		}
		res, err := tx.ExecContext(ctx, `UPDATE promotions SET state = ?, rollout_id = COALESCE(?, rollout_id) WHERE id = ? AND state = ?`,
			state, rid, id, PromotionPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("promotion %d is not pending", id)
		}
		var app, env string
		tx.QueryRowContext(ctx, `SELECT app, to_env FROM promotions WHERE id = ?`, id).Scan(&app, &env)
		return s.addEvent(ctx, tx, "system", "promotion."+state, app, env, fmt.Sprintf("promotion %d %s", id, state))
	})
}

// Promotion returns one promotion.
func (s *Store) Promotion(ctx context.Context, id int64) (Promotion, error) {
	var p Promotion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = promotionTx(ctx, tx, id)
		return err
	})
	return p, err
}

// Promotions lists promotions of an app (all apps if empty), newest first;
// pendingOnly keeps those still waiting.
func (s *Store) Promotions(ctx context.Context, app string, pendingOnly bool) ([]Promotion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM promotions WHERE (? = '' OR app = ?) AND (? = 0 OR state = ?) ORDER BY id DESC LIMIT 200`,
		app, app, pendingOnly, PromotionPending)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []Promotion{}
	for _, id := range ids {
		p, err := s.Promotion(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func promotionTx(ctx context.Context, tx *sql.Tx, id int64) (Promotion, error) {
	var p Promotion
	var requested, expires string
	var rollout sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT id, app, from_env, to_env, from_release, artifact, needed, state, requested_by, requested_at, expires_at, rollout_id
		FROM promotions WHERE id = ?`, id).Scan(&p.ID, &p.App, &p.FromEnv, &p.ToEnv, &p.FromRelease, &p.Artifact, &p.Needed, &p.State,
		&p.RequestedBy, &requested, &expires, &rollout)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("promotion %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, err
	}
	p.RequestedAt, p.ExpiresAt, p.RolloutID = parseTS(requested), parseTS(expires), rollout.Int64
	rows, err := tx.QueryContext(ctx, `SELECT approver FROM approvals WHERE promotion_id = ? ORDER BY at`, id)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	p.Approvers = []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return p, err
		}
		p.Approvers = append(p.Approvers, a)
	}
	return p, rows.Err()
}

// ArtifactWentLive reports whether artifact was live in (app, env) at some
// point: a release of it there is live or was superseded.
func (s *Store) ArtifactWentLive(ctx context.Context, app, env, artifact string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM releases WHERE app = ? AND env = ? AND artifact = ? AND status IN (?, ?)`,
		app, env, artifact, release.StatusLive, release.StatusSuperseded).Scan(&n)
	return n > 0, err
}

// RevertSwitch undoes a switch whose post-deploy checks failed: the
// previous release is live again (or nothing, after a first deploy), the
// new one is marked failed (or superseded, if it was an earlier release
// rolled out again), and the rollout moves to PhaseReverting; the caller
// stops the new instances, then calls FinishRollout(failed). One
// transaction.
func (s *Store) RevertSwitch(ctx context.Context, id int64, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("rollout %d: %w", id, err)
		}
		if r.State != RolloutRunning || r.Phase != PhaseSwitched {
			return fmt.Errorf("rollout %d is %s in phase %s; only a switched, running rollout can be reverted", id, r.State, r.Phase)
		}
		now := s.ts()
		newStatus := release.StatusFailed
		if r.Kind == "rollback" {
			newStatus = release.StatusSuperseded
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ?, reason = ?, finished_at = ? WHERE app = ? AND env = ? AND number = ?`,
			newStatus, reason, now, r.App, r.Env, r.ToRelease); err != nil {
			return err
		}
		var live any
		if r.FromRelease > 0 {
			live = r.FromRelease
			if _, err := tx.ExecContext(ctx, `UPDATE releases SET status = ? WHERE app = ? AND env = ? AND number = ?`,
				release.StatusLive, r.App, r.Env, r.FromRelease); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE environments SET live_release = ? WHERE app = ? AND env = ?`, live, r.App, r.Env); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rollouts SET phase = ?, reason = ? WHERE id = ?`, PhaseReverting, reason, id); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, r.CreatedBy, "rollout.reverted", r.App, r.Env,
			fmt.Sprintf("rollout %d to release %d reverted to release %d: %s", id, r.ToRelease, r.FromRelease, reason))
	})
}
