package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

// The shop's notification endpoints over the API (scope endpoints:write), kept by the same
// notify.Manager as the merchant's pages. A signing secret travels in two answers only: the
// create's and the rotation's (and their replays under the same Idempotency-Key).

// apiEndpoint is an endpoint as the API answers it.
type apiEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"` // empty: every type, also those added later
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why the checkout disabled it; null when enabled or the shop disabled it.
	DisabledReason          *string    `json:"disabled_reason"`
	FailingSince            *time.Time `json:"failing_since"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	Secret                  string     `json:"secret,omitempty"`
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// newAPIEndpoint is e as the API shows it, without its secret.
func newAPIEndpoint(e notify.Endpoint, now time.Time) apiEndpoint {
	out := apiEndpoint{ID: itoa(e.ID), URL: e.URL, Description: e.Description, EventTypes: e.Types, Enabled: e.Enabled,
		FailingSince: timeOrNull(e.FailingSince), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if out.EventTypes == nil {
		out.EventTypes = []string{}
	}
	if !e.Enabled && e.DisabledReason != "" {
		out.DisabledReason = &e.DisabledReason
	}
	if e.PreviousSecret != "" && now.Before(e.PreviousUntil) {
		out.PreviousSecretExpiresAt = timeOrNull(e.PreviousUntil)
	}
	return out
}

// apiEndpointBody is the body of a create (url required) and of an update (any of them).
type apiEndpointBody struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

var (
	apiNewEndpointFields    = []string{"url", "description", "event_types"}
	apiUpdateEndpointFields = []string{"url", "description", "event_types", "enabled"}
)

// endpointProblem names the endpoint in a not-found answer (the shared mapping speaks of orders).
func endpointProblem(err error) error {
	if checkout.ErrorCode(err) == checkout.ENotFound {
		return newProblem(http.StatusNotFound, "", "There is no such endpoint.")
	}
	return err
}

func (h *Handlers) apiEndpointID(c echo.Context) (int64, error) {
	id, err := h.endpointID(c)
	return id, endpointProblem(err)
}

func writeEndpointAnswer(c echo.Context, status int, body []byte) error {
	if status == http.StatusCreated {
		var e struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &e) == nil {
			c.Response().Header().Set(echo.HeaderLocation, "/api/v1/endpoints/"+e.ID)
		}
	}
	return c.JSONBlob(status, body)
}

// requestHash tells one request from another for an Idempotency-Key: the route and what it got.
func requestHash(route string, v any) string {
	canon, _ := json.Marshal(v)
	sum := sha256.Sum256(append([]byte(route+"\n"), canon...))
	return hex.EncodeToString(sum[:])
}

func keyPrefix(c echo.Context) string {
	if k, ok := c.Get(apiKeyCtx).(checkout.APIKey); ok {
		return k.Prefix
	}
	return ""
}

// apiCreateEndpoint is POST /api/v1/endpoints: 201 with the endpoint and its secret.
func (h *Handlers) apiCreateEndpoint(c echo.Context) error {
	var b apiEndpointBody
	if err := readJSON(c, &b, apiNewEndpointFields); err != nil {
		return err
	}
	var in notify.Input
	if b.URL != nil {
		in.URL = *b.URL
	}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.EventTypes != nil {
		in.Types = *b.EventTypes
	}
	return h.answerOnce(c, requestHash("POST /api/v1/endpoints", b), func(ctx context.Context) (int, []byte, error) {
		e, err := h.cfg.Notifications.Create(ctx, in)
		if err != nil {
			return 0, nil, err
		}
		h.log.InfoContext(ctx, "notification endpoint added", "endpoint_id", e.ID, "key", keyPrefix(c))
		out := newAPIEndpoint(e, h.cfg.Now())
		out.Secret = e.Secret
		body, err := json.Marshal(out)
		return http.StatusCreated, body, err
	}, writeEndpointAnswer)
}

// apiListEndpoints is GET /api/v1/endpoints: every endpoint, oldest first (a shop has few).
func (h *Handlers) apiListEndpoints(c echo.Context) error {
	eps, err := h.cfg.Notifications.Endpoints(c.Request().Context())
	if err != nil {
		return err
	}
	out := struct {
		Data []apiEndpoint `json:"data"`
	}{Data: []apiEndpoint{}}
	now := h.cfg.Now()
	for _, e := range eps {
		out.Data = append(out.Data, newAPIEndpoint(e, now))
	}
	return c.JSON(http.StatusOK, out)
}

// apiGetEndpoint is GET /api/v1/endpoints/{id}.
func (h *Handlers) apiGetEndpoint(c echo.Context) error {
	id, err := h.apiEndpointID(c)
	if err != nil {
		return err
	}
	e, err := h.cfg.Notifications.Endpoint(c.Request().Context(), id)
	if err != nil {
		return endpointProblem(err)
	}
	return c.JSON(http.StatusOK, newAPIEndpoint(e, h.cfg.Now()))
}

// apiUpdateEndpoint is PATCH /api/v1/endpoints/{id}: the fields given change, the others stay.
// Settings are saved before enabled: when they are refused, nothing changes.
func (h *Handlers) apiUpdateEndpoint(c echo.Context) error {
	id, err := h.apiEndpointID(c)
	if err != nil {
		return err
	}
	var b apiEndpointBody
	if err := readJSON(c, &b, apiUpdateEndpointFields); err != nil {
		return err
	}
	ctx := c.Request().Context()
	n := h.cfg.Notifications
	e, err := n.Endpoint(ctx, id)
	if err != nil {
		return endpointProblem(err)
	}
	if b.URL != nil || b.Description != nil || b.EventTypes != nil {
		in := notify.Input{URL: e.URL, Description: e.Description, Types: e.Types}
		if b.URL != nil {
			in.URL = *b.URL
		}
		if b.Description != nil {
			in.Description = *b.Description
		}
		if b.EventTypes != nil {
			in.Types = *b.EventTypes
		}
		if e, err = n.Update(ctx, id, in); err != nil {
			return endpointProblem(err)
		}
	}
	if b.Enabled != nil && *b.Enabled != e.Enabled {
		if e, err = n.SetEnabled(ctx, id, *b.Enabled); err != nil {
			return endpointProblem(err)
		}
	}
	return c.JSON(http.StatusOK, newAPIEndpoint(e, h.cfg.Now()))
}

// apiDeleteEndpoint is DELETE /api/v1/endpoints/{id}: 204; the endpoint's log goes with it.
func (h *Handlers) apiDeleteEndpoint(c echo.Context) error {
	id, err := h.apiEndpointID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.cfg.Notifications.Delete(ctx, id); err != nil {
		return endpointProblem(err)
	}
	h.log.InfoContext(ctx, "notification endpoint deleted", "endpoint_id", id, "key", keyPrefix(c))
	return c.NoContent(http.StatusNoContent)
}

// apiRotateEndpointSecret is POST /api/v1/endpoints/{id}/rotate-secret: 200 with the endpoint
// and its new secret; the previous one signs beside it for notify.RotationOverlap. Under an
// Idempotency-Key a retry gets the same new secret instead of rotating once more, which would
// end the overlap of a secret the shop never saw.
func (h *Handlers) apiRotateEndpointSecret(c echo.Context) error {
	id, err := h.apiEndpointID(c)
	if err != nil {
		return err
	}
	return h.answerOnce(c, requestHash("POST /api/v1/endpoints/{id}/rotate-secret", id), func(ctx context.Context) (int, []byte, error) {
		e, err := h.cfg.Notifications.RotateSecret(ctx, id)
		if err != nil {
			return 0, nil, endpointProblem(err)
		}
		h.log.InfoContext(ctx, "notification secret rotated", "endpoint_id", id, "key", keyPrefix(c))
		out := newAPIEndpoint(e, h.cfg.Now())
		out.Secret = e.Secret
		body, err := json.Marshal(out)
		return http.StatusOK, body, err
	}, writeEndpointAnswer)
}
