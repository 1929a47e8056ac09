package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/static"
)

// Routes lists every route of the checkout with its middleware.
func (h *Handlers) Routes(e *echo.Echo) {
	e.HTTPErrorHandler = h.ErrorHandler
	// Behind no proxy by default: the peer address is the client, and X-Forwarded-For, which
	// anyone can send, is ignored. Rate limits key on this address.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(h.cfg.TrustedProxies) > 0 {
		trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range h.cfg.TrustedProxies {
			trust = append(trust, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trust...)
	}

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
	e.GET("/pay/:token/qr.svg", h.payQR, noReferrer)
	e.GET("/pay/:token/banq-qr.svg", h.payBanqQR, noReferrer)

	// The shop's API: API keys instead of sessions and CSRF; per-key scopes and rate limit.
	e.GET("/api/openapi.yaml", h.openAPI)
	shop := e.Group("/api/v1", noStore, middleware.BodyLimit("16K"))
	shop.POST("/orders", h.apiCreateOrder, h.apiKeyAuth(checkout.ScopeOrdersWrite))
	shop.GET("/orders", h.apiListOrders, h.apiKeyAuth(checkout.ScopeOrdersRead))
	shop.GET("/orders/:id", h.apiGetOrder, h.apiKeyAuth(checkout.ScopeOrdersRead))
	shop.POST("/orders/:id/cancel", h.apiCancelOrder, h.apiKeyAuth(checkout.ScopeOrdersWrite))

	// The merchant's branding on the customer pages.
	e.GET("/brand.css", h.brandCSS)
	e.GET("/brand/logo", h.logo)

	// The merchant's side: sessions and CSRF. Every state-changing request needs the token
	// (form field _csrf or header X-CSRF-Token) matching its cookie; browsers' Sec-Fetch-Site
	// is checked first, see fetchMetadata.
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		CookieName:     "checkout_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   h.secure,
		CookieSameSite: http.SameSiteLaxMode,
		ContextKey:     "csrf",
		ErrorHandler: func(error, echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, csrfRefused)
		},
	})
	browser := e.Group("", noStore, middleware.BodyLimit("64K"), fetchMetadata, csrf, h.loadUser)
	browser.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/orders") })
	browser.GET("/login", h.loginPage)
	browser.POST("/login", h.login)
	browser.POST("/logout", h.logout)

	merchant := browser.Group("", requireUser)
	merchant.GET("/orders", h.listOrders)
	merchant.GET("/orders.csv", h.exportOrders)
	merchant.GET("/orders/events", h.listEvents, stream)
	merchant.GET("/orders/new", h.newOrderForm)
	merchant.POST("/orders", h.createOrder)
	merchant.GET("/orders/:id", h.showOrder)
	merchant.GET("/orders/:id/events", h.orderEvents, stream)
	merchant.POST("/orders/:id/retry", h.retryOrder)
	merchant.POST("/orders/:id/cancel", h.cancelOrder)
	merchant.GET("/webhook-log", h.webhookLog)
	merchant.GET("/webhook-log/:id", h.webhookPage)
	merchant.POST("/webhook-log/:id/reprocess", h.reprocessWebhook)
	merchant.GET("/account", h.accountPage)
	merchant.POST("/account/password", h.changePassword)
	merchant.GET("/account/api-keys", h.apiKeysPage)
	merchant.POST("/account/api-keys", h.createAPIKey)
	merchant.POST("/account/api-keys/:id/revoke", h.revokeAPIKey)

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

const csrfRefused = "This form was not sent from this site, or it expired. Reload the page and try again."

// fetchMetadata refuses a state-changing request that the browser marks as sent by another
// site (Sec-Fetch-Site other than same-origin or none), whatever token it carries. Then it hides
// the header from echo's CSRF middleware (v4.15+), which would otherwise let any request
// claiming same-origin through without a token, and would render a fixed dummy token into
// forms: here every state-changing request must also carry the real token.
func fetchMetadata(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		default:
			switch r.Header.Get(echo.HeaderSecFetchSite) {
			case "", "same-origin", "none":
			default:
				return echo.NewHTTPError(http.StatusForbidden, csrfRefused)
			}
		}
		r.Header.Del(echo.HeaderSecFetchSite)
		return next(c)
	}
}

// noStore keeps the merchant's pages out of caches: after sign-out, Back shows nothing.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
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
