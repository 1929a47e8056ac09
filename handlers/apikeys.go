package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// The merchant's page Account → API keys: make keys (shown once) and revoke them.

// offeredScopes are ticked on a new key's form: what a shop's backend needs for orders. A key
// that may keep the notification endpoints (and so read their secrets) is asked for on purpose.
var offeredScopes = []string{checkout.ScopeOrdersRead, checkout.ScopeOrdersWrite}

func (h *Handlers) apiKeysPage(c echo.Context) error {
	return h.renderAPIKeys(c, http.StatusOK, views.APIKeysView{Scopes: offeredScopes})
}

func (h *Handlers) renderAPIKeys(c echo.Context, status int, v views.APIKeysView) error {
	keys, err := h.store.APIKeys(c.Request().Context())
	if err != nil {
		return err
	}
	v.Keys = keys
	return render(c, status, views.APIKeys(h.page(c, "API keys", "account"), v))
}

func (h *Handlers) createAPIKey(c echo.Context) error {
	u := c.Get(userKey).(checkout.User)
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	name, scopes := form.Get("name"), form["scopes"]
	secret, k, err := checkout.NewAPIKey(name, scopes)
	if checkout.ErrorCode(err) == checkout.EInvalid {
		ce := err.(*checkout.Error)
		return h.renderAPIKeys(c, http.StatusUnprocessableEntity, views.APIKeysView{Name: name, Scopes: scopes, Errors: ce.Fields})
	}
	if err != nil {
		return err
	}
	k.CreatedBy = u.ID
	if k, err = h.store.CreateAPIKey(c.Request().Context(), k); err != nil {
		return err
	}
	setAuditSubject(c, k.Prefix+" ("+k.Name+")")
	h.log.InfoContext(c.Request().Context(), "API key created", "key", k.Prefix, "name", k.Name, "user_id", u.ID)
	// Answered with the page itself, not a redirect: the key must not travel in a URL.
	return h.renderAPIKeys(c, http.StatusCreated, views.APIKeysView{NewKey: secret, NewName: k.Name, Scopes: offeredScopes})
}

func (h *Handlers) revokeAPIKey(c echo.Context) error {
	id, err := idParam(c, "There is no such key.")
	if err != nil {
		return err
	}
	if err := h.store.RevokeAPIKey(c.Request().Context(), id); err != nil {
		return err
	}
	h.log.InfoContext(c.Request().Context(), "API key revoked", "key_id", id)
	return h.renderAPIKeys(c, http.StatusOK, views.APIKeysView{Message: "The key was revoked: requests with it are refused from now on.", Scopes: offeredScopes})
}
