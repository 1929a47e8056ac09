package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
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

// langCookie keeps the language a customer picked with the switcher (?lang=) on the payment
// pages.
const langCookie = "checkout_lang"

const readerKey = "reader"

// reader picks the customer's language: ?lang=, then the switcher's cookie, then the browser's
// Accept-Language, then the shop's default.
func (h *Handlers) reader(r *http.Request) *locale.Printer {
	codes := []string{r.URL.Query().Get("lang")}
	if ck, err := r.Cookie(langCookie); err == nil {
		codes = append(codes, ck.Value)
	}
	return h.cfg.Locale.Pick(codes, r.Header.Get("Accept-Language"))
}

// customerLanguage writes the customer's pages in the reader's language (see reader), and keeps
// a language picked with ?lang= in a cookie for the next visit and the page's stream.
func (h *Handlers) customerLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := h.reader(r)
		if l, ok := locale.Lookup(r.URL.Query().Get("lang")); ok {
			c.SetCookie(&http.Cookie{Name: langCookie, Value: l.Code, Path: "/pay/", MaxAge: 365 * 24 * 60 * 60,
				HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
		}
		c.Response().Header().Set("Content-Language", p.Code)
		c.Response().Header().Add("Vary", "Accept-Language, Cookie")
		c.Set(readerKey, p)
		c.SetRequest(r.WithContext(locale.With(r.Context(), p)))
		return next(c)
	}
}

// shopLocale writes every page, unless customerLanguage says otherwise, in English with the
// shop's currency and time zone.
func (h *Handlers) shopLocale(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(locale.With(r.Context(), h.cfg.Locale.Shop())))
		return next(c)
	}
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
