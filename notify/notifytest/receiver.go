// Package notifytest is a shop's notification receiver for tests. It checks signatures with
// code written from the Standard Webhooks specification's text, apart from the sender's own, so
// that a mistake shared by both sides cannot pass.
package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/notify"
)

// VerifySpec verifies a message as the specification describes it: the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}"; the key is the base64-decoded part of the secret
// after "whsec_"; the signature is HMAC-SHA256, base64-encoded, prefixed "v1,"; the header may
// hold several, space-delimited; the timestamp must be within five minutes of now.
func VerifySpec(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// Request is one request the receiver got.
type Request struct {
	ID     string // webhook-id
	Body   notify.Body
	Status int // what the receiver answered
}

// Receiver is a shop's endpoint on loopback.
type Receiver struct {
	URL string
	t   testing.TB
	mu  sync.Mutex
	// Answer decides the status of each verified request, given how many requests with the same
	// webhook-id came before it; nil answers 204. It may block (a delivery in flight).
	Answer func(r Request, seen int) int
	secret string
	log    []Request
	srv    *httptest.Server
}

// New starts a receiver that verifies with secret (SetSecret may set it later).
func New(t testing.TB) *Receiver {
	r := &Receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// SetSecret sets the secret that messages must be signed with.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	if err := VerifySpec(secret, req.Header, body, time.Now()); err != nil {
		r.t.Errorf("the shop could not verify a notification: %v", err)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	in := Request{ID: req.Header.Get("webhook-id")}
	if err := json.Unmarshal(body, &in.Body); err != nil {
		r.t.Errorf("notification body: %v", err)
	}
	r.mu.Lock()
	seen := 0
	for _, l := range r.log {
		if l.ID == in.ID {
			seen++
		}
	}
	answer := r.Answer
	r.mu.Unlock()
	in.Status = http.StatusNoContent
	if answer != nil {
		in.Status = answer(in, seen)
	}
	r.mu.Lock()
	r.log = append(r.log, in)
	r.mu.Unlock()
	w.WriteHeader(in.Status)
}

// Requests returns every request so far, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log...)
}

// Delivered returns the messages answered 2xx, once each, by webhook-id.
func (r *Receiver) Delivered() map[string]notify.Body {
	out := map[string]notify.Body{}
	for _, l := range r.Requests() {
		if l.Status/100 == 2 {
			out[l.ID] = l.Body
		}
	}
	return out
}

// WaitDelivered waits until n distinct messages were answered 2xx, and returns them.
func (r *Receiver) WaitDelivered(n int, timeout time.Duration) map[string]notify.Body {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := r.Delivered()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				r.t.Fatalf("the shop got %d notifications within %v, want %d: %+v", len(got), timeout, n, r.Requests())
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
