package app_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/banq-checkout/checkout/app"
)

// The Banq client keeps its connections while the webhook worker's calls (16 at once) come and
// go, instead of dialing a new one for every call beyond net/http's default two idle per host.
func TestBanqHTTPClientReusesConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"pay-1"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hc := app.NewBanqHTTPClient()
	defer hc.CloseIdleConnections()
	const workers, calls = 16, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				resp, err := hc.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := conns.Load(); n > 2*workers {
		t.Errorf("%d calls by %d workers opened %d connections, want at most %d", workers*calls, workers, n, 2*workers)
	}
}
