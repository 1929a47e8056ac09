package notify

import (
	"encoding/json"
	"time"

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

// Body is a notification's JSON, in the Standard Webhooks shape: the type, the time, and the
// order as it was when the change committed.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      OrderData `json:"data"`
}

// OrderData is the order as a shop sees it. Seq grows with every change of the order, so a
// receiver drops a notification whose seq is below one it has already applied (deliveries are
// at least once and not in order).
type OrderData struct {
	ID          int64      `json:"id"`
	Number      string     `json:"number"`
	State       string     `json:"state"`
	Amount      string     `json:"amount"`
	Description string     `json:"description"`
	FailReason  string     `json:"fail_reason,omitempty"`
	Late        bool       `json:"late"`
	PaymentID   string     `json:"payment_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	Seq         int64      `json:"seq"`
}

// NewBody is the notification of type t about o at time at.
func NewBody(t string, at time.Time, o checkout.Order) Body {
	d := OrderData{
		ID: o.ID, Number: o.Number(), State: string(o.State), Amount: o.Amount.String(),
		Description: o.Description, FailReason: string(o.FailReason), Late: o.Late,
		PaymentID: o.PaymentID, CreatedAt: o.CreatedAt.UTC(), ExpiresAt: o.ExpiresAt.UTC(), Seq: o.LastSeq,
	}
	if !o.PaidAt.IsZero() {
		p := o.PaidAt.UTC()
		d.PaidAt = &p
	}
	return Body{Type: t, Timestamp: at.UTC(), Data: d}
}

// JSON encodes b; it cannot fail for these types.
func (b Body) JSON() []byte {
	out, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	return out
}
