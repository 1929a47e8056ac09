package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/banq-checkout/checkout/static"
)

// Routes lists every route of the checkout with its middleware.
func (h *Handlers) Routes(e *echo.Echo) {
	e.HTTPErrorHandler = h.ErrorHandler
	// Behind no proxy by default: the peer address is the client. Configure a trusted proxy
	// before relying on X-Forwarded-For (rate limits key on this).
	e.IPExtractor = echo.ExtractIPDirect()

	e.Use(requestID())
	e.Use(h.requestLog())
	e.Use(middleware.Recover())
	e.Use(h.securityHeaders)

	// Probes, and metrics when they are served here (behind a bearer token).
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	if h.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(h.cfg.Metrics))
	}

	// Static assets, embedded.
	assets := e.Group("/static", cacheAssets)
	assets.GET("/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.Files))))

	// Banq's webhooks: HMAC instead of CSRF; the body limit is enforced inside, before reading.
	e.POST("/webhooks/banq", h.webhook)

	// The customer's page and its stream: the token is the only key.
	e.GET("/pay/:token", h.payPage, noReferrer)
	e.GET("/pay/:token/events", h.payEvents, noReferrer, stream)

	// The merchant's side: sessions and CSRF.
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		CookieName:     "checkout_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   h.secure,
		CookieSameSite: http.SameSiteLaxMode,
		ContextKey:     "csrf",
	})
	browser := e.Group("", middleware.BodyLimit("64K"), csrf, h.loadUser)
	browser.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/orders") })
	browser.GET("/login", h.loginPage)
	browser.POST("/login", h.login)
	browser.POST("/logout", h.logout)

	merchant := browser.Group("", requireUser)
	merchant.GET("/orders", h.listOrders)
	merchant.GET("/orders/events", h.listEvents, stream)
	merchant.GET("/orders/new", h.newOrderForm)
	merchant.POST("/orders", h.createOrder)
	merchant.GET("/orders/:id", h.showOrder)
	merchant.GET("/orders/:id/events", h.orderEvents, stream)
	merchant.POST("/orders/:id/retry", h.retryOrder)
	merchant.GET("/account", h.accountPage)
	merchant.POST("/account/password", h.changePassword)

	for _, r := range e.Routes() {
		h.routes[r.Method+" "+r.Path] = true
	}
}

// securityHeaders sets the headers every answer carries. No inline script or style is allowed:
// the pages load app.js and app.css from this origin only.
func (h *Handlers) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "+
			"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if h.secure {
			hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

// noReferrer keeps the payment link's token from leaking to other sites through Referer.
func noReferrer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

func cacheAssets(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.HasSuffix(c.Request().URL.Path, ".css") || strings.HasSuffix(c.Request().URL.Path, ".js") {
			c.Response().Header().Set("Cache-Control", "public, max-age=300")
		}
		return next(c)
	}
}
