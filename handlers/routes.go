package handlers

import (
	"net/http"
	"net/url"
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
	e.Use(h.shopLocale)

	// Probes, and metrics when they are served here (behind a bearer token).
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	if h.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(h.cfg.Metrics))
	}

	// Static assets, embedded.
	assets := e.Group("/static", cacheAssets, compress)
	assets.GET("/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.Files))))

	// Banq's webhooks: HMAC instead of CSRF; the body limit is enforced inside, before reading.
	// Listed in full so that no request under /webhooks/ falls through to the merchant's
	// catch-all routes and their session and CSRF machinery. A trailing slash, an easy slip when
	// the URL is registered, is the same URL; other methods are told which one to use. Each
	// delivery, once received, is marked for the worker's pacing.
	webhooks := e.Group("/webhooks")
	for _, path := range []string{"/banq", "/banq/"} {
		webhooks.Any(path, onlyPost)
		webhooks.POST(path, h.webhook, markReceived(h.cfg.Ingest))
	}
	webhooks.Any("/*", echo.NotFoundHandler)

	// The customer's page and its stream: the token is the only key. Both are written in the
	// reader's language.
	e.GET("/pay/:token", h.payPage, noReferrer, compress, h.customerLanguage)
	e.GET("/pay/:token/events", h.payEvents, noReferrer, stream, h.limitStreams, h.customerLanguage)
	e.GET("/pay/:token/qr.svg", h.payQR, noReferrer)
	e.GET("/pay/:token/banq-qr.svg", h.payBanqQR, noReferrer)

	// The shop's API: API keys instead of sessions and CSRF; per-key scopes and rate limit.
	e.GET("/api/openapi.yaml", h.openAPI)
	shop := e.Group("/api/v1", noStore, middleware.BodyLimit("16K"))
	shop.POST("/orders", h.apiCreateOrder, h.apiKeyAuth(checkout.ScopeOrdersWrite))
	shop.GET("/orders", h.apiListOrders, h.apiKeyAuth(checkout.ScopeOrdersRead))
	shop.GET("/orders/:id", h.apiGetOrder, h.apiKeyAuth(checkout.ScopeOrdersRead))
	shop.POST("/orders/:id/cancel", h.apiCancelOrder, h.apiKeyAuth(checkout.ScopeOrdersWrite), h.audited(checkout.AuditOrderCancelled, "order"))
	if h.cfg.Notifications != nil {
		endpoints := h.apiKeyAuth(checkout.ScopeEndpointsWrite)
		changed := h.audited(checkout.AuditEndpointChanged, "endpoint")
		shop.POST("/endpoints", h.apiCreateEndpoint, endpoints, h.audited(checkout.AuditEndpointCreated, "endpoint"))
		shop.GET("/endpoints", h.apiListEndpoints, endpoints)
		shop.GET("/endpoints/:id", h.apiGetEndpoint, endpoints)
		shop.PATCH("/endpoints/:id", h.apiUpdateEndpoint, endpoints, changed)
		shop.DELETE("/endpoints/:id", h.apiDeleteEndpoint, endpoints, changed)
		shop.POST("/endpoints/:id/rotate-secret", h.apiRotateEndpointSecret, endpoints, changed)
	}

	// The merchant's branding on the customer pages.
	e.GET("/brand.css", h.brandCSS, compress)
	e.GET("/brand/logo", h.logo)

	// The merchant's side: sessions and CSRF. Every state-changing request needs the token
	// (form field _csrf or header X-CSRF-Token) matching its cookie; first, what browsers say
	// of its origin is checked, see crossOrigin.
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
	browser := e.Group("", noStore, middleware.BodyLimit("64K"), h.crossOrigin(), csrf, h.loadUser, compressPages)
	browser.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/orders") })
	browser.GET("/login", h.loginPage)
	browser.POST("/login", h.login)
	browser.POST("/logout", h.logout)

	// The invited choose their password here; the token is the key.
	browser.GET("/invite/:token", h.invitation, noReferrer)
	browser.POST("/invite/:token", h.acceptInvite, noReferrer)

	// The merchant's pages, each with the least role that may use it (checked here, on the
	// server): viewers read, staff also create, cancel and retry orders, owners do everything.
	// Someone given a temporary password may only reach the account page until they change it.
	viewer, staff, owner := requireRole(checkout.RoleViewer), requireRole(checkout.RoleStaff), requireRole(checkout.RoleOwner)
	account := browser.Group("", requireUser)
	account.GET("/account", h.accountPage, viewer)
	account.POST("/account/password", h.changePassword, viewer, h.audited(checkout.AuditPasswordChanged, ""))

	merchant := browser.Group("", requireUser, passwordChosen)
	merchant.GET("/orders", h.listOrders, viewer)
	merchant.GET("/orders.csv", h.exportOrders, viewer)
	merchant.GET("/orders/events", h.listEvents, viewer, stream, h.limitStreams)
	merchant.GET("/orders/new", h.newOrderForm, staff)
	merchant.POST("/orders", h.createOrder, staff, h.audited(checkout.AuditOrderCreated, "order"))
	merchant.GET("/orders/:id", h.showOrder, viewer)
	merchant.GET("/orders/:id/events", h.orderEvents, viewer, stream, h.limitStreams)
	merchant.POST("/orders/:id/retry", h.retryOrder, staff, h.audited(checkout.AuditOrderRetried, "order"))
	merchant.POST("/orders/:id/cancel", h.cancelOrder, staff, h.audited(checkout.AuditOrderCancelled, "order"))
	merchant.GET("/webhook-log", h.webhookLog, viewer)
	merchant.GET("/webhook-log/:id", h.webhookPage, viewer)
	merchant.POST("/webhook-log/:id/reprocess", h.reprocessWebhook, owner, h.audited(checkout.AuditWebhookReprocess, "webhook"))
	if h.cfg.Notifications != nil {
		merchant.GET("/notifications", h.endpoints, owner)
		merchant.POST("/notifications", h.createEndpoint, owner, h.audited(checkout.AuditEndpointCreated, "endpoint"))
		merchant.GET("/notifications/:id", h.showEndpoint, owner)
		merchant.POST("/notifications/:id", h.updateEndpoint, owner, h.audited(checkout.AuditEndpointChanged, "endpoint"))
		merchant.POST("/notifications/:id/:action", h.endpointAction, owner, h.audited(checkout.AuditEndpointChanged, "endpoint"))
		merchant.GET("/notifications/deliveries/:id", h.showDelivery, owner)
		merchant.POST("/notifications/deliveries/:id/redeliver", h.redeliver, owner, h.audited(checkout.AuditRedelivered, "delivery"))
	}
	merchant.GET("/account/api-keys", h.apiKeysPage, owner)
	merchant.POST("/account/api-keys", h.createAPIKey, owner, h.audited(checkout.AuditAPIKeyCreated, "key"))
	merchant.POST("/account/api-keys/:id/revoke", h.revokeAPIKey, owner, h.audited(checkout.AuditAPIKeyRevoked, "key"))
	merchant.GET("/team", h.teamPage, owner)
	merchant.POST("/team/invites", h.invite, owner, h.audited(checkout.AuditInvited, ""))
	merchant.POST("/team/users", h.addUser, owner, h.audited(checkout.AuditUserAdded, ""))
	merchant.POST("/team/users/:id/role", h.setRole, owner, h.audited(checkout.AuditRoleChanged, "user"))
	merchant.POST("/team/users/:id/disable", h.setDisabled(true), owner, h.audited(checkout.AuditUserDisabled, "user"))
	merchant.POST("/team/users/:id/enable", h.setDisabled(false), owner, h.audited(checkout.AuditUserEnabled, "user"))
	merchant.GET("/audit", h.auditLog, owner)

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

// crossOrigin refuses a state-changing request that a browser says another origin sent, whatever
// token it carries: Go's http.CrossOriginProtection reads Sec-Fetch-Site and, from browsers
// without it, Origin against Host (CHECKOUT_PUBLIC_URL's origin is trusted too, for a proxy
// that rewrites Host). Then it hides Sec-Fetch-Site from echo's CSRF middleware (v4.15+), which
// would otherwise let any request claiming same-origin through without a token, and would render
// a fixed dummy token into forms: here every state-changing request must also carry the real
// token.
func (h *Handlers) crossOrigin() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(h.cfg.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			h.log.Warn("CHECKOUT_PUBLIC_URL is no origin to trust", "err", err)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if err := cop.Check(r); err != nil {
				return echo.NewHTTPError(http.StatusForbidden, csrfRefused)
			}
			r.Header.Del(echo.HeaderSecFetchSite)
			return next(c)
		}
	}
}

// onlyPost answers a method the route does not take: 405, naming the one it does.
func onlyPost(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderAllow, http.MethodPost)
	return echo.NewHTTPError(http.StatusMethodNotAllowed, "use POST")
}

// compress gzips an answer for a client that accepts it: pages, CSS and JS shrink to about a
// quarter, which a phone on a slow network feels most. Answers too short to gain are sent as they
// are.
var compress = middleware.GzipWithConfig(middleware.GzipConfig{Level: 6, MinLength: 1024})

// compressPages is compress for the merchant's routes, except their event streams (gzip would
// hold back each event in its buffer, and keep a compressor's memory per open stream) and the
// CSV export (a spreadsheet's download, where compressing would cost more CPU than the list
// of orders itself).
var compressPages = middleware.GzipWithConfig(middleware.GzipConfig{Level: 6, MinLength: 1024,
	Skipper: func(c echo.Context) bool {
		return strings.HasSuffix(c.Path(), "/events") || c.Path() == "/orders.csv"
	}})

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
		if p := c.Request().URL.Path; strings.HasSuffix(p, ".css") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".svg") {
			c.Response().Header().Set("Cache-Control", "public, max-age=300")
		}
		return next(c)
	}
}
