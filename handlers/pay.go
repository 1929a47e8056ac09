package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// orderByToken finds the order behind a payment link. Any malformed or unknown token gets the
// same 404, so tokens cannot be told apart by probing.
func (h *Handlers) orderByToken(c echo.Context) (checkout.Order, error) {
	token := c.Param("token")
	if len(token) < 16 || len(token) > 64 {
		return checkout.Order{}, checkout.Errorf(checkout.ENotFound, "This payment link is not valid.")
	}
	o, err := h.store.OrderByToken(c.Request().Context(), token)
	if checkout.ErrorCode(err) == checkout.ENotFound {
		return o, checkout.Errorf(checkout.ENotFound, "This payment link is not valid.")
	}
	return o, err
}

func (h *Handlers) payView(o checkout.Order) views.PayView {
	v := views.PayView{Order: o, Merchant: h.cfg.MerchantName, Now: h.cfg.Now(), LogoURL: h.logoURL(), QRURL: qrURL(o.Token)}
	if h.cfg.MerchantBanqName != nil {
		v.BanqName = h.cfg.MerchantBanqName()
	}
	if h.cfg.Sandbox && h.cfg.SandboxURL != "" && o.PaymentID != "" {
		v.SandboxPayURL = strings.TrimRight(h.cfg.SandboxURL, "/") + "/sandbox/pay/" + url.PathEscape(o.PaymentID)
	}
	return v
}

func (h *Handlers) payPage(c echo.Context) error {
	o, err := h.orderByToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.Pay(h.payView(o)))
}
