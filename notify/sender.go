package notify

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Job is a delivery this sender, and no other, is attempting now (see SenderStore.ClaimDeliveries),
// with what the attempt needs.
type Job struct {
	Delivery
	Endpoint Endpoint
	Snapshot []byte // the stored notification (see Snapshot)
	Lease    string // the claim's token: the outcome is recorded only under it
}

// Outcome is what one attempt leaves behind.
type Outcome struct {
	Attempt Attempt
	Status  string    // the delivery's new status
	Next    time.Time // the next attempt, when Status is pending
	// Disable, when set, disables the endpoint with this reason (410 Gone, or failing for days).
	Disable string
}

// SenderStore is the persistence a Sender needs (store.DB implements it).
type SenderStore interface {
	// ClaimDeliveries leases up to limit pending deliveries due at now, to enabled endpoints,
	// that no other sender (in this instance or another) holds, until now+lease.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Job, error)
	// FinishDelivery records an attempt's outcome, if the job's lease is still this sender's.
	FinishDelivery(ctx context.Context, j Job, o Outcome) error
	// ReleaseDelivery gives the job back untried (shutdown).
	ReleaseDelivery(ctx context.Context, j Job) error
}

// Schedule is the wait after each failed attempt, as Svix's: at once, 5 s, 5 min, 30 min, 2 h,
// 5 h, 10 h, 10 h; about three days in all. After the last, the delivery has failed.
var Schedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// SenderConfig tunes a Sender; zero values take the defaults.
type SenderConfig struct {
	Policy       Policy
	PublicURL    string          // the checkout's base URL, for the orders' pay_url
	Currency     string          // the shop's currency (ISO 4217) the orders' amounts are in; USD when empty
	Timeout      time.Duration   // one attempt, answer included; 15s
	Schedule     []time.Duration // the retry schedule; Schedule
	DisableAfter time.Duration   // an endpoint failing this long with no success is disabled; 5 days
	Workers      int             // attempts at once; 4
	Poll         time.Duration   // how often to look for due deliveries without a wake; 1s
	Now          func() time.Time
	Logger       *slog.Logger
}

// Sender delivers queued notifications to the shops' endpoints, at least once.
type Sender struct {
	cfg    SenderConfig
	store  SenderStore
	client *http.Client
	wake   chan struct{}
}

// MaxResponse is how much of an endpoint's answer is read: enough to show in the delivery log,
// never so much that a hostile endpoint can make the sender hold a large body.
const MaxResponse = 4 << 10

// NewSender returns a Sender over st.
func NewSender(cfg SenderConfig, st SenderStore) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Schedule
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the address checked must be the endpoint's, not a proxy's
	tr.DialContext = cfg.Policy.DialContext(&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second})
	tr.MaxIdleConnsPerHost = cfg.Workers
	tr.ResponseHeaderTimeout = cfg.Timeout
	client := &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is an answer, not a success: following it could lead the delivery to an
		// address the endpoint check never saw.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{cfg: cfg, store: st, client: client, wake: make(chan struct{}, 1)}
}

// Wake makes the sender look for due deliveries now (a change was committed).
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lease outlives the longest attempt (the client's timeout bounds it), so a claim held by a live
// sender never runs out under it; a dead sender's runs out soon after.
func (s *Sender) lease() time.Duration { return s.cfg.Timeout + 10*time.Second }

// Run delivers until ctx ends; attempts under way then are given back, untried or unrecorded,
// and are made again later (delivery is at least once).
func (s *Sender) Run(ctx context.Context) error {
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := s.cfg.Workers - len(sem)
		if free > 0 {
			jobs, err := s.store.ClaimDeliveries(ctx, s.cfg.Now(), s.lease(), free)
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("claim notification deliveries", "err", err)
			}
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem; s.Wake() }()
					s.attempt(ctx, j)
				}()
			}
			if len(jobs) == free {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		case <-time.After(s.cfg.Poll):
		}
	}
}

func (s *Sender) attempt(ctx context.Context, j Job) {
	o := s.Deliver(ctx, j)
	if ctx.Err() != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.store.ReleaseDelivery(rctx, j); err != nil {
			s.cfg.Logger.Warn("release notification delivery", "delivery_id", j.ID, "err", err)
		}
		return
	}
	if err := s.store.FinishDelivery(context.WithoutCancel(ctx), j, o); err != nil {
		s.cfg.Logger.Error("record notification attempt", "delivery_id", j.ID, "err", err)
		return
	}
	log := s.cfg.Logger.With("delivery_id", j.ID, "message_id", j.MessageID, "endpoint_id", j.Endpoint.ID,
		"type", j.Type, "order_id", j.OrderID, "attempt", j.Attempts+1, "status", o.Attempt.Status)
	switch {
	case o.Attempt.Error == "":
		log.Info("notification delivered")
	case o.Disable != "":
		log.Warn("notification endpoint disabled", "reason", o.Disable, "err", o.Attempt.Error)
	default:
		log.Warn("notification not delivered", "err", o.Attempt.Error, "delivery_status", o.Status, "next", o.Next)
	}
}

// Deliver makes one attempt at j and says what follows from it. It does not record anything.
func (s *Sender) Deliver(ctx context.Context, j Job) Outcome {
	start := s.cfg.Now()
	a := Attempt{DeliveryID: j.ID, At: start}
	a.Status, a.Response, a.Error = s.post(ctx, j, start)
	a.Duration = s.cfg.Now().Sub(start)
	o := Outcome{Attempt: a, Status: DeliverySucceeded}
	if a.Error == "" {
		return o
	}
	if a.Status == http.StatusGone {
		o.Status, o.Disable = DeliveryFailed, "The endpoint answered 410 Gone."
		return o
	}
	n := j.Attempts + 1 // attempts made, this one included
	if n >= len(s.cfg.Schedule) {
		o.Status = DeliveryFailed
	} else {
		o.Status, o.Next = DeliveryPending, start.Add(jitter(s.cfg.Schedule[n]))
	}
	if f := j.Endpoint.FailingSince; !f.IsZero() && start.Sub(f) >= s.cfg.DisableAfter {
		o.Disable = fmt.Sprintf("Every delivery failed for %s.", days(start.Sub(f)))
	}
	return o
}

// jitter spreads retries by ±10%, so that an endpoint coming back is not met by every retry at
// the same instant.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

func days(d time.Duration) string {
	if n := int(d.Hours() / 24); n >= 2 {
		return fmt.Sprintf("%d days", n)
	}
	return d.Round(time.Minute).String()
}

// post sends the message and returns the answer's status, the start of its body, and why the
// attempt failed ("" for a 2xx).
func (s *Sender) post(ctx context.Context, j Job, at time.Time) (int, string, string) {
	body, err := Render(j.Snapshot, s.cfg.PublicURL, cmp.Or(s.cfg.Currency, "USD"))
	if err != nil {
		return 0, "", err.Error()
	}
	sig, err := Sign(j.MessageID, at, body, j.Endpoint.Secrets(at)...)
	if err != nil {
		return 0, "", err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", "The URL cannot be used: " + err.Error()
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "banq-checkout-notifications/1")
	h.Set(HeaderID, j.MessageID)
	h.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
	h.Set(HeaderSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", describe(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	text := strings.ToValidUTF8(string(answer), "\uFFFD")
	if len(text) > 1024 {
		text = text[:1024]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, text, ""
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.StatusCode, text, fmt.Sprintf("The endpoint answered %d (redirects are not followed; give its final URL).", resp.StatusCode)
	}
	return resp.StatusCode, text, fmt.Sprintf("The endpoint answered %d.", resp.StatusCode)
}

// describe says why no answer came, in words a merchant can act on.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrAddress):
		return "Refused: the URL leads to a private, loopback or link-local address."
	case errors.As(err, &ne) && ne.Timeout():
		return "No answer within the time limit."
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return "Could not connect: " + oe.Err.Error()
	}
	return "No answer: " + err.Error()
}
