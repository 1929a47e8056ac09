package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/views"
)

// Notifications keeps the shop's notification endpoints (notify.Manager implements it).
type Notifications interface {
	Create(ctx context.Context, in notify.Input) (notify.Endpoint, error)
	Update(ctx context.Context, id int64, in notify.Input) (notify.Endpoint, error)
	SetEnabled(ctx context.Context, id int64, on bool) (notify.Endpoint, error)
	RotateSecret(ctx context.Context, id int64) (notify.Endpoint, error)
	Delete(ctx context.Context, id int64) error
	Endpoint(ctx context.Context, id int64) (notify.Endpoint, error)
	Endpoints(ctx context.Context) ([]notify.Endpoint, error)
	Deliveries(ctx context.Context, f notify.DeliveryFilter) ([]notify.Delivery, bool, error)
	Delivery(ctx context.Context, id int64) (notify.Delivery, []notify.Attempt, error)
	Redeliver(ctx context.Context, deliveryID int64) (notify.Delivery, error)
}

func endpointInput(c echo.Context) notify.Input {
	form, _ := c.FormParams()
	return notify.Input{URL: c.FormValue("url"), Description: c.FormValue("description"), Types: form["types"]}
}

// endpoints is the merchant's list of notification endpoints with the form to add one.
func (h *Handlers) endpoints(c echo.Context) error {
	return h.endpointsPage(c, http.StatusOK, views.EndpointForm{}, nil)
}

func (h *Handlers) endpointsPage(c echo.Context, status int, form views.EndpointForm, errs map[string]string) error {
	eps, err := h.cfg.Notifications.Endpoints(c.Request().Context())
	if err != nil {
		return err
	}
	form.Errors = errs
	v := views.EndpointsView{Endpoints: eps, Form: form, Now: h.cfg.Now()}
	return render(c, status, views.Endpoints(h.page(c, "Notifications", "notifications"), v))
}

func formOf(in notify.Input) views.EndpointForm {
	return views.EndpointForm{URL: in.URL, Description: in.Description, Types: in.Types}
}

// fieldErrors returns the per-field messages of an EInvalid error, or nil for any other.
func fieldErrors(err error) map[string]string {
	var ce *checkout.Error
	if errors.As(err, &ce) && ce.Code == checkout.EInvalid && len(ce.Fields) > 0 {
		return ce.Fields
	}
	return nil
}

// createEndpoint adds an endpoint and shows its secret, once.
func (h *Handlers) createEndpoint(c echo.Context) error {
	in := endpointInput(c)
	e, err := h.cfg.Notifications.Create(c.Request().Context(), in)
	if errs := fieldErrors(err); errs != nil {
		return h.endpointsPage(c, http.StatusUnprocessableEntity, formOf(in), errs)
	}
	if err != nil {
		return err
	}
	setAuditSubject(c, "endpoint "+strconv.FormatInt(e.ID, 10)+" "+e.URL)
	h.log.InfoContext(c.Request().Context(), "notification endpoint added", "endpoint_id", e.ID, "by", h.userEmail(c))
	return h.endpointPage(c, http.StatusCreated, e, views.EndpointView{Secret: e.Secret,
		Message: "Endpoint added. Copy its signing secret now: it is shown only this once."})
}

func (h *Handlers) endpointID(c echo.Context) (int64, error) {
	return idParam(c, "There is no such endpoint.")
}

// showEndpoint is one endpoint: its settings, its actions and its recent deliveries.
func (h *Handlers) showEndpoint(c echo.Context) error {
	id, err := h.endpointID(c)
	if err != nil {
		return err
	}
	e, err := h.cfg.Notifications.Endpoint(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.endpointPage(c, http.StatusOK, e, views.EndpointView{Message: endpointMessage(c.QueryParam("done"))})
}

func endpointMessage(done string) string {
	switch done {
	case "saved":
		return "Saved."
	case "enabled":
		return "Enabled: deliveries waiting for it are sent now."
	case "disabled":
		return "Disabled: nothing is sent to it until it is enabled again."
	case "redelivered":
		return "Queued again: it is sent now, with a fresh retry schedule."
	}
	return ""
}

func (h *Handlers) endpointPage(c echo.Context, status int, e notify.Endpoint, v views.EndpointView) error {
	v.Endpoint = e
	v.Now = h.cfg.Now()
	if v.Form.URL == "" && v.Form.Errors == nil {
		v.Form = views.EndpointForm{URL: e.URL, Description: e.Description, Types: e.Types}
	}
	f := notify.DeliveryFilter{EndpointID: e.ID, Limit: 50}
	f.Before, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	switch s := c.QueryParam("status"); s {
	case notify.DeliveryPending, notify.DeliveryRetrying, notify.DeliverySucceeded, notify.DeliveryFailed:
		f.Status = s
	}
	v.Status = f.Status
	ds, more, err := h.cfg.Notifications.Deliveries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	v.Deliveries, v.More = ds, more
	if more {
		v.NextBefore = ds[len(ds)-1].ID
	}
	return render(c, status, views.EndpointPage(h.page(c, "Notification endpoint", "notifications"), v))
}

// updateEndpoint saves the endpoint's URL, description and event types.
func (h *Handlers) updateEndpoint(c echo.Context) error {
	id, err := h.endpointID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in := endpointInput(c)
	_, err = h.cfg.Notifications.Update(ctx, id, in)
	if errs := fieldErrors(err); errs != nil {
		e, gerr := h.cfg.Notifications.Endpoint(ctx, id)
		if gerr != nil {
			return gerr
		}
		form := formOf(in)
		form.Errors = errs
		return h.endpointPage(c, http.StatusUnprocessableEntity, e, views.EndpointView{Form: form})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, endpointURL(id)+"?done=saved")
}

func endpointURL(id int64) string { return "/notifications/" + strconv.FormatInt(id, 10) }

// endpointAction enables, disables, rotates the secret of, or deletes an endpoint.
func (h *Handlers) endpointAction(c echo.Context) error {
	id, err := h.endpointID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	n := h.cfg.Notifications
	switch action := c.Param("action"); action {
	case "enable", "disable":
		if _, err := n.SetEnabled(ctx, id, action == "enable"); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, endpointURL(id)+"?done="+action+"d")
	case "rotate":
		e, err := n.RotateSecret(ctx, id)
		if err != nil {
			return err
		}
		h.log.InfoContext(ctx, "notification secret rotated", "endpoint_id", id, "by", h.userEmail(c))
		return h.endpointPage(c, http.StatusOK, e, views.EndpointView{Secret: e.Secret,
			Message: "New signing secret made. Copy it now: it is shown only this once. The old one keeps signing beside it for 24 hours."})
	case "delete":
		if err := n.Delete(ctx, id); err != nil {
			return err
		}
		h.log.InfoContext(ctx, "notification endpoint deleted", "endpoint_id", id, "by", h.userEmail(c))
		return c.Redirect(http.StatusSeeOther, "/notifications")
	}
	return echo.ErrNotFound
}

// showDelivery is one delivery with every attempt at it.
func (h *Handlers) showDelivery(c echo.Context) error {
	id, err := idParam(c, "There is no such delivery.")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, attempts, err := h.cfg.Notifications.Delivery(ctx, id)
	if err != nil {
		return err
	}
	e, err := h.cfg.Notifications.Endpoint(ctx, d.EndpointID)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DeliveryPage(h.page(c, "Notification delivery", "notifications"),
		views.DeliveryView{Delivery: d, Endpoint: e, Attempts: attempts}))
}

// redeliver queues a delivery's message again.
func (h *Handlers) redeliver(c echo.Context) error {
	id, err := idParam(c, "There is no such delivery.")
	if err != nil {
		return err
	}
	d, err := h.cfg.Notifications.Redeliver(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, endpointURL(d.EndpointID)+"?done=redelivered")
}

func (h *Handlers) userEmail(c echo.Context) string {
	if u, ok := c.Get(userKey).(checkout.User); ok {
		return u.Email
	}
	return ""
}
