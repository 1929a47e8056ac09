package handlers

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// Brand is how the customer pages show who asks for the money: the merchant's logo and accent
// colour (CHECKOUT_MERCHANT_LOGO, CHECKOUT_ACCENT_COLOR), besides the merchant's name.
type Brand struct {
	LogoURL  string // a same-origin URL of the logo; "" when Logo is served at /brand/logo
	Logo     []byte // the logo file, read at start
	LogoType string // its content type
	Accent   string // #rrggbb, validated; "" for the stylesheet's own
}

// logoURL is where the pages find the logo, or "" without one.
func (h *Handlers) logoURL() string {
	switch {
	case h.cfg.Brand.LogoURL != "":
		return h.cfg.Brand.LogoURL
	case len(h.cfg.Brand.Logo) > 0:
		return "/brand/logo"
	}
	return ""
}

// brandCSS serves the accent colour as a stylesheet: the CSP allows no inline style, so the
// colour cannot go into the page itself.
func (h *Handlers) brandCSS(c echo.Context) error {
	css := "/* The merchant's accent colour (CHECKOUT_ACCENT_COLOR). */\n"
	if a := h.cfg.Brand.Accent; a != "" {
		css += fmt.Sprintf(":root { --accent: %s; --accent-ink: %s; }\n", a, inkOn(a))
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", []byte(css))
}

// inkOn picks black or white text for a background of colour hex (#rrggbb), whichever reads
// better (WCAG relative luminance, threshold where both contrasts are equal).
func inkOn(hex string) string {
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil || len(hex) != 7 {
		return "#fff"
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
	if l > 0.179 {
		return "#000"
	}
	return "#fff"
}

// logo serves the configured logo file. An SVG logo gets a sandbox of its own, so that opened
// on its own it can run nothing.
func (h *Handlers) logo(c echo.Context) error {
	b := h.cfg.Brand
	if len(b.Logo) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No logo is configured.")
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	return c.Blob(http.StatusOK, b.LogoType, b.Logo)
}

// payQR serves the payment link of the order behind token as a QR code (SVG), for the order
// page at the counter and the customer page's "continue on your phone".
func (h *Handlers) payQR(c echo.Context) error {
	o, err := h.orderByToken(c)
	if err != nil {
		return err
	}
	svg, err := views.QRSVG(h.payURL(o))
	if err != nil {
		return err
	}
	// The link is a secret: the picture may be kept by this browser only.
	c.Response().Header().Set("Cache-Control", "private, max-age=3600")
	return c.Blob(http.StatusOK, "image/svg+xml", svg)
}

// payBanqQR serves Banq's payment link of an order paid by link as a QR code (SVG): scanned
// with a phone, it opens the payment in Banq there.
func (h *Handlers) payBanqQR(c echo.Context) error {
	o, err := h.orderByToken(c)
	if err != nil {
		return err
	}
	if o.PaymentLink == "" {
		return checkout.Errorf(checkout.ENotFound, "This order has no Banq payment link yet.")
	}
	svg, err := views.QRSVG(o.PaymentLink)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=3600")
	return c.Blob(http.StatusOK, "image/svg+xml", svg)
}

func banqQRURL(token string) string { return "/pay/" + token + "/banq-qr.svg" }

// qrURL is the address of an order's QR code.
func qrURL(token string) string { return "/pay/" + token + "/qr.svg" }
