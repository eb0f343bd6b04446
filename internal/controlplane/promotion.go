package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
)

// ErrRequiresFrom marks a deploy refused because the artifact has not gone
// live in the environment that must come first.
var ErrRequiresFrom = errors.New("artifact did not pass the environment this one requires")

// checkRequiresFrom enforces build once, deploy everywhere: an environment
// with requires_from only takes artifacts that went live there first.
func (cp *ControlPlane) checkRequiresFrom(ctx context.Context, actor string, app spec.App, env, artifact string) error {
	from := app.Environments[env].RequiresFrom
	if from == "" {
		return nil
	}
	ok, err := cp.store.ArtifactWentLive(ctx, app.Name, from, artifact)
	if err != nil || ok {
		return err
	}
	return cp.deny(ctx, actor, "deploy", app.Name, env, fmt.Sprintf("%s/%s only accepts artifacts that went live in %s first (requires_from), and %s never did; deploy it to %s, then `slipway promote %s --from %s --to %s`",
		app.Name, env, from, shortDigest(artifact), from, app.Name, from, env))
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// Promote implements api.Service: the exact artifact from runs, with the
// target environment's own config. Where the target asks for approvals, the
// promotion waits until enough other users approve.
func (cp *ControlPlane) Promote(ctx context.Context, app, from, to, actor string) (api.PromoteResult, error) {
	if from == "" || to == "" || from == to {
		return api.PromoteResult{}, fmt.Errorf("%w: promote needs two different environments, --from and --to", api.ErrInvalid)
	}
	src, err := cp.liveRelease(ctx, app, from)
	if err != nil {
		return api.PromoteResult{}, err
	}
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return api.PromoteResult{}, err
	}
	target, ok := stored.Environments[to]
	if !ok {
		return api.PromoteResult{}, fmt.Errorf("environment %q of app %s: %w", to, app, store.ErrNotFound)
	}
	if err := cp.checkRequiresFrom(ctx, actor, stored, to, src.Artifact); err != nil {
		return api.PromoteResult{}, err
	}
	if target.Approvals > 0 {
		ttl := target.ApprovalTTL.D()
		if ttl <= 0 {
			ttl = 24 * time.Hour
		}
		p, err := cp.store.AddPromotion(ctx, store.Promotion{App: app, FromEnv: from, ToEnv: to, FromRelease: src.Number,
			Artifact: src.Artifact, Needed: target.Approvals, RequestedBy: actor, ExpiresAt: time.Now().Add(ttl)})
		if err != nil {
			return api.PromoteResult{}, err
		}
		return api.PromoteResult{Pending: &p}, nil
	}
	ro, err := cp.startPromotion(ctx, app, from, to, src, actor)
	if err != nil {
		return api.PromoteResult{}, err
	}
	return api.PromoteResult{Rollout: &ro}, nil
}

// startPromotion rolls out src's artifact, run and health settings into to.
func (cp *ControlPlane) startPromotion(ctx context.Context, app, from, to string, src store.Release, actor string) (store.Rollout, error) {
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return store.Rollout{}, err
	}
	pin := src.Spec
	pin.Environments = stored.Environments
	return cp.begin(ctx, store.NewRollout{App: app, Env: to, Artifact: src.Artifact, PinSpec: &pin, Actor: actor, Kind: "promote",
		Source: fmt.Sprintf("promote from %s #%d", from, src.Number)})
}

// Approve implements api.PromotionService.
func (cp *ControlPlane) Approve(ctx context.Context, app string, id int64, approver api.Principal) (api.PromoteResult, error) {
	p, err := cp.store.Promotion(ctx, id)
	if err != nil {
		return api.PromoteResult{}, err
	}
	if p.App != app {
		return api.PromoteResult{}, fmt.Errorf("promotion %d of app %s: %w", id, app, store.ErrNotFound)
	}
	if err := cp.Authorize(ctx, approver, api.ActApprove, app, p.ToEnv); err != nil {
		return api.PromoteResult{}, err
	}
	p, err = cp.store.Approve(ctx, id, approver.Name)
	if err != nil {
		if errors.Is(err, store.ErrSelfApproval) {
			return api.PromoteResult{}, cp.deny(ctx, approver.Name, "approve", app, p.ToEnv, err.Error())
		}
		return api.PromoteResult{}, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	if len(p.Approvers) < p.Needed {
		return api.PromoteResult{Pending: &p}, nil
	}
	if c, ok, err := cp.store.PromotionCandidate(ctx, id); err != nil {
		return api.PromoteResult{}, err
	} else if ok {
		return cp.approvedCandidate(ctx, p, c)
	}
	src, err := cp.store.Release(ctx, app, p.FromEnv, p.FromRelease)
	if err != nil {
		return api.PromoteResult{}, err
	}
	ro, err := cp.startPromotion(ctx, app, p.FromEnv, p.ToEnv, src, p.RequestedBy)
	if err != nil {
		return api.PromoteResult{Pending: &p}, err
	}
	if err := cp.store.SetPromotionState(ctx, id, store.PromotionApproved, ro.ID); err != nil {
		cp.log.Error("record approved promotion", "promotion", id, "err", err)
	}
	p.State, p.RolloutID = store.PromotionApproved, ro.ID
	return api.PromoteResult{Rollout: &ro, Pending: &p}, nil
}

// Promotions implements api.PromotionService.
func (cp *ControlPlane) Promotions(ctx context.Context, app string, pendingOnly bool) ([]store.Promotion, error) {
	cp.expirePromotions(ctx)
	return cp.store.Promotions(ctx, app, pendingOnly)
}

// expirePromotions ends pending promotions past their deadline.
func (cp *ControlPlane) expirePromotions(ctx context.Context) {
	ps, err := cp.store.Promotions(ctx, "", true)
	if err != nil {
		return
	}
	for _, p := range ps {
		// A fully approved promotion is starting its rollout, or its start
		// failed and an approver may retry: Approve checks its expiry.
		if len(p.Approvers) < p.Needed && time.Now().After(p.ExpiresAt) {
			if err := cp.store.SetPromotionState(ctx, p.ID, store.PromotionExpired, 0); err != nil {
				cp.log.Warn("expire promotion", "promotion", p.ID, "err", err)
			}
		}
	}
}

// PromoteCandidate implements api.TriggerService: the candidate's exact
// artifact (named by its tag or its run number) goes to to through the
// same rules as Promote: requires_from (it must have gone live there
// first) and approvals (the promotion waits for them).
func (cp *ControlPlane) PromoteCandidate(ctx context.Context, app, candidate, to, actor string) (api.PromoteResult, error) {
	c, err := cp.store.FindCandidate(ctx, app, candidate)
	if err != nil {
		return api.PromoteResult{}, err
	}
	if to == "" {
		to = c.Env
	}
	if to != c.Env {
		return api.PromoteResult{}, fmt.Errorf("%w: candidate %s (run %d) is a candidate for %s, not %s", api.ErrInvalid, c.Ref, c.Run, c.Env, to)
	}
	stored, err := cp.store.App(ctx, app)
	if err != nil {
		return api.PromoteResult{}, err
	}
	target, ok := stored.Environments[to]
	if !ok {
		return api.PromoteResult{}, fmt.Errorf("environment %q of app %s: %w", to, app, store.ErrNotFound)
	}
	if err := cp.checkRequiresFrom(ctx, actor, stored, to, c.Artifact); err != nil {
		return api.PromoteResult{}, err
	}
	if target.Approvals > 0 {
		ttl := target.ApprovalTTL.D()
		if ttl <= 0 {
			ttl = 24 * time.Hour
		}
		p, err := cp.store.AddCandidatePromotion(ctx, c, store.Promotion{App: app, FromEnv: "candidate " + c.Ref, ToEnv: to,
			Artifact: c.Artifact, Needed: target.Approvals, RequestedBy: actor, ExpiresAt: time.Now().Add(ttl)})
		if err != nil {
			return api.PromoteResult{}, err
		}
		return api.PromoteResult{Pending: &p}, nil
	}
	ro, err := cp.startCandidate(ctx, c, to, actor)
	if err != nil {
		return api.PromoteResult{}, err
	}
	return api.PromoteResult{Rollout: &ro}, nil
}

// startCandidate rolls out candidate c's artifact into to, pinning the
// run, build and health settings of the spec at its commit with the
// stored environments.
func (cp *ControlPlane) startCandidate(ctx context.Context, c store.Candidate, to, actor string) (store.Rollout, error) {
	stored, err := cp.store.App(ctx, c.App)
	if err != nil {
		return store.Rollout{}, err
	}
	pin := stored
	if sp, ok, err := cp.store.RunSpec(ctx, c.Run); err != nil {
		return store.Rollout{}, err
	} else if ok {
		pin = sp
		pin.Environments = stored.Environments
	}
	return cp.begin(ctx, store.NewRollout{App: c.App, Env: to, Artifact: c.Artifact, PinSpec: &pin, Actor: actor, Kind: "promote",
		Source: fmt.Sprintf("candidate %s (run %d)", c.Ref, c.Run)})
}

// approvedCandidate starts the rollout of a candidate's promotion once it
// has its approvals.
func (cp *ControlPlane) approvedCandidate(ctx context.Context, p store.Promotion, c store.Candidate) (api.PromoteResult, error) {
	ro, err := cp.startCandidate(ctx, c, p.ToEnv, p.RequestedBy)
	if err != nil {
		return api.PromoteResult{Pending: &p}, err
	}
	if err := cp.store.SetPromotionState(ctx, p.ID, store.PromotionApproved, ro.ID); err != nil {
		cp.log.Error("record approved promotion", "promotion", p.ID, "err", err)
	}
	p.State, p.RolloutID = store.PromotionApproved, ro.ID
	return api.PromoteResult{Rollout: &ro, Pending: &p}, nil
}

// Candidates implements api.TriggerService.
func (cp *ControlPlane) Candidates(ctx context.Context, app string) ([]store.Candidate, error) {
	if _, err := cp.store.App(ctx, app); err != nil {
		return nil, err
	}
	return cp.store.Candidates(ctx, app)
}
