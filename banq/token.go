package banq

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// tokenCache holds the one access token that every goroutine of a Client shares. Callers that
// find no usable token wait on a single fetch in flight, so a cold client under load asks the
// auth server once.
type tokenCache struct {
	fetch       func(ctx context.Context) (token string, ttl time.Duration, err error)
	now         func() time.Time
	renewBefore time.Duration
	log         *slog.Logger

	mu       sync.Mutex
	token    string
	expireAt time.Time // zero when the auth server gave no lifetime: keep until a 401
	renewAt  time.Time
	inflight *tokenFetch
}

// tokenFetch is one request for a token that any number of callers wait on.
type tokenFetch struct {
	done  chan struct{} // closed when token and err are set
	token string
	err   error
}

// get returns the cached token, or waits for a fetch when there is none or it is due for
// renewal. If a renewal fails while the old token has not yet expired, get returns the old
// token: the auth server being down for a moment need not fail calls.
func (t *tokenCache) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	if t.token != "" && (t.renewAt.IsZero() || t.now().Before(t.renewAt)) {
		token := t.token
		t.mu.Unlock()
		return token, nil
	}
	f := t.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		t.inflight = f
		// The fetch outlives the caller that started it: other callers wait on it too, and
		// one of them giving up must not fail the others. Its own attempts are bounded.
		go t.run(context.WithoutCancel(ctx), f)
	}
	old := t.token
	t.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return "", fmt.Errorf("banq oauth.token: %w", ctx.Err())
	}
	if f.err == nil {
		return f.token, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old != "" && t.token == old && t.now().Before(t.expireAt) {
		t.log.WarnContext(ctx, "banq: token renewal failed, using the current token until it expires",
			"expires_at", t.expireAt, "error", f.err)
		return old, nil
	}
	return "", f.err
}

func (t *tokenCache) run(ctx context.Context, f *tokenFetch) {
	start := t.now()
	token, ttl, err := t.fetch(ctx)

	t.mu.Lock()
	if err == nil {
		t.token = token
		t.expireAt, t.renewAt = time.Time{}, time.Time{}
		if ttl > 0 {
			// Measured from before the request, so that the token is renewed early rather
			// than late; never more than half its lifetime early, or a short-lived token
			// would be renewed on every call.
			t.expireAt = start.Add(ttl)
			t.renewAt = t.expireAt.Add(-min(t.renewBefore, ttl/2))
		}
	}
	t.inflight = nil
	f.token, f.err = token, err
	t.mu.Unlock()
	close(f.done)
}

// invalidate drops token after Banq refused it, unless the cache already holds another one:
// a newer token fetched meanwhile by another caller must not be thrown away.
func (t *tokenCache) invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == token {
		t.token = ""
		t.expireAt, t.renewAt = time.Time{}, time.Time{}
	}
}
