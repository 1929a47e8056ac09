package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// webhookBanner is the merchant pages' warning that webhooks look broken, or "".
func (h *Handlers) webhookBanner(ctx context.Context) string {
	if h.checkout == nil {
		return "" // handlers made for tests of other things
	}
	health, err := h.checkout.WebhookHealth(ctx)
	if err != nil {
		h.log.Warn("webhook health", "err", err)
		return ""
	}
	if !health.Broken {
		return ""
	}
	msg := "Banq's webhooks look broken: " + health.Reason + " Orders still update, but only when the reconciler asks Banq, so customers wait longer."
	if h.cfg.WebhookURL != "" {
		msg += " Check that Banq can reach " + h.cfg.WebhookURL + " and that the shared secret matches (see Webhooks for refused deliveries)."
	}
	return msg
}

// webhookLog is the merchant's page of received webhooks, newest first, paged; ?order=N shows
// one order's.
func (h *Handlers) webhookLog(c echo.Context) error {
	ctx := c.Request().Context()
	f := checkout.WebhookFilter{Limit: 50}
	f.OrderID, _ = strconv.ParseInt(c.QueryParam("order"), 10, 64)
	f.Before, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	ws, more, err := h.store.ListWebhooks(ctx, f)
	if err != nil {
		return err
	}
	v := views.WebhookLogView{Webhooks: ws, OrderID: f.OrderID, Before: f.Before, More: more,
		Message: reprocessMessage(c.QueryParam("reprocessed"))}
	if more {
		v.NextBefore = ws[len(ws)-1].Seq
	}
	if f.OrderID == 0 {
		if v.Rejected, err = h.store.RejectedWebhooks(ctx, 20); err != nil {
			return err
		}
	}
	return render(c, http.StatusOK, views.WebhookLog(h.page(c, "Webhooks", "webhooks"), v))
}

// webhookPage shows one received webhook.
func (h *Handlers) webhookPage(c echo.Context) error {
	w, err := h.store.Webhook(c.Request().Context(), webhookID(c))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WebhookPage(h.page(c, "Webhook", "webhooks"),
		views.WebhookView{Webhook: w, Message: reprocessMessage(c.QueryParam("reprocessed"))}))
}

// reprocessWebhook fetches a webhook's resource from Banq again and applies it, then shows the
// webhook with its outcome.
func (h *Handlers) reprocessWebhook(c echo.Context) error {
	w, err := h.checkout.Reprocess(c.Request().Context(), webhookID(c))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/webhook-log/"+url.PathEscape(w.ID)+"?reprocessed="+w.Status)
}

// webhookID is the :id of a webhook-log route; echo leaves an escaped path parameter escaped.
func webhookID(c echo.Context) string {
	if id, err := url.PathUnescape(c.Param("id")); err == nil {
		return id
	}
	return c.Param("id")
}

func reprocessMessage(status string) string {
	switch status {
	case checkout.WebhookApplied:
		return "Reprocessed: Banq was asked again and its answer applied."
	case checkout.WebhookIgnored:
		return "Reprocessed: the resource belongs to no order of ours, so it was ignored."
	}
	return ""
}
