// Package graceful holds what the app's and the sandbox's HTTP servers share at shutdown.
package graceful

import (
	"net"
	"net/http"
	"sync"
)

// CloseUnusedOnShutdown makes srv.Shutdown close at once the connections that never sent a
// request, as browsers and HTTP clients open ahead of need: net/http counts those idle only
// after five seconds, and until then they hold a graceful shutdown (and a restart) for nothing.
// It sets srv.ConnState.
func CloseUnusedOnShutdown(srv *http.Server) {
	var unused sync.Map // net.Conn → struct{}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			unused.Store(c, struct{}{})
		} else {
			unused.Delete(c)
		}
	}
	srv.RegisterOnShutdown(func() {
		unused.Range(func(c, _ any) bool {
			c.(net.Conn).Close()
			return true
		})
	})
}
