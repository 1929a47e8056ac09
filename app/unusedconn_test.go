package app_test

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/app/apptest"
)

// TestStopIsNotHeldByUnusedConnections opens connections that send nothing, as browsers open
// ahead of need, to the app and to its sandbox: stopping must neither wait for them nor fail.
func TestStopIsNotHeldByUnusedConnections(t *testing.T) {
	a := start(t, apptest.Options{})
	for _, base := range []string{a.URL, a.SandboxURL} {
		u, _ := url.Parse(base)
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(50 * time.Millisecond) // the servers have accepted them
	start := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("stop took %v with unused connections open, want it at once (net/http waits 5s for them)", took.Round(time.Millisecond))
	}
}
