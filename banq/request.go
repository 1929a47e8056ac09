package banq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxAnswer bounds how much of an answer the client reads.
const maxAnswer = 4 << 20

// request is one call to Banq, as an endpoint method describes it to do.
type request struct {
	route          string // route name, for errors, logs and Observe: "payments.get"
	method         string
	url            string // absolute, query included
	body           any    // sent as JSON when not nil
	idempotencyKey string // sent as X-Idempotent-Id when not empty
	idempotent     bool   // a POST that is safe to repeat without an idempotency key
	auth           bool   // an API call: sends the bearer token and X-Company-Id
	out            any    // a success answer is decoded into it when not nil
}

// retryable reports whether r may be sent again after a failure whose outcome is unknown. A
// POST may not, unless it carries an idempotency key or is idempotent by nature: sending it
// again could create a second payment.
func (r *request) retryable() bool {
	return r.method != http.MethodPost || r.idempotencyKey != "" || r.idempotent
}

// answer is what one attempt received.
type answer struct {
	status     int
	body       []byte
	tooLarge   bool          // body was cut at maxAnswer
	retryAfter time.Duration // from a Retry-After header, 0 if none
}

// do sends r until it succeeds or fails for good. Network failures, 429 and 5xx are retried
// with exponential backoff and full jitter, up to MaxAttempts in all, when r is retryable. A
// 401 on an API call drops the token and retries once with a new one; that retry is not
// counted in MaxAttempts. A cancelled ctx stops at once and returns ctx.Err() wrapped.
func (c *Client) do(ctx context.Context, r request) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return invalidArgument(r.route, "encoding the request: "+err.Error())
		}
	}
	renewed := false
	for attempt := 1; ; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("banq %s: %w", r.route, err)
		}
		var token string
		if r.auth {
			var err error
			if token, err = c.tokens.get(ctx); err != nil {
				return err
			}
		}
		a, err := c.send(ctx, &r, body, token, attempt)
		if ctx.Err() != nil {
			return fmt.Errorf("banq %s: %w", r.route, ctx.Err())
		}
		if err == nil && a.status == http.StatusUnauthorized && r.auth && !renewed {
			renewed = true
			c.tokens.invalidate(token)
			c.log.InfoContext(ctx, "banq: token refused, renewing it and retrying once", "route", r.route)
			continue
		}
		if err == nil && a.status >= 200 && a.status < 300 {
			return decodeAnswer(r.route, a, r.out)
		}

		var e *Error
		if err != nil {
			e = &Error{Op: r.route, Message: "network failure", kind: ErrUnavailable, cause: err}
		} else {
			e = errorFromAnswer(r.route, a.status, a.body)
		}
		if e.kind != ErrUnavailable || !r.retryable() || attempt >= c.maxAttempts {
			if e.kind == ErrUnavailable && attempt > 1 {
				e.Message += fmt.Sprintf(" (after %d attempts)", attempt)
			}
			return e
		}
		wait := c.backoff(attempt, a.retryAfter)
		c.log.WarnContext(ctx, "banq: call failed, retrying",
			"route", r.route, "attempt", attempt, "status", a.status, "wait", wait, "error", e)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("banq %s: %w (while retrying after: %v)", r.route, ctx.Err(), e)
		}
		attempt++
	}
}

// doJSON is do for a call whose success answer is a T. On error it returns the zero T.
func doJSON[T any](ctx context.Context, c *Client, r request) (T, error) {
	var out T
	r.out = &out
	if err := c.do(ctx, r); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// send makes one attempt, bounded by the client's Timeout, and reads the whole answer.
func (c *Client) send(ctx context.Context, r *request, body []byte, token string, attempt int) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth {
		req.Header.Set("Authorization", "Bearer "+token)
		if c.companyID != "" {
			req.Header.Set(HeaderCompanyID, c.companyID)
		}
	}
	if r.idempotencyKey != "" {
		req.Header.Set(HeaderIdempotency, r.idempotencyKey)
	}
	if id := requestID(ctx); ValidRequestID(id) {
		req.Header.Set(HeaderRequestID, id)
	}

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(ctx, r, attempt, 0, time.Since(start))
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if len(a.body) > maxAnswer {
		a.body, a.tooLarge = a.body[:maxAnswer], true
	} else if err == nil {
		// Drain what is left (normally nothing) so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	c.observe(ctx, r, attempt, resp.StatusCode, time.Since(start))
	if err != nil {
		return answer{}, fmt.Errorf("reading the answer: %w", err)
	}
	return a, nil
}

func (c *Client) observe(ctx context.Context, r *request, attempt, status int, d time.Duration) {
	c.log.DebugContext(ctx, "banq: call", "route", r.route, "method", r.method,
		"attempt", attempt, "status", status, "duration", d)
	if c.observer != nil {
		c.observer(r.route, status, d)
	}
}

// decodeAnswer decodes a success answer into out. An answer that cannot be read is an *Error
// with an unknown outcome: Banq did what was asked, but the client cannot tell what came of it.
func decodeAnswer(op string, a answer, out any) error {
	if out == nil {
		return nil
	}
	unreadable := func(why string) error {
		return &Error{Op: op, Status: a.status, Message: why, kind: ErrUnexpected, unknownOutcome: true}
	}
	if a.tooLarge {
		return unreadable(fmt.Sprintf("answer is larger than %d bytes", maxAnswer))
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return unreadable("unreadable answer: " + err.Error())
	}
	if c, ok := out.(answerChecker); ok {
		if err := c.checkAnswer(); err != nil {
			return unreadable("unusable answer: " + err.Error())
		}
	}
	return nil
}

// answerChecker is implemented by answers that can be decoded yet useless, such as a payment
// without an id: better an error than an order tied to no payment.
type answerChecker interface {
	checkAnswer() error
}

func (p *Payment) checkAnswer() error {
	if p.ID == "" {
		return errors.New("payment has no id")
	}
	return nil
}

func (t *Transaction) checkAnswer() error {
	if t.ID == "" {
		return errors.New("transaction has no id")
	}
	return nil
}

// backoff is how long to wait before the attempt after attempt: a random duration up to
// BaseBackoff doubled per attempt and capped by MaxBackoff ("full jitter"), or what the server
// asked for in Retry-After, capped by MaxBackoff.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.maxBackoff)
	}
	ceiling := c.maxBackoff
	if attempt-1 < 32 {
		if d := c.baseBackoff << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// endpoint joins base, path and query into an absolute URL.
func endpoint(base, path string, query url.Values) string {
	if len(query) == 0 {
		return base + path
	}
	return base + path + "?" + query.Encode()
}

// ValidRequestID reports whether id may travel as a request id: 1 to 128 letters, digits and
// ".", "_", ":", "-". The server keeps a proxy's X-Request-Id only if it is valid, and the client
// sends one only if it is (a webhook's id, which Banq chose, is part of the worker's ids, and a bad
// one must not fail the call it only labels).
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
