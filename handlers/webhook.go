package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
)

// webhook receives Banq's webhooks: limit the rate, limit the body, check the HMAC over the raw
// bytes, parse, store in the inbox (deduplicated by id), answer at once. Processing happens in
// the worker.
//
// Two limits per source address. Every request spends from a generous bucket
// (Config.WebhookRate), checked before the body is read. A request failing the signature check
// also spends from a strict one (Config.WebhookBadRate); once that one is empty, bad signatures
// from the address are answered 429 and no longer recorded, but a correctly signed webhook is
// still taken: a stranger behind the same proxy as Banq cannot get Banq's webhooks refused. A
// refused request is answered 429 with Retry-After, never dropped: Banq retries a webhook it was
// not given a 2xx for, and the reconciler asks Banq about any order that stays without news.
func (h *Handlers) webhook(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	ip, now := c.RealIP(), h.cfg.Now()
	if wait := h.hooks.take(ip, now); wait > 0 {
		h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonRateLimited)
		return tooMany(c, wait, "too many webhooks from this address")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, h.cfg.WebhookLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonTooLarge)
			h.log.WarnContext(ctx, "webhook rejected", "reason", checkout.ReasonTooLarge, "limit", h.cfg.WebhookLimit)
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "webhook body too large")
		}
		h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonUnreadable)
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the body")
	}
	if err := banq.VerifySignature(body, r.Header.Get(banq.HeaderWebhookHMAC), h.cfg.WebhookSecrets()...); err != nil {
		if wait := h.badHooks.take(ip, now); wait > 0 {
			h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonRateLimited)
			return tooMany(c, wait, "too many webhooks with a bad signature from this address")
		}
		h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonSignature)
		h.log.WarnContext(ctx, "webhook rejected", "reason", checkout.ReasonSignature, "err", err.Error(), "remote", ip)
		h.rejectWebhook(c, body, err)
		return echo.NewHTTPError(http.StatusUnauthorized, err.Error())
	}
	w, err := banq.ParseWebhook(body)
	if err != nil {
		h.observer.Webhook(checkout.WebhookRejected, checkout.ReasonMalformed)
		h.log.WarnContext(ctx, "webhook rejected", "reason", checkout.ReasonMalformed, "err", err.Error())
		h.rejectWebhook(c, body, err)
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	inserted, err := h.checkout.Receive(ctx, w, body)
	if err != nil {
		// Not stored: a 5xx makes Banq deliver it again.
		h.observer.Webhook(checkout.WebhookError, "")
		h.log.ErrorContext(ctx, "webhook not stored", "webhook_id", w.ID, "err", err)
		return err
	}
	outcome := checkout.WebhookStored
	if !inserted {
		outcome = checkout.WebhookDuplicate
	}
	h.observer.Webhook(outcome, "")
	h.log.InfoContext(ctx, "webhook received", "webhook_id", w.ID, "resource_type", w.ResourceType,
		"action", w.Action, "resource_id", w.ResourceID, "outcome", outcome)
	return c.JSON(http.StatusOK, map[string]string{"status": outcome, "id": w.ID})
}

// rejectWebhook keeps a refused delivery for the webhook log's signature verdicts.
func (h *Handlers) rejectWebhook(c echo.Context, body []byte, reason error) {
	err := h.checkout.RejectWebhook(c.Request().Context(), checkout.RejectedWebhook{
		Remote: c.RealIP(), Reason: reason.Error(), Body: body})
	if err != nil {
		h.log.Warn("record refused webhook", "err", err)
	}
}

func (h *Handlers) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

func (h *Handlers) readyz(c echo.Context) error {
	if err := h.cfg.Ready(c.Request().Context()); err != nil {
		h.log.WarnContext(c.Request().Context(), "not ready", "err", err)
		// The reason names hosts, accounts and Banq's own words: not for strangers.
		if !h.cfg.Operator(c.Request()) {
			return c.String(http.StatusServiceUnavailable, "not ready")
		}
		return c.String(http.StatusServiceUnavailable, "not ready: "+err.Error())
	}
	return c.String(http.StatusOK, "ready")
}
