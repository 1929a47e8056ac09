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
	v := views.PayView{Order: o, Merchant: h.cfg.MerchantName, Now: h.cfg.Now(), LogoURL: h.logoURL(), QRURL: qrURL(o.Token),
		BackURL: backURL(o), BackSeconds: backSeconds, BanqName: h.checkout.Merchant().Name}
	if o.ByLink() {
		// The code to scan is Banq's own link; until Banq made it there is nothing to scan.
		v.QRURL = ""
		if o.PaymentLink != "" {
			v.QRURL = banqQRURL(o.Token)
		}
	}
	if h.cfg.Sandbox && h.cfg.SandboxURL != "" && o.PaymentID != "" && !o.ByLink() {
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

// backSeconds is how long a finished order's page waits before it returns to the shop.
const backSeconds = 8

// backURL is where the customer goes back to the shop once the order is final: its return URL
// when paid, else its cancel URL (the return URL if it has none), with the order's id and
// reference added to the query. "" while the order is open, or when the shop gave no URL.
func backURL(o checkout.Order) string {
	if !o.State.Terminal() || o.ReturnURL == "" {
		return ""
	}
	to := o.ReturnURL
	if o.State != checkout.StatePaid && o.CancelURL != "" {
		to = o.CancelURL
	}
	u, err := url.Parse(to)
	if err != nil {
		return "" // checked when the order was made
	}
	q := u.Query()
	q.Set("order_id", o.Number())
	if o.Reference != "" {
		q.Set("reference", o.Reference)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
