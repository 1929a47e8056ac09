package notify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/banq-checkout/checkout/api"
	"github.com/banq-checkout/checkout/checkout"
)

// Event types a shop can subscribe to.
const (
	OrderCreated     = "order.created"
	OrderPaid        = "order.paid"
	OrderDeclined    = "order.declined"
	OrderFailed      = "order.failed"
	OrderCanceled    = "order.canceled"
	OrderExpired     = "order.expired"
	OrderLatePayment = "order.late_payment"
)

// EventTypes lists every event type, in the order the merchant's page offers them.
var EventTypes = []string{OrderCreated, OrderPaid, OrderDeclined, OrderFailed, OrderCanceled, OrderExpired, OrderLatePayment}

// ValidType reports whether t is a known event type.
func ValidType(t string) bool {
	for _, v := range EventTypes {
		if v == t {
			return true
		}
	}
	return false
}

// TypeFor returns the event type that an order's change calls for, or "" for none. prev is the
// order's state before the change ("" when the order was just created). Only arrivals in a
// state the shop acts on are told: a payment that completes after the order had expired or been
// canceled here is a late payment, which the shop must handle apart (the goods may be gone).
func TypeFor(prev checkout.State, o checkout.Order) string {
	if prev == "" {
		return OrderCreated
	}
	if prev == o.State {
		return ""
	}
	switch o.State {
	case checkout.StatePaid:
		if o.Late || prev == checkout.StateExpired || prev == checkout.StateCanceled {
			return OrderLatePayment
		}
		return OrderPaid
	case checkout.StateDeclined:
		return OrderDeclined
	case checkout.StateFailed, checkout.StateRejected:
		return OrderFailed
	case checkout.StateCanceled:
		return OrderCanceled
	case checkout.StateExpired:
		return OrderExpired
	}
	return ""
}

// Body is a notification as the shop receives it, in the Standard Webhooks shape: the type,
// the time of the change, and the order as the API shows it, as the change committed it.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      api.Order `json:"data"`
}

// Snapshot is what the outbox keeps of a notification: its type, the time, and the order as
// the change committed it. It is rendered into a Body when sent (Render), so that the
// deployment's public URL, which the store does not know, is the one of the moment.
type Snapshot struct {
	Type  string         `json:"type"`
	At    time.Time      `json:"at"`
	Order checkout.Order `json:"order"`
}

// NewSnapshot is the notification of type t about o at time at.
func NewSnapshot(t string, at time.Time, o checkout.Order) Snapshot {
	return Snapshot{Type: t, At: at.UTC(), Order: o}
}

// JSON encodes s; it cannot fail for these types.
func (s Snapshot) JSON() []byte {
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return out
}

// Render turns a stored snapshot into the body sent to the shop; publicURL is the checkout's
// base URL, for the order's pay_url, and currency the shop's.
func Render(snapshot []byte, publicURL, currency string) ([]byte, error) {
	var s Snapshot
	if err := json.Unmarshal(snapshot, &s); err != nil {
		return nil, fmt.Errorf("notify: stored notification: %w", err)
	}
	return json.Marshal(Body{Type: s.Type, Timestamp: s.At, Data: api.NewOrder(s.Order, publicURL, currency)})
}
