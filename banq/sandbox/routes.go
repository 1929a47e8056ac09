package sandbox

import (
	"embed"
	"io/fs"
	"net/http"
	"strconv"
)

//go:embed static
var staticFiles embed.FS

// routes lists every route of the sandbox with its middleware.
func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(h http.HandlerFunc) http.Handler { return s.apiFaults(true, s.authenticated(h)) }

	// The Open API (see banq/types.go for the shapes).
	mux.Handle("POST /oauth/token", s.apiFaults(false, http.HandlerFunc(s.handleToken)))
	mux.Handle("POST /api/v1/payments/get-paid-direct", api(s.handleCreate(false)))
	mux.Handle("POST /api/v1/payments/get-paid-link", api(s.handleCreate(true)))
	mux.Handle("GET /api/v1/payments/{id}", api(s.handleGetPayment))
	mux.Handle("GET /api/v1/transactions", api(s.handleListTransactions))
	mux.Handle("GET /api/v1/transactions/{id}", api(s.handleGetTransaction))
	mux.Handle("GET /api/v1/banqs", api(s.handleListBanqs))
	mux.Handle("GET /api/v1/users/me", api(s.handleMe))
	mux.Handle("GET /api/v1/account-spaces/{id}/webhook-config", api(s.handleGetWebhookConfig))
	mux.Handle("POST /api/v1/account-spaces/{id}/webhook-config", api(s.handlePutWebhookConfig(true)))
	mux.Handle("PUT /api/v1/account-spaces/{id}/webhook-config", api(s.handlePutWebhookConfig(false)))
	mux.Handle("/api/v1/", api(handleAPINotFound))

	// Control endpoints (JSON, unauthenticated: the sandbox is for trying things out).
	mux.HandleFunc("POST /sandbox/payments/{id}/{action}", s.handleAction)
	mux.HandleFunc("GET /sandbox/payments", s.handleListPayments)
	mux.HandleFunc("GET /sandbox/faults", s.handleGetFaults)
	mux.HandleFunc("PUT /sandbox/faults", s.handlePutFaults)
	mux.HandleFunc("GET /sandbox/deliveries", s.handleDeliveries)

	// The payer's Banq app.
	mux.HandleFunc("GET /sandbox/{$}", s.pagePayers)
	mux.HandleFunc("GET /sandbox/banqs/{guid}", s.pageBanq)
	mux.HandleFunc("GET /sandbox/pay/{id}", s.pagePay)
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /sandbox/static/", cacheFor(3600, http.StripPrefix("/sandbox/static/", http.FileServerFS(static))))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /{$}", http.RedirectHandler("/sandbox/", http.StatusFound))

	return secureHeaders(limitBody(mux))
}

// limitBody bounds every request body; reading past it fails and the handlers answer 413.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		h.ServeHTTP(w, r)
	})
}

// secureHeaders sets headers that pages need and API answers don't mind: no script or inline
// style may run, forms post only here, no one frames the payer's buttons.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func cacheFor(seconds int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(seconds))
		h.ServeHTTP(w, r)
	})
}
