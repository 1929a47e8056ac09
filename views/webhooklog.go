package views

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
)

// CountdownFrom is how close to its expiry the customer page starts counting down.
const CountdownFrom = 10 * time.Minute

// WebhookLogView is the merchant's log of received webhooks, newest first.
type WebhookLogView struct {
	Webhooks   []checkout.InboxWebhook
	Rejected   []checkout.RejectedWebhook
	OrderID    int64 // only this order's webhooks; 0 for all
	Before     int64
	More       bool
	NextBefore int64
	Message    string // the outcome of a reprocess
}

// WebhookView is one received webhook.
type WebhookView struct {
	Webhook checkout.InboxWebhook
	Message string
}

// expiryText is the order's expiry for the customer, true without JavaScript: a countdown in
// its last minutes, the minutes left and the time (in the shop's zone) before. pay.js keeps it
// running from the same messages, with the time in the reader's zone.
func expiryText(ctx context.Context, v PayView) string {
	p := locale.From(ctx)
	left := v.Order.ExpiresAt.Sub(v.Now)
	switch {
	case left <= 0:
		return p.T("expiry_expired")
	case left <= CountdownFrom:
		return p.T("expiry_countdown", "Clock", clock(left))
	}
	return p.N("expiry_minutes", int((left+time.Minute-1)/time.Minute), "Time", p.Clock(v.Order.ExpiresAt))
}

// minuteForms are expiry_minutes in each plural form of the reader's language, for pay.js.
func minuteForms(ctx context.Context) string {
	b, err := json.Marshal(locale.From(ctx).Forms("expiry_minutes", "Time", "{time}"))
	if err != nil {
		return "{}"
	}
	return string(b)
}

// backNote is the return-to-shop countdown's sentence around its seconds, which pay.js counts.
func backNote(ctx context.Context) [2]string {
	before, after, _ := strings.Cut(locale.From(ctx).T("back_note", "Seconds", "\x00"), "\x00")
	return [2]string{before, after}
}

func countdownSeconds() string { return strconv.Itoa(int(CountdownFrom.Seconds())) }

// clock formats a duration as m:ss, rounded up to the second.
func clock(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func expiryClass(v PayView) string {
	if v.Order.ExpiresAt.Sub(v.Now) <= CountdownFrom {
		return "expiry soon"
	}
	return "expiry"
}

// ordersQuery is the list's filter as a query string (without paging).
func ordersQuery(v OrdersView) url.Values {
	q := url.Values{}
	if v.State != "" {
		q.Set("state", v.State)
	}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.From != "" {
		q.Set("from", v.From)
	}
	if v.To != "" {
		q.Set("to", v.To)
	}
	return q
}

// csvURL exports what the list shows, every page of it.
func csvURL(v OrdersView) string {
	if q := ordersQuery(v).Encode(); q != "" {
		return "/orders.csv?" + q
	}
	return "/orders.csv"
}

func orderURL(id int64) string { return "/orders/" + strconv.FormatInt(id, 10) }

func webhookURL(id string) string { return "/webhook-log/" + url.PathEscape(id) }

func nextWebhooksURL(v WebhookLogView) string {
	q := url.Values{}
	if v.OrderID != 0 {
		q.Set("order", strconv.FormatInt(v.OrderID, 10))
	}
	q.Set("before", strconv.FormatInt(v.NextBefore, 10))
	return "/webhook-log?" + q.Encode()
}

// webhookOutcome is what became of a webhook, in a word or two.
func webhookOutcome(w checkout.InboxWebhook) string {
	switch w.Status {
	case checkout.WebhookApplied:
		return "applied"
	case checkout.WebhookIgnored:
		return "ignored"
	case checkout.WebhookFailed:
		return "failed"
	case checkout.WebhookPending:
		if w.Attempts > 0 {
			return "retrying"
		}
		return "pending"
	}
	return w.Status
}

func outcomeClass(w checkout.InboxWebhook) string {
	switch w.Status {
	case checkout.WebhookApplied:
		return "state state-paid"
	case checkout.WebhookFailed:
		return "state state-failed"
	case checkout.WebhookIgnored:
		return "state state-expired"
	}
	return "state"
}

// duplicates says how many more times the same webhook was delivered.
func duplicates(w checkout.InboxWebhook) string {
	if w.Duplicates == 1 {
		return "duplicate ×1: delivered again, ignored"
	}
	return "duplicate ×" + strconv.Itoa(w.Duplicates) + ": delivered again, ignored"
}
