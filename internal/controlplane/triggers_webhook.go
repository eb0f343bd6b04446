package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/slipway-dev/slipway/internal/api"
	"github.com/slipway-dev/slipway/internal/secret"
	"github.com/slipway-dev/slipway/internal/spec"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/trigger"
)

// Webhooks: each app with a source has a secret (sealed with the secrets
// key) that signs its push deliveries; a verified push goes through the
// same decision as a poll, for its one ref, if it is in order.

// ensureSource records app's source with a new webhook secret (32 random
// bytes, hex) unless it has one: the secret is sealed with the secrets
// key like a secret's value, and moves with it on `secret rotate-key`.
func (t *triggers) ensureSource(ctx context.Context, app, repo, actor string) error {
	if _, err := t.cp.store.SourceState(ctx, app); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	value := newWebhookSecret()
	ks := t.cp.secrets
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	sealed, err := ks.key.Seal(webhookLabel(app), []byte(value))
	if err != nil {
		return err
	}
	created, err := t.cp.store.InitSource(ctx, app, repo, sealed, actor)
	if created {
		t.log.Info("generated the webhook secret; `slipway source webhook` shows it", "app", app)
	}
	return err
}

func newWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func webhookLabel(app string) string { return secret.Label(app, "", store.WebhookSecretName) }

// webhookSecret opens app's webhook secret; "" when it has none (no such
// app, no source yet).
func (t *triggers) webhookSecret(ctx context.Context, app string) (string, error) {
	ks := t.cp.secrets
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	st, err := t.cp.store.SourceState(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	v, err := ks.key.Open(webhookLabel(app), st.WebhookSecret)
	if err != nil {
		return "", fmt.Errorf("webhook secret of %s: %w", app, err)
	}
	return string(v), nil
}

// WebhookSecret implements api.TriggerService.
func (cp *ControlPlane) WebhookSecret(ctx context.Context, app, actor string, rotate bool) (api.WebhookInfo, error) {
	stored, err := cp.sourceApp(ctx, app)
	if err != nil {
		return api.WebhookInfo{}, err
	}
	if err := cp.triggers.ensureSource(ctx, app, stored.Source.Repo, actor); err != nil {
		return api.WebhookInfo{}, err
	}
	if rotate {
		ks := cp.secrets
		ks.mu.RLock()
		sealed, err := ks.key.Seal(webhookLabel(app), []byte(newWebhookSecret()))
		if err == nil {
			err = cp.store.SetWebhookSecret(ctx, app, sealed, actor)
		}
		ks.mu.RUnlock()
		if err != nil {
			return api.WebhookInfo{}, err
		}
	} else if err := cp.store.RecordEvent(ctx, store.Entry{Actor: actor, Action: "source.webhook-show", App: app, Detail: "webhook secret shown"}); err != nil {
		return api.WebhookInfo{}, err
	}
	v, err := cp.triggers.webhookSecret(ctx, app)
	if err != nil {
		return api.WebhookInfo{}, err
	}
	return api.WebhookInfo{Path: api.WebhookPath(app), Secret: v, Rotated: rotate}, nil
}

// Webhook implements api.TriggerService: verify, then the same decision
// path as a poll, for the one ref the push names.
func (cp *ControlPlane) Webhook(ctx context.Context, app string, h http.Header, body []byte) (api.WebhookResult, error) {
	t := cp.triggers
	delivery := deliveryOf(h)
	secretValue, err := t.webhookSecret(ctx, app)
	if err != nil {
		return api.WebhookResult{}, err
	}
	if err := trigger.Verify(h, body, secretValue); err != nil {
		t.refused(ctx, app, delivery, err.Error())
		return api.WebhookResult{}, fmt.Errorf("%w: %v; sign the payload with the app's webhook secret (`slipway source webhook %s`)", api.ErrUnauthorized, err, app)
	}
	stored, err := cp.sourceApp(ctx, app)
	if err != nil {
		t.refused(ctx, app, delivery, err.Error())
		return api.WebhookResult{}, err
	}
	event := h.Get("X-GitHub-Event")
	if event == "" {
		event = h.Get("X-Gitea-Event")
	}
	if event == "ping" {
		t.accepted(ctx, app, delivery, "ping")
		return api.WebhookResult{Status: "pong"}, nil
	}
	push, err := trigger.ParsePush(event, body)
	if errors.Is(err, trigger.ErrNotPush) {
		t.accepted(ctx, app, delivery, "ignored: "+err.Error())
		return api.WebhookResult{Status: "ignored"}, nil
	}
	if err != nil {
		t.refused(ctx, app, delivery, err.Error())
		return api.WebhookResult{}, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	ev, err := t.push(ctx, stored, push, delivery)
	if err != nil {
		return api.WebhookResult{}, err
	}
	return api.WebhookResult{Status: "accepted", Event: &ev}, nil
}

// push acts on one verified push of app, recording the ref as seen in the
// transaction that queues its run, with the delivery's audit event.
func (t *triggers) push(ctx context.Context, app spec.App, p trigger.Push, delivery string) (api.RefEvent, error) {
	l := t.lock(app.Name)
	l.Lock()
	defer l.Unlock()
	if err := t.ensureSource(ctx, app.Name, app.Source.Repo, "system"); err != nil {
		return api.RefEvent{}, err
	}
	st, err := t.cp.store.SourceState(ctx, app.Name)
	if err != nil {
		return api.RefEvent{}, err
	}
	ev := api.RefEvent{Ref: p.Ref, Commit: p.Commit, Deleted: p.Deleted}
	what := fmt.Sprintf("push %s at %s", p.Ref, shortHash(p.Commit))
	if p.Deleted {
		what = "push deleting " + p.Ref
	}
	old, known := st.Refs[p.Ref]
	switch trigger.Ordering(p, old, known) {
	case trigger.AlreadySeen:
		ev.Did = "already seen"
		t.accepted(ctx, app.Name, delivery, what+": already seen")
		return ev, nil
	case trigger.OutOfOrder:
		// Acting on it could build and deploy an older commit than the
		// one seen (a redelivery, a replay): ask the repository instead.
		here := "not seen here"
		if known {
			here = "seen here at " + shortHash(old)
		}
		from := "from an unknown commit"
		if p.Before != "" {
			from = "from " + shortHash(p.Before)
		}
		ev.Did = fmt.Sprintf("out of order (%s; the push moves it %s): polling the repository instead", here, from)
		t.accepted(ctx, app.Name, delivery, what+": "+ev.Did)
		t.pollSoon(app.Name)
		return ev, nil
	}
	pl := plan(app.Name, *app.Source, []trigger.Update{{Ref: p.Ref, Commit: p.Commit, Deleted: p.Deleted}}, store.TriggerWebhook)
	detail := what + ": " + pl.events[0].Did
	if delivery != "" {
		detail += " (delivery " + delivery + ")"
	}
	runs, err := t.cp.store.RecordRefs(ctx, store.RefUpdate{App: app.Name, Repo: st.Repo, Changes: pl.changes, Runs: pl.runs,
		Event: store.Entry{Actor: "webhook", Action: "webhook.accepted", App: app.Name, Detail: detail}})
	if err != nil {
		return ev, err
	}
	return t.started(app.Name, pl, runs)[0], nil
}

func shortHash(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// deliveryOf is the delivery ID a webhook sender gives (for the audit
// log), cleaned: at most 64 printable characters.
func deliveryOf(h http.Header) string {
	d := h.Get("X-GitHub-Delivery")
	if d == "" {
		d = h.Get("X-Gitea-Delivery")
	}
	d = strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, d)
	if len(d) > 64 {
		d = d[:64]
	}
	return d
}

// accepted audits a webhook delivery that was acted on (or ignored).
func (t *triggers) accepted(ctx context.Context, app, delivery, what string) {
	t.audit(ctx, store.Entry{Actor: "webhook", Action: "webhook.accepted", App: app, Detail: withDelivery(what, delivery)})
}

// refused audits a webhook delivery that was turned away, for an app that
// exists (deliveries to unknown apps are only logged: anyone may send
// them).
func (t *triggers) refused(ctx context.Context, app, delivery, why string) {
	if _, err := t.cp.store.App(ctx, app); err != nil {
		t.log.Info("webhook refused", "app", app, "reason", why)
		return
	}
	t.audit(ctx, store.Entry{Actor: "webhook", Action: "webhook.refused", App: app, Outcome: store.OutcomeDenied, Detail: withDelivery(why, delivery)})
}

func withDelivery(what, delivery string) string {
	if delivery == "" {
		return what
	}
	return what + " (delivery " + delivery + ")"
}
