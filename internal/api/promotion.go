package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/slipway-dev/slipway/internal/store"
)

// PromotionService covers promotions that need approvals.
type PromotionService interface {
	// Approve records the caller's approval (it checks the caller may
	// approve into the promotion's target); with enough approvals the
	// promotion's rollout starts.
	Approve(ctx context.Context, app string, id int64, approver Principal) (PromoteResult, error)
	// Promotions lists an app's promotions (all apps if empty).
	Promotions(ctx context.Context, app string, pendingOnly bool) ([]store.Promotion, error)
}

// PromoteResult is either a started rollout or a promotion waiting for
// approvals.
type PromoteResult struct {
	Rollout *store.Rollout   `json:"rollout,omitempty"`
	Pending *store.Promotion `json:"pending,omitempty"`
}

func (h *Handler) promotionRoutes() {
	h.route("GET /v1/promotions", ActRead, h.promotions)
	h.route("POST /v1/apps/{app}/promotions/{id}/approve", ActRead, h.approve) // checks ActApprove on the target itself
}

func (h *Handler) promotions(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.svc.Promotions(r.Context(), r.URL.Query().Get("app"), r.URL.Query().Get("pending") == "1")
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ps)
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errInvalidf("promotion id %q is not a number", r.PathValue("id"))
	}
	res, err := h.svc.Approve(r.Context(), r.PathValue("app"), id, principal(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, res)
}

// Approve approves a pending promotion.
func (c *Client) Approve(ctx context.Context, app string, id int64) (PromoteResult, error) {
	var out PromoteResult
	return out, c.json(ctx, "POST", "/v1/apps/"+url.PathEscape(app)+"/promotions/"+strconv.FormatInt(id, 10)+"/approve", nil, &out)
}

// Promotions lists promotions.
func (c *Client) Promotions(ctx context.Context, app string, pendingOnly bool) ([]store.Promotion, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	if pendingOnly {
		q.Set("pending", "1")
	}
	var out []store.Promotion
	return out, c.json(ctx, "GET", "/v1/promotions?"+q.Encode(), nil, &out)
}
