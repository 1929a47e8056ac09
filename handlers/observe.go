package handlers

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/banq-checkout/checkout/banq"
)

// Observer records what the handlers see, for metrics (metrics.Metrics implements it).
type Observer interface {
	// Request records an answered request by route pattern; stream is true for live streams,
	// whose duration is the page's lifetime rather than a latency.
	Request(route, method string, status int, d time.Duration, stream bool)
	// Webhook records a received webhook's outcome and, when rejected, the reason.
	Webhook(outcome, reason string)
}

type noObserver struct{}

func (noObserver) Request(string, string, int, time.Duration, bool) {}
func (noObserver) Webhook(string, string)                           {}

// requestID gives every request an id, keeping a well-formed X-Request-Id from a proxy, answers
// it in X-Request-Id, and puts it in the request's context: log lines written with that context
// carry it, and so do the Banq calls the request causes.
func requestID() echo.MiddlewareFunc {
	id := middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		RequestIDHandler: func(c echo.Context, id string) {
			r := c.Request()
			c.SetRequest(r.WithContext(banq.WithRequestID(r.Context(), id)))
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withID := id(next)
		return func(c echo.Context) error {
			// A proxy's id ties its logs to ours; one that is not valid is replaced, since the
			// id is logged and sent to Banq.
			if v := c.Request().Header.Get(echo.HeaderXRequestID); v != "" && !banq.ValidRequestID(v) {
				c.Request().Header.Del(echo.HeaderXRequestID)
			}
			return withID(c)
		}
	}
}

// streamKey marks a request as a live stream (see stream).
const streamKey = "stream"

// stream marks a route as a live stream: its duration is not a latency.
func stream(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(streamKey, true)
		return next(c)
	}
}

// requestLog writes one line per answered request, with its request id, and records it for
// metrics. The line names the route pattern and, except for payment pages, the path: a payment
// link's token is a secret and stays out of the logs. Probes and scrapes log at debug level.
func (h *Handlers) requestLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:  true, // the error handler decides the status before the line is written
		LogLatency:   true,
		LogMethod:    true,
		LogURIPath:   true,
		LogRoutePath: true,
		LogRequestID: true,
		LogStatus:    true,
		LogError:     true,
		LogRemoteIP:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			route := v.RoutePath
			if !h.routes[v.Method+" "+route] {
				route = "unmatched" // a 404 or 405: the path would give unbounded label values
			}
			isStream, _ := c.Get(streamKey).(bool)
			h.observer.Request(route, metricMethod(v.Method), v.Status, v.Latency, isStream)

			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelWarn // the error handler logged the cause
			case route == "/healthz" || route == "/readyz" || route == "/metrics":
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID),
				slog.String("method", v.Method),
				slog.String("route", route),
			}
			if !strings.HasPrefix(v.URIPath, "/pay/") {
				attrs = append(attrs, slog.String("path", v.URIPath))
			}
			attrs = append(attrs,
				slog.Int("status", v.Status),
				slog.Duration("duration", v.Latency),
				slog.String("remote_ip", v.RemoteIP),
			)
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			h.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// metricMethod bounds the method label to the methods the routes use.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
		return m
	}
	return "other"
}
