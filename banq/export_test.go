package banq

import (
	"context"
	"net/http"
	"time"
)

// SetClock makes c's token cache read the time from now, so that tests can move past a
// token's renewal time without waiting for it.
func SetClock(c *Client, now func() time.Time) { c.tokens.now = now }

// PostWithoutKey sends body to path as a POST that carries no idempotency key, through the
// same request helper as every endpoint.
func (c *Client) PostWithoutKey(ctx context.Context, path string, body any) error {
	return c.do(ctx, request{route: "test.post", method: http.MethodPost, url: c.apiURL + path, body: body, auth: true})
}
